package main_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	main "gatehouse/cmd/gatehouse"
)

// installHook writes an executable shell script at DATA/hooks/rel (or
// any absolute path).
func installHook(t *testing.T, path, script string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// globalHook is the path of a server-wide hook of kind.
func (s *Server) globalHook(kind, name string) string {
	return filepath.Join(s.Data, "hooks", kind+".d", name)
}

// refOf reads a ref of a server repository with the real git, "" when it
// does not exist.
func (s *Server) refOf(t *testing.T, repo, ref string) string {
	t.Helper()
	out, err := exec.Command("git", "--git-dir", s.RepoDir(repo), "rev-parse", "-q", "--verify", ref).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// noQuarantineLeft fails when a push left a quarantine behind.
func (s *Server) noQuarantineLeft(t *testing.T, repo string) {
	t.Helper()
	if left, _ := filepath.Glob(filepath.Join(s.RepoDir(repo), "objects", "tmp_objdir-incoming-*")); len(left) != 0 {
		t.Errorf("quarantines left behind: %v", left)
	}
}

// A pre-receive hook reads the pushed commit in quarantine with git and
// refuses a push that adds secret.txt: the client sees the hook's words
// as remote: lines and git's refusal, and the repository is as it was.
// A push without the file goes through the same hook.
func TestHookRefusesByContent(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	work := Work(t, "main", 1)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	before := s.refOf(t, "alice/r", "refs/heads/main")
	// A repository made by a push starts with no hooks of its own.
	if own, err := os.ReadDir(filepath.Join(s.RepoDir("alice/r"), "hooks")); err != nil || len(own) != 0 {
		t.Fatalf("new repository's hooks/: %v, %v", own, err)
	}

	installHook(t, s.globalHook("pre-receive", "10-no-secrets"), `
while read old new ref; do
	test -n "$GIT_QUARANTINE_PATH" || { echo "no quarantine"; exit 1; }
	test "$GIT_OBJECT_DIRECTORY" = "$GIT_QUARANTINE_PATH" || { echo "object dir is not the quarantine"; exit 1; }
	echo "checking $(git log -1 --format=%s "$new") on $ref"
	if git cat-file -e "$new:secret.txt" 2>/dev/null; then
		echo "secret.txt may not be pushed: $(git cat-file -p "$new:secret.txt")"
		exit 1
	fi
done
`)
	os.WriteFile(filepath.Join(work, "secret.txt"), []byte("hunter2\n"), 0o644)
	run(t, work, "git", "add", "secret.txt")
	run(t, work, "git", "commit", "-q", "-m", "add the secret")
	out, err := s.Git(alice, work, "push", s.URL("alice/r"), "main")
	if err == nil {
		t.Fatalf("push with secret.txt went through:\n%s", out)
	}
	for _, want := range []string{
		"remote: checking add the secret on refs/heads/main",
		"remote: secret.txt may not be pushed: hunter2",
		"! [remote rejected] main -> main (pre-receive hook declined)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}
	if got := s.refOf(t, "alice/r", "refs/heads/main"); got != before {
		t.Errorf("main = %s after a refused push, want %s", got, before)
	}
	if _, err := exec.Command("git", "--git-dir", s.RepoDir("alice/r"), "cat-file", "-e", run(t, work, "git", "rev-parse", "HEAD")).Output(); err == nil {
		t.Error("the refused commit is in the repository")
	}
	s.noQuarantineLeft(t, "alice/r")
	s.Fsck("alice/r")

	run(t, work, "git", "rm", "-q", "secret.txt")
	run(t, work, "git", "commit", "-q", "-m", "no secret")
	out = s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	if !strings.Contains(out, "remote: checking no secret on refs/heads/main") {
		t.Errorf("accepted push output lacks the hook's line:\n%s", out)
	}
	if got, want := s.refOf(t, "alice/r", "refs/heads/main"), run(t, work, "git", "rev-parse", "HEAD"); got != want {
		t.Errorf("main = %s, want %s", got, want)
	}
	s.noQuarantineLeft(t, "alice/r")
	s.Fsck("alice/r")
}

// A hook knows who pushes, with which key, to which repository, and
// nothing of the server's environment or the client's: it refuses bob
// and lets alice through.
func TestHookRefusesByPusher(t *testing.T) {
	t.Setenv("GATEHOUSE_TEST_SECRET", "server-secret")
	s := MustRunMain(t)
	alice := s.User("alice")
	bob := s.User("bob")
	work := Work(t, "main", 1)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	s.MustCLI("collab", "add", "alice/r", "bob", "write")
	fp := strings.TrimSpace(run(t, "", "ssh-keygen", "-l", "-E", "sha256", "-f", alice.Path))
	fp = strings.Fields(fp)[1]

	installHook(t, filepath.Join(s.RepoDir("alice/r"), "hooks", "pre-receive"), `
echo "user=$GATEHOUSE_USER repo=$GATEHOUSE_REPO protocol=$GATEHOUSE_PROTOCOL key=$GATEHOUSE_KEY_FINGERPRINT"
env | grep -q -e GATEHOUSE_TEST_SECRET -e LC_HOOKTEST && { echo "leaked environment"; exit 1; }
test "$GATEHOUSE_USER" != bob || { echo "bob may not push here"; exit 1; }
`)
	Commits(t, work, "more", 1)
	ssh := append(s.SSHCommand(bob), "-o", "SetEnv=LC_HOOKTEST=from-client")
	out, err := s.Git(bob, work, "-c", "core.sshCommand="+shellJoin(ssh), "push", s.URL("alice/r"), "main")
	if err == nil || !strings.Contains(out, "remote: bob may not push here") || !strings.Contains(out, "(pre-receive hook declined)") {
		t.Fatalf("bob's push: %v\n%s", err, out)
	}
	out = s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	if want := "remote: user=alice repo=alice/r protocol=ssh key=" + fp; !strings.Contains(out, want) {
		t.Errorf("alice's push output lacks %q:\n%s", want, out)
	}
	if strings.Contains(out, "leaked") {
		t.Errorf("the hook saw the server's or the client's environment:\n%s", out)
	}
}

// Push options reach the hooks as GIT_PUSH_OPTION_*; one refuses a push
// by option.
func TestHookRefusesByPushOption(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	work := Work(t, "main", 1)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	installHook(t, s.globalHook("pre-receive", "options"), `
echo "options: $GIT_PUSH_OPTION_COUNT ${GIT_PUSH_OPTION_0-} ${GIT_PUSH_OPTION_1-}"
i=0
while [ "$i" -lt "${GIT_PUSH_OPTION_COUNT:-0}" ]; do
	eval "opt=\$GIT_PUSH_OPTION_$i"
	test "$opt" != "freeze" || { echo "frozen by push option"; exit 1; }
	i=$((i+1))
done
`)
	Commits(t, work, "more", 1)
	out, err := s.Git(alice, work, "push", "-o", "ci.skip", "-o", "freeze", s.URL("alice/r"), "main")
	if err == nil || !strings.Contains(out, "remote: options: 2 ci.skip freeze") || !strings.Contains(out, "remote: frozen by push option") ||
		!strings.Contains(out, "! [remote rejected] main -> main (pre-receive hook declined)") {
		t.Fatalf("push -o freeze: %v\n%s", err, out)
	}
	out = s.MustGit(alice, work, "push", "-o", "ci.skip", s.URL("alice/r"), "main")
	if !strings.Contains(out, "remote: options: 1 ci.skip") {
		t.Errorf("push -o ci.skip output:\n%s", out)
	}
}

// An update hook refuses one ref and the others go in; in an atomic push
// its refusal fails them all.
func TestUpdateHookRefusesOneRef(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	work := Work(t, "main", 1)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	installHook(t, s.globalHook("update", "frozen"), `
echo "update $1 $2 $3"
test "$1" != refs/heads/frozen || { echo "refs/heads/frozen is frozen"; exit 1; }
`)
	run(t, work, "git", "branch", "frozen")
	run(t, work, "git", "branch", "open")
	out, err := s.Git(alice, work, "push", "--atomic", s.URL("alice/r"), "frozen", "open")
	if err == nil || !strings.Contains(out, "(hook declined)") {
		t.Fatalf("atomic push: %v\n%s", err, out)
	}
	if s.refOf(t, "alice/r", "refs/heads/open") != "" || s.refOf(t, "alice/r", "refs/heads/frozen") != "" {
		t.Fatalf("an atomic push with a refused ref moved a ref:\n%s", out)
	}
	out, err = s.Git(alice, work, "push", s.URL("alice/r"), "frozen", "open")
	if err == nil || !strings.Contains(out, "! [remote rejected] frozen -> frozen (hook declined)") || !strings.Contains(out, "remote: refs/heads/frozen is frozen") {
		t.Fatalf("push: %v\n%s", err, out)
	}
	head := run(t, work, "git", "rev-parse", "HEAD")
	if want := "remote: update refs/heads/open 0000000000000000000000000000000000000000 " + head; !strings.Contains(out, want) {
		t.Errorf("push output lacks %q:\n%s", want, out)
	}
	if got := s.refOf(t, "alice/r", "refs/heads/open"); got != head {
		t.Errorf("open = %q, want %s", got, head)
	}
	if got := s.refOf(t, "alice/r", "refs/heads/frozen"); got != "" {
		t.Errorf("frozen = %q, want no such ref", got)
	}
	s.Fsck("alice/r")
}

// A hook that hangs past --hook-timeout is killed with what it started,
// and the push is refused.
func TestHookTimeoutKillsProcessGroup(t *testing.T) {
	s := MustRunMain(t, func(c *main.Config) { c.HookTimeout = time.Second })
	alice := s.User("alice")
	work := Work(t, "main", 1)
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	installHook(t, s.globalHook("pre-receive", "hang"), `
sleep 300 &
echo $! > `+pidFile+`
echo "hanging"
sleep 300
`)
	out, err := s.Git(alice, work, "push", s.URL("alice/r"), "main")
	if err == nil || !strings.Contains(out, "(pre-receive hook declined)") || !strings.Contains(out, "remote: hanging") || !strings.Contains(out, "timed out") {
		t.Fatalf("push to a hanging hook: %v\n%s", err, out)
	}
	// Killed: gone, or at most a zombie its new parent has not reaped.
	if pid := readPidFile(t, pidFile); alive(pid) {
		t.Fatalf("the hook's child %d is still running", pid)
	}
	if got := s.refOf(t, "alice/r", "refs/heads/main"); got != "" {
		t.Errorf("main = %s after a timed-out hook", got)
	}
	s.noQuarantineLeft(t, "alice/r")
}

// A hook's output reaches git push's stderr as it is written, not when
// the hook ends: this hook waits for the test to see its first line.
func TestHookOutputStreams(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	work := Work(t, "main", 1)
	flag := filepath.Join(t.TempDir(), "seen")
	installHook(t, s.globalHook("pre-receive", "wait"), `
echo "waiting for the client"
i=0
while [ ! -e `+flag+` ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
test -e `+flag+` || { echo "the client never saw the first line"; exit 1; }
echo "the client saw it" >&2
`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "push", "--progress", s.URL("alice/r"), "main")
	cmd.Dir = work
	cmd.Env = s.gitEnv(alice)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	sc := bufio.NewScanner(stderr)
	sc.Split(scanLinesOrCR)
	for sc.Scan() {
		all.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "remote: waiting for the client") {
			os.WriteFile(flag, nil, 0o644)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("push: %v\n%s", err, all.String())
	}
	if !strings.Contains(all.String(), "remote: the client saw it") {
		t.Errorf("push output:\n%s", all.String())
	}
}

// scanLinesOrCR splits at \n or \r (git's progress lines end in \r).
func scanLinesOrCR(data []byte, atEOF bool) (int, []byte, error) {
	if i := strings.IndexAny(string(data), "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// post-receive runs after the refs moved, with them on stdin, outside
// the quarantine; its output reaches the client and its exit status
// changes nothing.
func TestPostReceiveSeesMovedRefs(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	work := Work(t, "main", 1)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	old := run(t, work, "git", "rev-parse", "HEAD")
	seen := filepath.Join(t.TempDir(), "seen")
	installHook(t, s.globalHook("post-receive", "10-record"), `
cat > `+seen+`
while read o n ref; do
	echo "post-receive: $ref is now $(git rev-parse "$ref") quarantine=${GIT_QUARANTINE_PATH-none}"
done < `+seen+`
exit 3
`)
	// Not hooks: not executable, a dotfile, an editor's backup.
	os.WriteFile(s.globalHook("post-receive", "20-not-executable"), []byte("#!/bin/sh\necho not-a-hook\n"), 0o644)
	installHook(t, s.globalHook("post-receive", ".hidden"), "echo not-a-hook\n")
	installHook(t, s.globalHook("post-receive", "10-record~"), "echo not-a-hook\n")

	Commits(t, work, "more", 1)
	run(t, work, "git", "tag", "v1")
	out := s.MustGit(alice, work, "push", s.URL("alice/r"), "main", "v1")
	head := run(t, work, "git", "rev-parse", "HEAD")
	if want := "remote: post-receive: refs/heads/main is now " + head + " quarantine=none"; !strings.Contains(out, want) {
		t.Errorf("push output lacks %q:\n%s", want, out)
	}
	if strings.Contains(out, "not-a-hook") {
		t.Errorf("a file that is not a hook ran:\n%s", out)
	}
	b, err := os.ReadFile(seen)
	if err != nil {
		t.Fatal(err)
	}
	want := old + " " + head + " refs/heads/main\n" + "0000000000000000000000000000000000000000 " + head + " refs/tags/v1\n"
	if string(b) != want {
		t.Errorf("post-receive stdin:\n%s\nwant:\n%s", b, want)
	}
	if got := s.refOf(t, "alice/r", "refs/heads/main"); got != head {
		t.Errorf("main = %s, want %s", got, head)
	}
}

// BenchmarkPushHooks times small pushes (one commit each, real git over
// ssh) to one server, taking turns with no hook installed and with one
// post-receive hook that reads its stdin, and reports the median of each
// (taking turns keeps the load of a shared machine out of the
// difference).
//
//	go test ./cmd/gatehouse/ -run '^$' -bench PushHooks -benchtime 30x
func BenchmarkPushHooks(b *testing.B) {
	s := MustRunMain(b)
	alice := s.User("alice")
	work := Work(b, "main", 1)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	path := s.globalHook("post-receive", "bench")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	var none, hook []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, with := range []bool{false, true} {
			b.StopTimer()
			os.Remove(path)
			if with {
				if err := os.WriteFile(path, []byte("#!/bin/sh\ncat >/dev/null\n"), 0o755); err != nil {
					b.Fatal(err)
				}
			}
			Commits(b, work, "bench", 1)
			b.StartTimer()
			start := time.Now()
			s.MustGit(alice, work, "push", "-q", s.URL("alice/r"), "main")
			if with {
				hook = append(hook, time.Since(start))
			} else {
				none = append(none, time.Since(start))
			}
		}
	}
	b.ReportMetric(float64(median(none))/1e6, "ms/push-no-hook")
	b.ReportMetric(float64(median(hook))/1e6, "ms/push-post-receive")
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// A server shutting down kills the hooks still running with their
// process groups: a pre-receive hook (its client still waiting) and a
// post-receive hook (which outlives its client) that sleep with a child
// are gone once the server, sent SIGTERM with a short grace, has exited.
func TestShutdownKillsHooks(t *testing.T) {
	bin := buildBinary(t)
	for _, kind := range []string{"pre-receive", "post-receive"} {
		t.Run(kind, func(t *testing.T) {
			data := t.TempDir()
			k := NewKey(t)
			pids := t.TempDir()
			hookPid, childPid := filepath.Join(pids, "hook"), filepath.Join(pids, "child")
			installHook(t, filepath.Join(data, "hooks", kind+".d", "sleep"), `
cat >/dev/null
echo $$ > `+hookPid+`.tmp && mv `+hookPid+`.tmp `+hookPid+`
sleep 300 &
echo $! > `+childPid+`.tmp && mv `+childPid+`.tmp `+childPid+`
echo "sleeping"
wait
`)
			var logs syncBuffer
			srv, port := startBinaryArgs(t, bin, &logs, "--data", data, "--ssh-addr", "127.0.0.1:0", "--http-addr", "",
				"--admin-key", k.Public, "--shutdown-grace", "500ms", "--hook-timeout", "5m")
			pushed := make(chan error, 1)
			go func() {
				_, err := slowPush(t, port, k, Work(t, "main", 1), 0)
				pushed <- err
			}()
			waitMinute(t, "the hook's child", func() bool { _, err := os.Stat(childPid); return err == nil })
			hook, child := readPidFile(t, hookPid), readPidFile(t, childPid)

			srv.Process.Signal(syscall.SIGTERM)
			exited := make(chan error, 1)
			go func() { exited <- srv.Wait() }()
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("server exit: %v\n%s", err, logs.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("server still running 30s after SIGTERM with a 500ms grace\n%s", logs.String())
			}
			for _, pid := range []int{hook, child} {
				if alive(pid) {
					t.Errorf("hook process %d still running after the server exited\n%s", pid, logs.String())
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			select {
			case <-pushed:
			case <-time.After(time.Minute):
				t.Fatal("push did not end")
			}
		})
	}
}

func readPidFile(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// alive says whether pid runs, waiting up to 10s for it to go (a zombie
// its new parent has not reaped yet counts as gone).
func alive(pid int) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return false
		}
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return false
		}
	}
	return true
}
