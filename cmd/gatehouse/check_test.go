package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/gittest"
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
	os.WriteFile(filepath.Join(dead, "incoming.pack"), []byte("PACK"), 0o644)
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

// check finds real damage: an object file deleted, a ref to an object
// that is not there, an orphan repository folder (with its LFS objects,
// which live in it) and a stale ref lock. --repair removes the lock and moves
// the folders aside, keeping their data, and says what it left.
func TestCheckDamage(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	for _, r := range []string{"alice/r", "alice/r2"} {
		s.MustGit(alice, Work(t, "main", 3), "push", s.URL(r), "main")
	}
	// A commit whose new blob is a loose file, then the file deleted.
	r := s.RepoDir("alice/r")
	blob := gitStdin(t, r, "file lost\n", "hash-object", "-w", "--stdin")
	tree := gitStdin(t, r, "100644 blob "+blob+"\tlost.txt\n", "mktree")
	side := gitStdin(t, r, "", "commit-tree", tree, "-p", "main", "-m", "side")
	gitStdin(t, r, "", "update-ref", "refs/heads/side", side)
	if err := os.Remove(filepath.Join(r, "objects", blob[:2], blob[2:])); err != nil {
		t.Fatal(err)
	}
	r2 := s.RepoDir("alice/r2")
	ghost := strings.Repeat("5a", 20)
	os.WriteFile(filepath.Join(r2, "refs", "heads", "ghost"), []byte(ghost+"\n"), 0o644)
	lock := filepath.Join(r2, "refs", "heads", "main.lock")
	os.WriteFile(lock, []byte(ghost+"\n"), 0o644)
	orphan := s.RepoDir("alice/orphan")
	run(t, "", "git", "init", "-q", "--bare", orphan)
	lfs := filepath.Join(orphan, "lfs", "objects")
	os.MkdirAll(filepath.Join(lfs, "ab", "cd"), 0o755)
	os.WriteFile(filepath.Join(lfs, "ab", "cd", "abcd"), []byte("lfs object"), 0o644)
	if _, _, err := (gittest.Cmd{Dir: r}).Exec(t, "fsck", "--connectivity-only"); err == nil {
		t.Fatal("git fsck finds alice/r whole: the damage is not real")
	}
	// What a create and a removal killed midway leave.
	initTmp := filepath.Join(s.Data, "repos", "alice", ".init-123")
	deleted := s.RepoDir("alice/old") + ".deleted-abcdef"
	os.MkdirAll(filepath.Join(initTmp, "objects"), 0o755)
	os.MkdirAll(filepath.Join(deleted, "objects"), 0o755)

	text, err := s.CLI("check")
	if err == nil {
		t.Fatalf("check found nothing:\n%s", text)
	}
	for _, want := range []string{
		"damaged alice/r missing object " + blob + " (from refs/heads/side): blob, linked from " + tree,
		"damaged alice/r2 missing object " + ghost + " (from refs/heads/ghost)",
		"unregistered alice/orphan " + orphan,
		"left behind ref lock " + lock,
		"left behind unfinished create " + initTmp,
		"left behind unfinished removal " + deleted,
	} {
		if !strings.Contains(oneSpace(text), want) {
			t.Errorf("check said:\n%s\nwant %q", text, want)
		}
	}
	js, _ := s.CLI("check", "--json")
	var rep struct {
		Damaged []struct {
			Repo     string
			Problems []struct{ Kind, Ref, Object string }
		}
		Leftovers []struct{ Kind, Path string }
	}
	if err := json.NewDecoder(strings.NewReader(js)).Decode(&rep); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if len(rep.Damaged) != 2 || rep.Damaged[0].Repo != "alice/r" || len(rep.Damaged[0].Problems) != 1 ||
		rep.Damaged[0].Problems[0] != (struct{ Kind, Ref, Object string }{"missing object", "refs/heads/side", blob}) ||
		len(rep.Leftovers) != 3 || rep.Leftovers[0].Path != lock {
		t.Fatalf("check --json:\n%s", js)
	}

	out, err := s.CLI("check", "--repair")
	if err == nil {
		t.Fatalf("check --repair exited 0 with damage left:\n%s", out)
	}
	for _, want := range []string{
		"moved aside alice/orphan " + orphan + " -> " + filepath.Join(s.Data, "lost+found", "repos", "alice", "orphan.git."),
		"removed ref lock " + lock,
		"removed unfinished create " + initTmp,
		"left for an administrator: 0 missing, 2 damaged",
	} {
		if !strings.Contains(oneSpace(out), want) {
			t.Errorf("check --repair said:\n%s\nwant %q", out, want)
		}
	}
	for _, p := range []string{lock, initTmp, deleted} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", p, err)
		}
	}
	kept, _ := filepath.Glob(filepath.Join(s.Data, "lost+found", "repos", "alice", "orphan.git.*", "lfs", "objects", "ab", "cd", "abcd"))
	heads, _ := filepath.Glob(filepath.Join(s.Data, "lost+found", "repos", "alice", "orphan.git.*", "HEAD"))
	if len(kept) != 1 || len(heads) != 1 {
		t.Fatalf("what was moved aside is not kept whole: %v %v", kept, heads)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatalf("the orphan is still in place: %v", err)
	}

	// The administrator drops the broken refs: the rest is whole.
	gitStdin(t, r, "", "update-ref", "-d", "refs/heads/side")
	os.Remove(filepath.Join(r2, "refs", "heads", "ghost"))
	if out := s.MustCLI("check"); !strings.Contains(out, "no problems found (2 repositories") {
		t.Fatalf("check after the fix:\n%s", out)
	}
	s.MustGit(alice, t.TempDir(), "clone", "-q", s.URL("alice/r"), "c")
}

// gitStdin runs git in dir with stdin and returns its trimmed output.
func gitStdin(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	return gittest.Cmd{Dir: dir, Stdin: stdin}.Run(t, args...)
}

// oneSpace replaces each run of spaces in s with one, so that tests do
// not depend on column widths.
func oneSpace(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
}

// check on a live server finds nothing wrong while pushes move refs and
// repacks replace packs under it.
func TestCheckWhilePushing(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	work := Work(t, "main", 1)
	s.MustGit(alice, work, "push", s.URL("alice/busy"), "main")
	done := make(chan error, 1)
	go func() {
		for i := range 14 { // more than 8 packs: repacks start
			Commits(t, work, fmt.Sprintf("p%d", i), 1)
			if out, err := s.Git(alice, work, "push", s.URL("alice/busy"), "main", fmt.Sprintf("main:refs/heads/b%d", i)); err != nil {
				done <- fmt.Errorf("push %d: %v\n%s", i, err, out)
				return
			}
		}
		done <- nil
	}()
	checks := 0
	for finished := false; !finished; checks++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true
		default:
		}
		if out, err := s.CLI("check"); err != nil {
			t.Fatalf("check %d during pushes: %v\n%s", checks, err, out)
		}
	}
	if !strings.Contains(s.Log.String(), "msg=repacked") {
		t.Logf("no repack ran during the checks:\n%s", s.Log.String())
	}
	t.Logf("%d checks", checks)
}
