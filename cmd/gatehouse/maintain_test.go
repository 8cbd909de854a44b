package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Pushes, each adding a pack, start a repack in the background once the
// repository has more than eight; clones stay whole throughout.
func TestPushesTriggerBackgroundRepack(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	work := Work(t, "main", 1)
	packDir := filepath.Join(s.RepoDir("alice/busy"), "objects", "pack")
	for i := range 10 {
		Commits(t, work, "push"+string(rune('a'+i)), 1)
		s.MustGit(alice, work, "push", s.URL("alice/busy"), "main")
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		bms, _ := filepath.Glob(filepath.Join(packDir, "pack-*.bitmap"))
		_, lockErr := os.Stat(filepath.Join(s.RepoDir("alice/busy"), "gatehouse-maintain.lock"))
		if len(bms) == 1 && os.IsNotExist(lockErr) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no bitmap after the pushes: %v", bms)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.Fsck("alice/busy")
	dst := t.TempDir()
	s.MustGit(alice, dst, "clone", "-q", s.URL("alice/busy"), "c")
	run(t, filepath.Join(dst, "c"), "git", "fsck", "--full", "--strict")
	if got, want := run(t, filepath.Join(dst, "c"), "git", "rev-parse", "HEAD"), run(t, work, "git", "rev-parse", "HEAD"); got != want {
		t.Fatalf("clone HEAD %s, want %s", got, want)
	}
	// One more push after the repack still lands and clones.
	Commits(t, work, "after", 1)
	s.MustGit(alice, work, "push", s.URL("alice/busy"), "main")
	s.MustGit(alice, dst, "clone", "-q", s.URL("alice/busy"), "c2")
	run(t, filepath.Join(dst, "c2"), "git", "fsck", "--full", "--strict")
}

func TestCLIRepoGC(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	work := Work(t, "main", 2)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	Commits(t, work, "more", 2)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")

	var st map[string]any
	if err := json.Unmarshal([]byte(s.MustCLI("repo", "gc", "alice/r", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st["packs_in"] != float64(2) || st["objects"] != float64(12) || st["commits"] != float64(4) || !strings.HasPrefix(st["pack"].(string), "pack-") {
		t.Fatalf("stats %v", st)
	}
	bms, _ := filepath.Glob(filepath.Join(s.RepoDir("alice/r"), "objects", "pack", "*.bitmap"))
	if len(bms) != 1 {
		t.Fatalf("bitmaps %v", bms)
	}
	s.Fsck("alice/r")
	out := s.MustCLI("repo", "gc", "alice/r")
	if !strings.Contains(out, "repacked alice/r") {
		t.Fatalf("gc said %q", out)
	}
	if _, err := s.CLI("repo", "gc", "alice/nothere"); err == nil {
		t.Fatal("gc of a missing repository succeeded")
	}
	dst := t.TempDir()
	s.MustGit(alice, dst, "clone", "-q", s.URL("alice/r"), "c")
	run(t, filepath.Join(dst, "c"), "git", "fsck", "--full", "--strict")
}
