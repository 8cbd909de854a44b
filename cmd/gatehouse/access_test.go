package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	main "gatehouse/cmd/gatehouse"
)

// notFound is what a client sees for a repository it may not read, and
// for one that does not exist: the two must not be told apart.
const notFound = "not found or access denied"

func TestAccessRules(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	bob := s.User("bob")
	carol := s.User("carol")
	root := s.User("root", "--admin")
	stranger := NewKey(t) // registered to nobody
	work := Work(t, "main", 1)
	for _, r := range []string{"alice/private", "alice/public"} {
		args := []string{"repo", "create", r}
		if strings.HasSuffix(r, "public") {
			args = append(args, "--public")
		}
		s.MustCLI(args...)
		s.MustGit(alice, work, "push", s.URL(r), "main")
	}
	s.MustCLI("collab", "add", "alice/private", "bob", "read")
	s.MustCLI("collab", "add", "alice/private", "carol", "write")

	type step struct {
		name   string
		key    *Key
		op     string // clone or push
		repo   string
		ok     bool
		expect string // in the output when refused
	}
	steps := []step{
		{"owner clones private", alice, "clone", "alice/private", true, ""},
		{"read collaborator clones", bob, "clone", "alice/private", true, ""},
		{"read collaborator pushes", bob, "push", "alice/private", false, "you may read alice/private but not push to it"},
		{"write collaborator pushes", carol, "push", "alice/private", true, ""},
		{"site admin pushes", root, "push", "alice/private", true, ""},
		{"known user clones public", bob, "clone", "alice/public", true, ""},
		{"known user pushes public", bob, "push", "alice/public", false, "not push to it"},
		{"missing repository", bob, "clone", "alice/nothing", false, "repository alice/nothing " + notFound},
		{"unknown key", stranger, "clone", "alice/public", false, "Permission denied"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			var out string
			var err error
			if st.op == "clone" {
				out, err = s.Git(st.key, "", "clone", s.URL(st.repo), filepath.Join(t.TempDir(), "c"))
			} else {
				Commits(t, work, "p", 1)
				out, err = s.Git(st.key, work, "push", s.URL(st.repo), "HEAD:refs/heads/"+strings.ReplaceAll(st.name, " ", "-"))
			}
			if st.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !st.ok && (err == nil || !strings.Contains(out, st.expect)) {
				t.Fatalf("err = %v, want refusal with %q:\n%s", err, st.expect, out)
			}
		})
	}

	// A stranger learns nothing: a private repository and a missing one
	// answer the same, byte for byte.
	_, e1, c1 := s.SSH(carol, nil, "git-upload-pack 'alice/nothing'")
	s.MustCLI("collab", "rm", "alice/private", "carol")
	_, e2, c2 := s.SSH(carol, nil, "git-upload-pack 'alice/private'")
	if c1 == 0 || c2 == 0 || strings.ReplaceAll(e1, "nothing", "X") != strings.ReplaceAll(e2, "private", "X") {
		t.Fatalf("missing vs private differ:\n%q (%d)\n%q (%d)", e1, c1, e2, c2)
	}

	// Disabling a user refuses their key at once; enabling restores it.
	s.MustCLI("user", "disable", "bob")
	if out, err := s.Git(bob, "", "clone", s.URL("alice/public"), filepath.Join(t.TempDir(), "c")); err == nil || !strings.Contains(out, "Permission denied") {
		t.Fatalf("disabled user cloned: %v\n%s", err, out)
	}
	s.MustCLI("user", "enable", "bob")
	s.MustGit(bob, "", "clone", s.URL("alice/public"), filepath.Join(t.TempDir(), "c"))

	for _, r := range []string{"alice/private", "alice/public"} {
		s.Fsck(r)
	}
	audit := s.MustCLI("audit", "--limit", "1000")
	for _, want := range []string{"login.refused", "refused", "push", "collab.set", "repo.create"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %q:\n%s", want, audit)
		}
	}
}

func TestAnonymousRead(t *testing.T) {
	s := MustRunMain(t, func(c *main.Config) { c.AnonRead = true })
	alice := s.User("alice")
	anon := NewKey(t)
	work := Work(t, "main", 1)
	s.MustCLI("repo", "create", "alice/open", "--public")
	s.MustGit(alice, work, "push", s.URL("alice/open"), "main")
	s.MustGit(alice, work, "push", s.URL("alice/closed"), "main")

	s.MustGit(anon, "", "clone", s.URL("alice/open"), filepath.Join(t.TempDir(), "c"))
	if out, err := s.Git(anon, "", "clone", s.URL("alice/closed"), filepath.Join(t.TempDir(), "c")); err == nil || !strings.Contains(out, notFound) {
		t.Fatalf("anonymous cloned a private repository: %v\n%s", err, out)
	}
	if out, err := s.Git(anon, work, "push", s.URL("alice/open"), "main:refs/heads/anon"); err == nil || !strings.Contains(out, "not push") {
		t.Fatalf("anonymous pushed: %v\n%s", err, out)
	}
	if out, _, _ := s.SSH(anon, nil, "whoami"); strings.TrimSpace(out) != "anonymous" {
		t.Fatalf("whoami = %q", out)
	}
}

// Paths that are not OWNER/NAME are refused before anything touches the
// disk, and an absolute path never reaches outside the repositories.
func TestOddPaths(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	work := Work(t, "main", 1)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	// Something that exists outside the repositories folder, by a path a
	// client might try.
	outside := filepath.Join(s.Data, "alice", "r.git")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}

	for _, p := range []string{
		"'../alice/r'", "'alice/../alice/r'", "'alice/r/extra'", "'alice'", "''",
		"'/alice/r/../../../etc/passwd'", "'alice/r\\x00'", "'alice//r'", "'.git'",
		"'../../" + filepath.Base(s.Data) + "/alice/r'", "'" + s.RepoDir("alice/r") + "'",
	} {
		for _, svc := range []string{"git-upload-pack", "git-receive-pack"} {
			_, stderr, code := s.SSH(alice, nil, svc+" "+p)
			if code == 0 || !strings.Contains(stderr, "ERROR") {
				t.Errorf("%s %s: exit %d, stderr %q", svc, p, code, stderr)
			}
		}
	}
	// /etc/passwd is just the repository etc/passwd, which does not exist.
	_, stderr, code := s.SSH(alice, nil, "git-upload-pack '/etc/passwd'")
	if code == 0 || !strings.Contains(stderr, "repository etc/passwd "+notFound) {
		t.Errorf("/etc/passwd: exit %d, %q", code, stderr)
	}
	// The ordinary spellings all reach the same repository.
	for _, u := range []string{
		"ssh://git@127.0.0.1:" + s.Port + "/alice/r",
		"ssh://git@127.0.0.1:" + s.Port + "/alice/r.git/",
		"ssh://git@127.0.0.1:" + s.Port + "/~alice/r",
	} {
		s.MustGit(alice, "", "ls-remote", u)
	}
	entries, _ := os.ReadDir(filepath.Join(s.Data, "repos"))
	if len(entries) != 1 || entries[0].Name() != "alice" {
		t.Fatalf("repositories folder holds %v", entries)
	}
	s.Fsck("alice/r")
}
