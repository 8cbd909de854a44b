package main_test

import (
	"bufio"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startBinary runs the built server on data and returns its SSH port;
// its log goes to logs.
func startBinary(t *testing.T, bin, data, keyFile string, logs *syncBuffer) (*exec.Cmd, string) {
	t.Helper()
	return startBinaryArgs(t, bin, logs, "--data", data, "--ssh-addr", "127.0.0.1:0", "--http-addr", "", "--admin-key", keyFile)
}

// startBinaryArgs runs the built server with args and returns its SSH
// port; its log goes to logs.
func startBinaryArgs(t *testing.T, bin string, logs *syncBuffer, args ...string) (*exec.Cmd, string) {
	t.Helper()
	srv := exec.Command(bin, args...)
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	srv.Stderr = logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	sc := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(30*time.Second, func() { srv.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		if m := regexp.MustCompile(`SSH listening on 127\.0\.0\.1:(\d+)`).FindStringSubmatch(sc.Text()); m != nil {
			go func() {
				for sc.Scan() {
				}
			}()
			return srv, m[1]
		}
	}
	t.Fatalf("server did not start:\n%s", logs.String())
	return nil, ""
}

// waitMinute polls cond until it holds or a minute has passed.
func waitMinute(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

// A server killed with SIGKILL while a pack arrives leaves its
// quarantine; the next start removes it (and a ref lock file the killed
// server could have left), and pushes go on.
func TestKilledPushSweptAtStart(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	k := NewKey(t)
	keyFile := filepath.Join(t.TempDir(), "admin.pub")
	if err := os.WriteFile(keyFile, []byte(k.Public+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(data, "repos", "admin", "big.git")
	quarantines := func() []string {
		m, _ := filepath.Glob(filepath.Join(repo, "objects", "tmp_objdir-incoming-*"))
		return m
	}

	var log1 syncBuffer
	srv, port := startBinary(t, bin, data, keyFile, &log1)
	first := Work(t, "main", 1)
	if out, err := slowPush(t, port, k, first, 0); err != nil {
		t.Fatalf("first push: %v\n%s", err, out)
	}
	work := bigWork(t)
	run(t, work, "git", "fetch", "-q", first, "main")
	run(t, work, "git", "reset", "-q", "--hard", "FETCH_HEAD")
	Commits(t, work, "more", 1)
	big := make([]byte, 2<<20)
	rand.Read(big)
	os.WriteFile(filepath.Join(work, "blob.bin"), big, 0o644)
	run(t, work, "git", "add", "blob.bin")
	run(t, work, "git", "commit", "-q", "-m", "big")
	pushed := make(chan error, 1)
	go func() {
		_, err := slowPush(t, port, k, work, 60*time.Second) // paused mid-pack
		pushed <- err
	}()
	waitMinute(t, "the push's quarantine", func() bool { return len(quarantines()) == 1 })
	srv.Process.Signal(syscall.SIGKILL)
	srv.Wait()
	if err := <-pushed; err == nil {
		t.Fatal("push to a killed server succeeded")
	}
	left := quarantines()
	if len(left) != 1 {
		t.Fatalf("quarantines after the kill: %v", left)
	}
	// What a kill between a ref's lock and its rename leaves.
	refLock := filepath.Join(repo, "refs", "heads", "main.lock")
	if err := os.WriteFile(refLock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "check", "--data", data).CombinedOutput()
	if err == nil || !strings.Contains(string(out), left[0]) || !strings.Contains(string(out), refLock) {
		t.Fatalf("check after the kill: %v\n%s", err, out)
	}

	// And what a killed creation left.
	initTmp := filepath.Join(data, "repos", "admin", ".init-killed")
	if err := os.MkdirAll(filepath.Join(initTmp, "objects"), 0o755); err != nil {
		t.Fatal(err)
	}

	var log2 syncBuffer
	_, port = startBinary(t, bin, data, keyFile, &log2)
	waitMinute(t, "the sweep at start", func() bool { return strings.Contains(log2.String(), "sweep done") })
	if q := quarantines(); len(q) != 0 {
		t.Fatalf("quarantine left after a restart: %v\n%s", q, log2.String())
	}
	if _, err := os.Stat(refLock); !os.IsNotExist(err) {
		t.Fatalf("ref lock left after a restart: %v\n%s", err, log2.String())
	}
	if _, err := os.Stat(initTmp); !os.IsNotExist(err) {
		t.Fatalf("a killed creation's folder left after a restart: %v\n%s", err, log2.String())
	}
	if !strings.Contains(log2.String(), "kind=quarantine") || !strings.Contains(log2.String(), `kind="unfinished create"`) {
		t.Errorf("the sweep was not logged:\n%s", log2.String())
	}
	if out, err := slowPush(t, port, k, work, 0); err != nil {
		t.Fatalf("push after the restart: %v\n%s", err, out)
	}
	if got, want := run(t, repo, "git", "rev-parse", "refs/heads/main"), run(t, work, "git", "rev-parse", "main"); got != want {
		t.Fatalf("main = %s, want %s", got, want)
	}
	run(t, repo, "git", "fsck", "--full", "--strict")
	if out, err := exec.Command(bin, "check", "--data", data).CombinedOutput(); err != nil {
		t.Fatalf("check at the end: %v\n%s", err, out)
	}
}
