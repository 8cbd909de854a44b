package main_test

import (
	"path/filepath"
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
