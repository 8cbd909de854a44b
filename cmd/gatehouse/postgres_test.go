package main_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	main "gatehouse/cmd/gatehouse"
	"gatehouse/gittest"
)

// serve --db postgres://... keeps its metadata in PostgreSQL: users and
// keys added with the command line (--db too), a push and a clone with
// the real git, the audit log; a second server on the same data folder
// and database (a second node) knows the same user and repository.
func TestPostgres_Serve(t *testing.T) {
	url := gittest.PostgresURL(t)
	s := MustRunMain(t, func(c *main.Config) { c.DB = url })
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/r")
	work := Work(t, "main", 3)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	s.Fsck("alice/r")

	// Nothing went to a SQLite file.
	if matches, _ := filepath.Glob(filepath.Join(s.Data, "gatehouse.db*")); len(matches) != 0 {
		t.Fatalf("SQLite files in the data folder: %v", matches)
	}

	node := MustRunMain(t, func(c *main.Config) { c.Data, c.DB = s.Data, url })
	dst := t.TempDir()
	node.MustGit(alice, dst, "clone", node.URL("alice/r"), "c")
	if got, want := run(t, filepath.Join(dst, "c"), "git", "rev-parse", "HEAD"), run(t, work, "git", "rev-parse", "HEAD"); got != want {
		t.Fatalf("clone through the second node: HEAD %s, want %s", got, want)
	}
	// The key added through one handle is refused through the other once
	// removed there.
	s.MustCLI("user", "disable", "alice")
	if out, err := node.Git(alice, dst, "ls-remote", node.URL("alice/r")); err == nil {
		t.Fatalf("a disabled user read through the second node:\n%s", out)
	}
	log := s.MustCLI("audit")
	for _, want := range []string{"user.create", "push", "alice/r"} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(s.Log.String(), "password") {
		t.Errorf("the log mentions a password:\n%s", s.Log.String())
	}
}

// migrate-db copies a running SQLite installation into PostgreSQL: every
// table, counts checked and printed; serve --db on the same data folder
// then lets the migrated user clone with the real ssh and git, and new
// rows get new ids. A second copy into the now non-empty database is
// refused and changes nothing.
func TestMigrateDB(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	s.User("bob")
	s.MustCLI("org", "create", "acme")
	s.MustCLI("repo", "create", "alice/r")
	s.MustCLI("collab", "add", "alice/r", "bob", "write")
	s.MustCLI("webhook", "add", "alice/r", "http://127.0.0.1:1/hook", "--secret", "s3")
	s.MustCLI("token", "create", "alice", "--name", "ci")
	work := Work(t, "main", 2)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")

	url := gittest.PostgresURL(t)
	if out, err := s.CLI("migrate-db", "--from", "sqlite:"+filepath.Join(s.Data, "missing.db"), "--to", url); err == nil {
		t.Fatalf("migrate-db from a missing file succeeded:\n%s", out)
	}
	// The server is still running: the copy is one read transaction.
	out := s.MustCLI("migrate-db", "--from", "sqlite:"+filepath.Join(s.Data, "gatehouse.db"), "--to", url)
	for _, want := range []string{`users +4 rows` /* the bootstrap admin, alice, bob, acme */, `public_keys +2 rows`, `repos +1 rows`, `collaborators +1 rows`,
		`webhooks +1 rows`, `api_tokens +1 rows`, `orgs +1 rows`, `audit_log +[1-9]\d* rows`} {
		if !regexp.MustCompile(`(?m)^` + want + `$`).MatchString(out) {
			t.Errorf("migrate-db output lacks %q:\n%s", want, out)
		}
	}

	node := MustRunMain(t, func(c *main.Config) { c.Data, c.DB = s.Data, url })
	dst := t.TempDir()
	node.MustGit(alice, dst, "clone", node.URL("alice/r"), "c")
	if got, want := run(t, filepath.Join(dst, "c"), "git", "rev-parse", "HEAD"), run(t, work, "git", "rev-parse", "HEAD"); got != want {
		t.Fatalf("clone after the migration: HEAD %s, want %s", got, want)
	}
	// The SQLite file left in the data folder is pointed out.
	if !strings.Contains(node.Log.String(), "leaves unused") {
		t.Errorf("no warning about the SQLite file in the data folder:\n%s", node.Log.String())
	}
	if list := node.MustCLI("webhook", "list", "alice/r"); !strings.Contains(list, "http://127.0.0.1:1/hook") {
		t.Errorf("webhook list after the migration:\n%s", list)
	}
	// New rows get ids past the copied ones.
	node.User("carol")
	node.MustCLI("repo", "create", "carol/new")
	if log := node.MustCLI("audit", "--user", "alice"); !strings.Contains(log, "push") {
		t.Errorf("the copied audit log lacks alice's push:\n%s", log)
	}

	before := node.MustCLI("user", "list")
	out, err := s.CLI("migrate-db", "--from", "sqlite:"+filepath.Join(s.Data, "gatehouse.db"), "--to", url)
	if err == nil || !strings.Contains(out, "not empty") {
		t.Fatalf("a second copy into a non-empty database: %v\n%s", err, out)
	}
	if after := node.MustCLI("user", "list"); after != before || !strings.Contains(after, "carol") {
		t.Fatalf("users after the refused copy:\n%s\nbefore:\n%s", after, before)
	}
}

// On PostgreSQL, check and backup work with --db: the backup's database
// is a SQLite file, so backup verify and restore work as they do for
// SQLite; the restored folder serves on SQLite, and migrate-db loads it
// into a new PostgreSQL database, which serves it again.
func TestPostgres_CheckBackupRestore(t *testing.T) {
	url := gittest.PostgresURL(t)
	s := MustRunMain(t, func(c *main.Config) { c.DB = url })
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/r")
	work := Work(t, "main", 2)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	if out := s.MustCLI("check"); !strings.Contains(out, "no problems found") {
		t.Fatalf("check on PostgreSQL:\n%s", out)
	}

	dest := filepath.Join(t.TempDir(), "backup")
	s.MustCLI("backup", dest)
	if out := s.MustCLI("backup", "verify", dest); !strings.Contains(out, "1 repositories") {
		t.Fatalf("verify said:\n%s", out)
	}
	restored := filepath.Join(t.TempDir(), "data")
	if out, code := runCLI(t, "restore", dest, "--data", restored); code != 0 {
		t.Fatalf("restore: exit %d\n%s", code, out)
	}
	lite := MustRunMain(t, func(c *main.Config) { c.Data = restored })
	head := run(t, work, "git", "rev-parse", "HEAD")
	if out := lite.MustGit(alice, "", "ls-remote", lite.URL("alice/r")); !strings.Contains(out, head+"\trefs/heads/main") {
		t.Fatalf("the restored folder on SQLite serves\n%s", out)
	}

	again := gittest.PostgresURL(t)
	lite.MustCLI("migrate-db", "--from", "sqlite:"+filepath.Join(restored, "gatehouse.db"), "--to", again)
	pg := MustRunMain(t, func(c *main.Config) { c.Data, c.DB = restored, again })
	if out := pg.MustGit(alice, "", "ls-remote", pg.URL("alice/r")); !strings.Contains(out, head+"\trefs/heads/main") {
		t.Fatalf("the restored folder on PostgreSQL serves\n%s", out)
	}
}
