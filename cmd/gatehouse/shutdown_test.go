package main_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	main "gatehouse/cmd/gatehouse"
)

// servedByRun starts `gatehouse serve` through main.Run, as the binary
// does; cancelling the returned context is what SIGTERM does there. It
// returns the port and a channel with serve's exit status.
func servedByRun(t *testing.T, data string, args ...string) (port string, cancel context.CancelFunc, exit <-chan int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	codes := make(chan int, 1)
	go func() {
		codes <- main.Run(ctx, append([]string{"serve", "--data", data, "--ssh-addr", "127.0.0.1:0", "--http-addr", ""}, args...), nil, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "gatehouse "); ok && strings.Contains(rest, "SSH listening on ") {
			port = portOf(strings.TrimSpace(rest[strings.LastIndex(rest, " ")+1:]))
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if port == "" {
		cancel()
		t.Fatal("serve did not start")
	}
	return port, cancel, codes
}

// slowPush pushes work's main to the server on port as key, with the
// client's stream paused for pause after its first 400 bytes (the
// commands and the start of the pack), so a shutdown lands mid-push.
func slowPush(t *testing.T, port string, k *Key, work string, pause time.Duration) (string, error) {
	wrapper := filepath.Join(t.TempDir(), "slow-ssh")
	// The feeder runs beside ssh through a FIFO and is killed when ssh
	// ends, so git is not left waiting for it. (An asynchronous list
	// reads /dev/null unless told otherwise, hence fd 3.)
	script := `#!/bin/sh
fifo="$(dirname "$0")/fifo"
mkfifo "$fifo"
exec 3<&0
{ dd bs=1 count=400 2>/dev/null; sleep ` + fmt.Sprint(pause.Seconds()) + `; cat; } <&3 >"$fifo" &
feeder=$!
ssh "$@" <"$fifo"
rc=$?
pkill -P $feeder 2>/dev/null
kill $feeder 2>/dev/null
exit $rc
`
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	sshArgs := []string{wrapper, "-i", k.Path, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-F", "/dev/null", "-p", port}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "push", "ssh://git@127.0.0.1:"+port+"/admin/big.git", "main")
	// A helper the wrapper started may outlive it holding the output
	// pipe; do not wait for it forever.
	cmd.WaitDelay = 5 * time.Second
	cmd.Dir = work
	cmd.Env = append(os.Environ(), gitIdentity...)
	cmd.Env = append(cmd.Env, "HOME="+t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_SSH_COMMAND="+shellJoin(sshArgs))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// bigWork is a repository with a commit of 2 MB of incompressible data.
func bigWork(t *testing.T) string {
	work := Work(t, "main", 1)
	b := make([]byte, 2<<20)
	rand.Read(b)
	if err := os.WriteFile(filepath.Join(work, "blob.bin"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, work, "git", "add", "blob.bin")
	run(t, work, "git", "commit", "-q", "-m", "big")
	return work
}

func TestShutdownLetsPushFinish(t *testing.T) {
	data := t.TempDir()
	k := NewKey(t)
	port, stop, exit := servedByRun(t, data, "--admin-key", k.Public, "--shutdown-grace", "20s")
	work := bigWork(t)
	pushed := make(chan error, 1)
	var out string
	go func() {
		var err error
		out, err = slowPush(t, port, k, work, 2*time.Second)
		pushed <- err
	}()
	time.Sleep(time.Second) // the push is paused mid-pack now
	stop()                  // SIGTERM
	select {
	case err := <-pushed:
		if err != nil {
			t.Fatalf("push during shutdown: %v\n%s", err, out)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("push did not end")
	}
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("serve exited %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit")
	}
	repo := filepath.Join(data, "repos", "admin", "big.git")
	if got, want := run(t, repo, "git", "rev-parse", "refs/heads/main"), run(t, work, "git", "rev-parse", "main"); got != want {
		t.Fatalf("main = %s, want %s", got, want)
	}
	run(t, repo, "git", "fsck", "--full", "--strict")
}

func TestShutdownGraceCutsPushCleanly(t *testing.T) {
	data := t.TempDir()
	k := NewKey(t)
	port, stop, exit := servedByRun(t, data, "--admin-key", k.Public, "--shutdown-grace", "500ms")
	// The repository exists with one commit, so the cut push is an update.
	first := Work(t, "main", 1)
	if out, err := slowPush(t, port, k, first, 0); err != nil {
		t.Fatalf("first push: %v\n%s", err, out)
	}
	repo := filepath.Join(data, "repos", "admin", "big.git")
	before := run(t, repo, "git", "rev-parse", "refs/heads/main")
	work := bigWork(t)
	run(t, work, "git", "fetch", "-q", first, "main")
	run(t, work, "git", "reset", "-q", "--hard", "FETCH_HEAD")
	Commits(t, work, "more", 1)
	b := make([]byte, 2<<20)
	rand.Read(b)
	os.WriteFile(filepath.Join(work, "blob.bin"), b, 0o644)
	run(t, work, "git", "add", "blob.bin")
	run(t, work, "git", "commit", "-q", "-m", "big")

	pushed := make(chan error, 1)
	go func() {
		_, err := slowPush(t, port, k, work, 5*time.Second)
		pushed <- err
	}()
	time.Sleep(time.Second)
	stop()
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("serve exited %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not exit after its grace period")
	}
	select {
	case err := <-pushed:
		if err == nil {
			t.Fatal("push cut by the grace period succeeded")
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("cut push did not end")
	}
	if got := run(t, repo, "git", "rev-parse", "refs/heads/main"); got != before {
		t.Fatalf("main moved to %s by a cut push", got)
	}
	left, _ := filepath.Glob(filepath.Join(repo, "objects", "tmp_objdir-incoming-*"))
	locks, _ := filepath.Glob(filepath.Join(repo, "refs", "heads", "*.lock"))
	if len(left)+len(locks) > 0 {
		t.Fatalf("left behind: %v %v", left, locks)
	}
	run(t, repo, "git", "fsck", "--full", "--strict")
}
