package main_test

import (
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	main "gatehouse/cmd/gatehouse"
)

// smallDisk returns a folder on a file system of size bytes of its own:
// a tmpfs mounted for the test. That takes root; as anyone else the
// test runs again as root of a user and mount namespace of its own
// (unshare -rm), where it may mount, so it never skips.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).Run(); err != nil {
		t.Fatalf("mount a %s tmpfs on %s (needs root or unshare -rm): %v", size, dir, err)
	}
	t.Cleanup(func() {
		if err := exec.Command("umount", "-l", dir).Run(); err != nil {
			t.Errorf("umount %s: %v", dir, err)
		}
	})
	return dir
}

// inOwnNamespace runs the test again as root of a namespace of its own
// when it is not root, and says whether it did (the caller then
// returns: the run in the namespace was the test).
func inOwnNamespace(t *testing.T) bool {
	if os.Getuid() == 0 {
		return false
	}
	cmd := exec.Command("unshare", "-rm", os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("not root, and running as root of a namespace of its own (unshare -rm) failed: %v\n%s", err, out)
	}
	t.Logf("ran in a namespace of its own:\n%s", out)
	return true
}

// A push that fills the disk is refused cleanly: the client reads why,
// nothing of it stays (no quarantine, no pack, no ref moved), clones
// still work while the disk is full, and once there is room again the
// next push goes in.
func TestPushOnFullDisk(t *testing.T) {
	if inOwnNamespace(t) {
		return
	}
	data := smallDisk(t, "6m")
	s := MustRunMain(t, func(c *main.Config) { c.Data = data })
	alice := s.User("alice")
	work := Work(t, "main", 2)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	before := run(t, work, "git", "rev-parse", "main")
	repo := s.RepoDir("alice/r")
	packs := func() []string {
		m, _ := filepath.Glob(filepath.Join(repo, "objects", "pack", "*"))
		return m
	}
	packsBefore := packs()

	big := make([]byte, 8<<20) // more than the whole disk, incompressible
	rand.Read(big)
	os.WriteFile(filepath.Join(work, "big.bin"), big, 0o644)
	run(t, work, "git", "add", "big.bin")
	run(t, work, "git", "commit", "-q", "-m", "big")
	out, err := s.Git(alice, work, "push", s.URL("alice/r"), "main")
	if err == nil {
		t.Fatalf("a push larger than the disk succeeded:\n%s", out)
	}
	if !strings.Contains(out, "the server's disk is full") {
		t.Fatalf("the client was told:\n%s", out)
	}
	if got := run(t, repo, "git", "rev-parse", "refs/heads/main"); got != before {
		t.Fatalf("main moved to %s", got)
	}
	if q, _ := filepath.Glob(filepath.Join(repo, "objects", "tmp_objdir-*")); len(q) != 0 {
		t.Fatalf("quarantine left: %v", q)
	}
	if got := packs(); strings.Join(got, " ") != strings.Join(packsBefore, " ") {
		t.Fatalf("packs changed:\n%v\n%v", packsBefore, got)
	}
	s.Fsck("alice/r")

	// Full to the last byte: reads go on.
	filler := filepath.Join(data, "filler")
	fill(t, filler)
	clone := filepath.Join(t.TempDir(), "c")
	s.MustGit(alice, "", "clone", "-q", s.URL("alice/r"), clone)
	if got := run(t, clone, "git", "rev-parse", "HEAD"); got != before {
		t.Fatalf("clone on a full disk has %s, want %s", got, before)
	}
	small := Work(t, "main", 1)
	if out, err := s.Git(alice, small, "push", s.URL("alice/r2"), "main"); err == nil {
		t.Fatalf("push to a full disk succeeded:\n%s", out)
	}

	// Room again: pushes go in, and check finds nothing wrong.
	os.Remove(filler)
	run(t, work, "git", "reset", "-q", "--hard", "HEAD~1")
	Commits(t, work, "after", 1)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	s.Fsck("alice/r")
	if out, err := s.CLI("check"); err != nil {
		t.Fatalf("check after the full disk: %v\n%s", err, out)
	}
}

// fill writes path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}
