package main_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/gittest"
)

func TestCloneEmptyThenFirstPushSetsDefaultBranch(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/empty")

	dst := t.TempDir()
	out := s.MustGit(alice, dst, "clone", s.URL("alice/empty"), "c")
	if !strings.Contains(out, "cloned an empty repository") {
		t.Fatalf("clone of empty repository said:\n%s", out)
	}
	// The first push of a branch other than the configured one makes it
	// the default, as the forges do.
	work := Work(t, "trunk", 2)
	s.MustGit(alice, work, "push", s.URL("alice/empty"), "trunk")
	if got := run(t, s.RepoDir("alice/empty"), "git", "symbolic-ref", "HEAD"); got != "refs/heads/trunk" {
		t.Fatalf("HEAD -> %s, want refs/heads/trunk", got)
	}
	if got := s.RepoJSON("alice/empty")["default_branch"]; got != "trunk" {
		t.Fatalf("default_branch = %v, want trunk", got)
	}
	s.Fsck("alice/empty")

	// A clone now checks out trunk and has the same history.
	s.MustGit(alice, dst, "clone", s.URL("alice/empty"), "c2")
	if got, want := run(t, filepath.Join(dst, "c2"), "git", "rev-parse", "HEAD"), run(t, work, "git", "rev-parse", "HEAD"); got != want {
		t.Fatalf("clone HEAD %s, want %s", got, want)
	}
	if got := run(t, filepath.Join(dst, "c2"), "git", "branch", "--show-current"); got != "trunk" {
		t.Fatalf("clone checked out %q", got)
	}
	run(t, filepath.Join(dst, "c2"), "git", "fsck", "--full", "--strict")
}

func TestPushCreatesInOwnNamespaceOnly(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	s.User("bob")
	work := Work(t, "main", 1)
	out := s.MustGit(alice, work, "push", s.URL("alice/fresh"), "main")
	if !strings.Contains(out, "[new branch]") {
		t.Fatalf("push said:\n%s", out)
	}
	if v := s.RepoJSON("alice/fresh"); v["private"] != true {
		t.Fatalf("created repository is not private: %v", v)
	}
	s.Fsck("alice/fresh")
	out, err := s.Git(alice, work, "push", s.URL("bob/fresh"), "main")
	if err == nil || !strings.Contains(out, "ERROR: repository bob/fresh not found or access denied") {
		t.Fatalf("push into bob's namespace: %v\n%s", err, out)
	}
	if _, err := os.Stat(s.RepoDir("bob/fresh")); !os.IsNotExist(err) {
		t.Fatalf("bob/fresh exists on disk: %v", err)
	}
}

func TestPushKinds(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/r")
	url := s.URL("alice/r")
	work := Work(t, "main", 3)
	repo := "alice/r"
	serverRef := func(ref string) string {
		out, _, err := gittest.Cmd{Dir: s.RepoDir(repo)}.Exec(t, "rev-parse", "--verify", "-q", ref)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(out)
	}

	t.Run("new", func(t *testing.T) {
		s.MustGit(alice, work, "push", url, "main")
		if serverRef("refs/heads/main") != run(t, work, "git", "rev-parse", "main") {
			t.Fatal("main not pushed")
		}
	})
	t.Run("fast-forward", func(t *testing.T) {
		Commits(t, work, "ff", 2)
		out := s.MustGit(alice, work, "push", url, "main")
		if !regexp.MustCompile(`[0-9a-f]+\.\.[0-9a-f]+ +main -> main`).MatchString(out) {
			t.Fatalf("push said:\n%s", out)
		}
	})
	t.Run("up to date", func(t *testing.T) {
		out := s.MustGit(alice, work, "push", url, "main")
		if !strings.Contains(out, "Everything up-to-date") {
			t.Fatalf("push said:\n%s", out)
		}
	})
	t.Run("force", func(t *testing.T) {
		run(t, work, "git", "reset", "-q", "--hard", "HEAD~2")
		Commits(t, work, "rewrite", 1)
		if out, err := s.Git(alice, work, "push", url, "main"); err == nil || !strings.Contains(out, "non-fast-forward") && !strings.Contains(out, "fetch first") {
			t.Fatalf("non-ff push without force: %v\n%s", err, out)
		}
		out := s.MustGit(alice, work, "push", "--force", url, "main")
		if !strings.Contains(out, "(forced update)") {
			t.Fatalf("force push said:\n%s", out)
		}
		if serverRef("refs/heads/main") != run(t, work, "git", "rev-parse", "main") {
			t.Fatal("force push did not move main")
		}
	})
	t.Run("tags", func(t *testing.T) {
		run(t, work, "git", "tag", "light")
		run(t, work, "git", "tag", "-a", "-m", "release one", "v1")
		s.MustGit(alice, work, "push", url, "--tags")
		if serverRef("refs/tags/light") == "" || serverRef("refs/tags/v1^{commit}") != run(t, work, "git", "rev-parse", "HEAD") {
			t.Fatal("tags not pushed")
		}
		if typ := strings.TrimSpace(run(t, s.RepoDir(repo), "git", "cat-file", "-t", "v1")); typ != "tag" {
			t.Fatalf("v1 is a %s on the server", typ)
		}
		// A clone gets both, with the annotated one peeled right.
		c := filepath.Join(t.TempDir(), "c")
		s.MustGit(alice, "", "clone", url, c)
		if got := run(t, c, "git", "tag"); got != "light\nv1" {
			t.Fatalf("clone tags %q", got)
		}
		if got := run(t, c, "git", "cat-file", "-p", "v1"); !strings.Contains(got, "release one") {
			t.Fatalf("clone v1: %s", got)
		}
	})
	t.Run("branch and delete", func(t *testing.T) {
		s.MustGit(alice, work, "push", url, "main:refs/heads/topic")
		if serverRef("refs/heads/topic") == "" {
			t.Fatal("topic not created")
		}
		out := s.MustGit(alice, work, "push", url, ":topic", ":refs/tags/light")
		if !strings.Contains(out, "[deleted]") {
			t.Fatalf("delete said:\n%s", out)
		}
		if serverRef("refs/heads/topic") != "" || serverRef("refs/tags/light") != "" {
			t.Fatal("refs not deleted")
		}
		out, err := s.Git(alice, work, "push", url, ":refs/heads/never")
		if err == nil {
			t.Fatalf("deleting a missing ref succeeded:\n%s", out)
		}
	})
	s.Fsck(repo)
}

// objectsReceived reads how many objects the client took in from its
// progress output ("Receiving objects: 100% (N/N)"); the fetch must keep
// the pack (fetch.unpackLimit=1) for index-pack to say it.
func objectsReceived(tb testing.TB, out string) int {
	tb.Helper()
	m := regexp.MustCompile(`(?:Receiving|Unpacking) objects: 100% \((\d+)/(\d+)\)`).FindAllStringSubmatch(out, -1)
	if m == nil {
		tb.Fatalf("no object count in:\n%s", out)
	}
	n, _ := strconv.Atoi(m[len(m)-1][2])
	return n
}

func TestIncrementalFetchSendsOnlyWhatIsMissing(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	url := s.URL("alice/inc")
	work := Work(t, "main", 30)
	s.MustGit(alice, work, "push", url, "main")
	clone := filepath.Join(t.TempDir(), "c")
	s.MustGit(alice, "", "clone", url, clone)

	for _, n := range []int{1, 50} {
		Commits(t, work, fmt.Sprintf("more%d", n), n)
		s.MustGit(alice, work, "push", url, "main")
		out := s.MustGit(alice, clone, "-c", "fetch.unpackLimit=1", "fetch", "--progress", "origin")
		// Each commit adds a commit, a tree and a blob.
		if got := objectsReceived(t, out); got != 3*n {
			t.Fatalf("fetch after %d commits received %d objects, want %d:\n%s", n, got, 3*n, out)
		}
		if !strings.Contains(out, "remote: ") {
			t.Fatalf("no progress from the server:\n%s", out)
		}
		if a, b := run(t, clone, "git", "rev-parse", "origin/main"), run(t, work, "git", "rev-parse", "main"); a != b {
			t.Fatalf("origin/main %s, want %s", a, b)
		}
	}
	// Up to date: nothing to send.
	out := s.MustGit(alice, clone, "fetch", "--progress", "origin")
	if strings.Contains(out, "objects:") {
		t.Fatalf("up-to-date fetch moved objects:\n%s", out)
	}
	run(t, clone, "git", "fsck", "--full", "--strict")

	// A client that has diverged (more than 16 haves the server does not
	// know) still negotiates a small pack.
	Commits(t, clone, "local", 40)
	Commits(t, work, "remote", 2)
	s.MustGit(alice, work, "push", url, "main")
	out = s.MustGit(alice, clone, "-c", "fetch.unpackLimit=1", "fetch", "--progress", "origin")
	if got := objectsReceived(t, out); got != 6 {
		t.Fatalf("diverged fetch received %d objects, want 6:\n%s", got, out)
	}
	s.Fsck("alice/inc")
}

func TestConcurrentPushesOneWins(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	url := s.URL("alice/race")
	base := Work(t, "main", 1)
	s.MustGit(alice, base, "push", url, "main")
	for round := 0; round < 3; round++ {
		clones := make([]string, 2)
		for i := range clones {
			clones[i] = filepath.Join(t.TempDir(), "c")
			s.MustGit(alice, "", "clone", "-q", url, clones[i])
			Commits(t, clones[i], fmt.Sprintf("r%d-c%d", round, i), 1)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		outs := make([]string, 2)
		for i := range clones {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i], errs[i] = s.Git(alice, clones[i], "push", "origin", "main")
			}()
		}
		wg.Wait()
		wins := 0
		for i, err := range errs {
			if err == nil {
				wins++
				if got, want := run(t, s.RepoDir("alice/race"), "git", "rev-parse", "main"), run(t, clones[i], "git", "rev-parse", "main"); got != want {
					t.Fatalf("winner's commit %s is not on the server (%s)", want, got)
				}
			} else if !strings.Contains(outs[i], "rejected") {
				t.Fatalf("loser was not told it is stale:\n%s", outs[i])
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d pushes won, want exactly 1\n%s\n%s", round, wins, outs[0], outs[1])
		}
		s.Fsck("alice/race")
	}
}

// objectFiles lists every file under the repository's objects folder.
func objectFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	var files []string
	filepath.WalkDir(filepath.Join(dir, "objects"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	sort.Strings(files)
	return files
}

// A client that vanishes mid-push leaves nothing behind: no objects, no
// temporary files, no ref changes.
func TestPushCutMidTransfer(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	url := s.URL("alice/cut")
	work := Work(t, "main", 1)
	s.MustGit(alice, work, "push", url, "main")
	before := objectFiles(t, s.RepoDir("alice/cut"))
	mainBefore := run(t, s.RepoDir("alice/cut"), "git", "rev-parse", "main")

	// 8 MiB of random bytes cannot be compressed, so the pack is large.
	big := make([]byte, 8<<20)
	if _, err := readRandom(big); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, work, "git", "add", "big.bin")
	run(t, work, "git", "commit", "-q", "-m", "big")

	// The ssh wrapper forwards only the first 1 MiB git sends, then hangs
	// up: the server sees the pack stop in the middle.
	wrapper := filepath.Join(t.TempDir(), "cut-ssh")
	script := "#!/bin/sh\nhead -c 1048576 | " + shellJoin(s.SSHCommand(alice)) + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "push", url, "main")
	cmd.Dir = work
	cmd.Env = append(s.gitEnv(nil), "GIT_SSH_COMMAND="+wrapper)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("cut push succeeded:\n%s", out)
	}
	waitFor(t, func() bool {
		return strings.Join(objectFiles(t, s.RepoDir("alice/cut")), "\n") == strings.Join(before, "\n")
	},
		"objects left after a cut push")
	if got := run(t, s.RepoDir("alice/cut"), "git", "rev-parse", "main"); got != mainBefore {
		t.Fatalf("main moved to %s", got)
	}
	s.Fsck("alice/cut")

	// The same push, whole, then goes through.
	s.MustGit(alice, work, "push", url, "main")
	s.Fsck("alice/cut")
}

func readRandom(b []byte) (int, error) {
	f, err := os.Open("/dev/urandom")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.Read(b)
}

// waitFor polls cond for a few seconds: the server notices a vanished
// client a moment after the client itself has exited.
func waitFor(tb testing.TB, cond func() bool, msg string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal(msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
