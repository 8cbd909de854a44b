package main_test

import (
	"path/filepath"
	"testing"
)

// ssh://host//owner/name.git (as some tools and people write it) sends
// "//owner/name.git"; like other Git hosts, any number of leading slashes
// reaches the same repository, for fetch and push alike.
func TestLeadingSlashes(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	work := Work(t, "main", 2)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	want := run(t, work, "git", "rev-parse", "main")
	for _, u := range []string{
		"ssh://git@127.0.0.1:" + s.Port + "//alice/r.git",
		"ssh://git@127.0.0.1:" + s.Port + "///alice/r",
		"ssh://git@127.0.0.1:" + s.Port + "//~alice/r.git",
	} {
		dir := filepath.Join(t.TempDir(), "clone")
		s.MustGit(alice, "", "clone", "-q", u, dir)
		if got := run(t, dir, "git", "rev-parse", "HEAD"); got != want {
			t.Errorf("clone %s: HEAD %s, want %s", u, got, want)
		}
	}
	Commits(t, work, "more", 1)
	s.MustGit(alice, work, "push", "ssh://git@127.0.0.1:"+s.Port+"//alice/r.git", "main")
	if got, want := run(t, s.RepoDir("alice/r"), "git", "rev-parse", "refs/heads/main"), run(t, work, "git", "rev-parse", "main"); got != want {
		t.Fatalf("push over //: main = %s, want %s", got, want)
	}
	s.Fsck("alice/r")
}
