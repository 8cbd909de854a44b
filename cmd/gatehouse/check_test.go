package main_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/repos/lockfile"
)

// A repository folder with no metadata (a failed removal, a restore)
// refuses push-to-create at once with a message saying what to do, and
// `gatehouse check` reports it; so is metadata whose folder is gone.
func TestPushOverUnregisteredFolder(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	orphan := s.RepoDir("alice/ghost")
	run(t, "", "git", "init", "-q", "--bare", orphan)
	work := Work(t, "main", 1)

	out, err := s.Git(alice, work, "push", s.URL("alice/ghost"), "main")
	if err == nil {
		t.Fatalf("push over an unregistered folder succeeded:\n%s", out)
	}
	if !strings.Contains(out, "repository alice/ghost exists on disk but is not registered; an administrator can run `gatehouse check`") {
		t.Fatalf("push said:\n%s", out)
	}
	if _, err := s.CLI("repo", "show", "alice/ghost"); err == nil {
		t.Fatal("the refused push left metadata behind")
	}

	s.MustCLI("repo", "create", "alice/gone")
	if err := os.RemoveAll(s.RepoDir("alice/gone")); err != nil {
		t.Fatal(err)
	}
	text, err := s.CLI("check")
	if err == nil {
		t.Fatalf("check found nothing:\n%s", text)
	}
	for _, want := range []string{"unregistered  alice/ghost", "missing       alice/gone"} {
		if !strings.Contains(text, want) {
			t.Errorf("check said:\n%s\nwant %q", text, want)
		}
	}
	js, err := s.CLI("check", "--json")
	if err == nil {
		t.Fatal("check --json exited 0 with problems")
	}
	var rep struct {
		Unregistered []struct{ Repo, Path string }
		Missing      []struct{ Repo string }
	}
	// (The output ends with the error line from stderr.)
	if err := json.NewDecoder(strings.NewReader(js)).Decode(&rep); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if len(rep.Unregistered) != 1 || rep.Unregistered[0].Repo != "alice/ghost" || rep.Unregistered[0].Path != orphan ||
		len(rep.Missing) != 1 || rep.Missing[0].Repo != "alice/gone" {
		t.Fatalf("check --json:\n%s", js)
	}

	// Once the administrator has moved the folder away, the push creates it.
	if err := os.Rename(orphan, orphan+".bak"); err != nil {
		t.Fatal(err)
	}
	s.MustCLI("repo", "rm", "alice/gone")
	s.MustGit(alice, work, "push", s.URL("alice/ghost"), "main")
	s.Fsck("alice/ghost")
	if out := s.MustCLI("check"); !strings.Contains(out, "no problems found") {
		t.Fatalf("check after the fix:\n%s", out)
	}

	// A dead push's quarantine is reported, and removed by --repair only.
	dead := filepath.Join(s.RepoDir("alice/ghost"), "objects", "tmp_objdir-incoming-dead")
	if err := os.Mkdir(dead, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := s.CLI("check"); err == nil || !strings.Contains(out, "left behind  quarantine  "+dead) {
		t.Fatalf("check with a dead quarantine: %v\n%s", err, out)
	}
	if _, err := os.Stat(dead); err != nil {
		t.Fatalf("check without --repair removed it: %v", err)
	}
	if out := s.MustCLI("check", "--repair"); !strings.Contains(out, "removed  quarantine  "+dead) {
		t.Fatalf("check --repair said:\n%s", out)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Fatalf("check --repair left it: %v", err)
	}
	s.Fsck("alice/ghost")
}

// TestHelperHoldRepackLock is not a test: TestRepackLockHolderKilled runs
// the test binary again with it, as another process holding the lock.
func TestHelperHoldRepackLock(t *testing.T) {
	path := os.Getenv("GATEHOUSE_TEST_HOLD_LOCK")
	if path == "" {
		return
	}
	if _, err := lockfile.TryLockFile(path); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("held\n")
	time.Sleep(time.Hour) // until killed
}

// A repack lock held by a process killed with SIGKILL does not block the
// next `repo gc`; while it lives, gc says the repository is busy.
func TestRepackLockHolderKilled(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	work := Work(t, "main", 2)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")

	holder := exec.Command(os.Args[0], "-test.run=^TestHelperHoldRepackLock$", "-test.count=1")
	holder.Env = append(os.Environ(), "GATEHOUSE_TEST_HOLD_LOCK="+filepath.Join(s.RepoDir("alice/r"), "gatehouse-maintain.lock"))
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Process.Kill()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "held\n" {
		t.Fatalf("helper said %q", line)
	}

	out, err := s.CLI("repo", "gc", "alice/r")
	if err == nil || !strings.Contains(err.Error(), "repack of alice/r is busy: another repack is running") {
		t.Fatalf("gc while another process repacks: %v\n%s", err, out)
	}
	holder.Process.Signal(syscall.SIGKILL)
	holder.Wait()
	if _, err := os.Stat(filepath.Join(s.RepoDir("alice/r"), "gatehouse-maintain.lock")); err != nil {
		t.Fatalf("the killed holder left no lock file (%v): the test proves nothing", err)
	}
	if out := s.MustCLI("repo", "gc", "alice/r"); !strings.Contains(out, "repacked alice/r") {
		t.Fatalf("gc after the holder was killed said %q", out)
	}
	s.Fsck("alice/r")
}
