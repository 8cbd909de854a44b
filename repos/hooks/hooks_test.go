package hooks_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/repos/hooks"
)

func write(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}

func TestFind(t *testing.T) {
	t.Run("none", func(t *testing.T) {
		repo := t.TempDir()
		os.Mkdir(filepath.Join(repo, "hooks"), 0o755)
		write(t, filepath.Join(repo, "hooks", "pre-receive.sample"), "#!/bin/sh\n", 0o755)
		h, err := hooks.Find(filepath.Join(t.TempDir(), "missing"), repo)
		if err != nil || h != nil {
			t.Fatalf("Find = %v, %v; want nil, nil", h, err)
		}
	})
	t.Run("order and filters", func(t *testing.T) {
		repo, global := t.TempDir(), t.TempDir()
		own := filepath.Join(repo, "hooks", "pre-receive")
		write(t, own, "#!/bin/sh\n", 0o755)
		write(t, filepath.Join(repo, "hooks", "update"), "#!/bin/sh\n", 0o644) // not executable
		d := filepath.Join(global, "pre-receive.d")
		for _, name := range []string{"20-b", "10-a", ".hidden", "10-a~", "10-a.bak", "10-a.swp", "#10-a#", "x.sample", "x.dpkg-old"} {
			write(t, filepath.Join(d, name), "#!/bin/sh\n", 0o755)
		}
		write(t, filepath.Join(d, "15-plain"), "#!/bin/sh\n", 0o644)
		os.Mkdir(filepath.Join(d, "30-dir"), 0o755)
		shared := filepath.Join(t.TempDir(), "shared-policy")
		write(t, shared, "#!/bin/sh\n", 0o755)
		os.Symlink(shared, filepath.Join(d, "25-link"))
		os.Symlink(filepath.Join(global, "nowhere"), filepath.Join(d, "26-dangling"))
		write(t, filepath.Join(global, "post-receive.d", "notify"), "#!/bin/sh\n", 0o755)
		write(t, filepath.Join(global, "unknown.d", "x"), "#!/bin/sh\n", 0o755)

		h, err := hooks.Find(global, repo)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{own, filepath.Join(d, "10-a"), filepath.Join(d, "20-b"), filepath.Join(d, "25-link")}
		if got := h.Paths(hooks.PreReceive); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("pre-receive = %v, want %v", got, want)
		}
		if got := h.Paths(hooks.Update); len(got) != 0 {
			t.Errorf("update = %v, want none", got)
		}
		if got := h.Paths(hooks.PostReceive); len(got) != 1 || filepath.Base(got[0]) != "notify" {
			t.Errorf("post-receive = %v", got)
		}
	})
}

// push returns a Push over one hook of kind k with body, its output in
// out.
func push(t *testing.T, k string, body string, out *bytes.Buffer) *hooks.Push {
	t.Helper()
	repo, global := t.TempDir(), t.TempDir()
	write(t, filepath.Join(global, k+".d", "hook"), "#!/bin/sh\n"+body, 0o755)
	h, err := hooks.Find(global, repo)
	if err != nil || h == nil {
		t.Fatalf("Find: %v, %v", h, err)
	}
	return &hooks.Push{Hooks: h, GitDir: repo, Repo: "alice/r", User: "alice", KeyFingerprint: "SHA256:abc", Out: out}
}

var upd = gatehouse.RefUpdate{Name: "refs/heads/main", Old: strings.Repeat("0", 40), New: strings.Repeat("1", 40)}

func TestInterface(t *testing.T) {
	t.Setenv("GATEHOUSE_SECRET", "s3cret")
	var out bytes.Buffer
	p := push(t, "pre-receive", `
cat
echo "dir=$(pwd) git=$GIT_DIR user=$GATEHOUSE_USER repo=$GATEHOUSE_REPO key=$GATEHOUSE_KEY_FINGERPRINT proto=$GATEHOUSE_PROTOCOL"
echo "q=$GIT_QUARANTINE_PATH o=$GIT_OBJECT_DIRECTORY alt=$GIT_ALTERNATE_OBJECT_DIRECTORIES"
echo "opts=$GIT_PUSH_OPTION_COUNT:$GIT_PUSH_OPTION_0:$GIT_PUSH_OPTION_1"
echo "secret=${GATEHOUSE_SECRET-unset}" >&2
`, &out)
	p.Options = []string{"a=1", "b"}
	q := filepath.Join(p.GitDir, "objects", "tmp_objdir-incoming-x")
	if err := p.PreReceive(context.Background(), q, []gatehouse.RefUpdate{upd}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		upd.Old + " " + upd.New + " " + upd.Name + "\n",
		"dir=" + p.GitDir + " git=" + p.GitDir + " user=alice repo=alice/r key=SHA256:abc proto=ssh\n",
		"q=" + q + " o=" + q + " alt=" + filepath.Join(p.GitDir, "objects") + "\n",
		"opts=2:a=1:b\n",
		"secret=unset\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestUpdateArgsAndRefusal(t *testing.T) {
	var out bytes.Buffer
	p := push(t, "update", `echo "args: $*"; test -z "$GIT_PUSH_OPTION_COUNT"; exit 7`, &out)
	err := p.Update(context.Background(), "", upd)
	if !errors.Is(err, hooks.ErrDeclined) {
		t.Fatalf("Update = %v, want ErrDeclined", err)
	}
	if want := "args: " + upd.Name + " " + upd.Old + " " + upd.New + "\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
}

// A hook past its timeout is killed with its process group, a child in
// the background included, and refuses.
func TestTimeoutKillsGroup(t *testing.T) {
	var out bytes.Buffer
	pidFile := filepath.Join(t.TempDir(), "pid")
	p := push(t, "pre-receive", "sleep 300 &\necho $! > "+pidFile+"\nsleep 300\n", &out)
	p.Timeout = 300 * time.Millisecond
	err := p.PreReceive(context.Background(), "", []gatehouse.RefUpdate{upd})
	if !errors.Is(err, hooks.ErrTimeout) || !errors.Is(err, hooks.ErrDeclined) {
		t.Fatalf("PreReceive = %v, want ErrTimeout", err)
	}
	b, _ := os.ReadFile(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil && !zombie(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d survived", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "timed out") {
		t.Errorf("output %q does not say the hook timed out", out.String())
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

// A hook printing far more than the bound gets through quickly: its
// output is read to the end but only the bound is forwarded.
func TestOutputBounded(t *testing.T) {
	var out bytes.Buffer
	p := push(t, "post-receive", "head -c 50000000 /dev/zero | tr '\\0' 'x'\nprintf '\\033[31mred\\n'\n", &out)
	p.MaxOutput = 64 << 10
	p.PostReceive(context.Background(), []gatehouse.RefUpdate{upd})
	if out.Len() > p.MaxOutput+200 {
		t.Errorf("forwarded %d bytes, bound %d", out.Len(), p.MaxOutput)
	}
	if !strings.Contains(out.String(), "hook output cut") {
		t.Errorf("no note of the cut in %d bytes", out.Len())
	}

	out.Reset()
	p = push(t, "post-receive", "i=0; while [ $i -lt 50 ]; do echo line $i; i=$((i+1)); done\nprintf '\\033[31mred\\n'\n", &out)
	p.MaxLines = 10
	p.PostReceive(context.Background(), []gatehouse.RefUpdate{upd})
	if n := strings.Count(out.String(), "line "); n != 10 {
		t.Errorf("forwarded %d lines, bound 10:\n%s", n, out.String())
	}

	out.Reset()
	p = push(t, "post-receive", "printf '\\033[31mred\\n'\nexit 1\n", &out)
	p.PostReceive(context.Background(), []gatehouse.RefUpdate{upd})
	if out.String() != "?[31mred\n" {
		t.Errorf("escape sequence forwarded as %q", out.String())
	}
}

// BenchmarkPostReceive times one run of a trivial post-receive hook.
func BenchmarkPostReceive(b *testing.B) {
	repo, global := b.TempDir(), b.TempDir()
	path := filepath.Join(global, "post-receive.d", "hook")
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte("#!/bin/sh\ncat >/dev/null\n"), 0o755)
	h, err := hooks.Find(global, repo)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		p := &hooks.Push{Hooks: h, GitDir: repo, Out: io.Discard}
		p.PostReceive(context.Background(), []gatehouse.RefUpdate{upd})
	}
}

// BenchmarkFindNone times what a push pays when no hook is installed:
// a repository with an empty hooks/ and a data folder with no hooks/.
func BenchmarkFindNone(b *testing.B) {
	repo := b.TempDir()
	os.Mkdir(filepath.Join(repo, "hooks"), 0o755)
	global := filepath.Join(b.TempDir(), "hooks")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if h, err := hooks.Find(global, repo); h != nil || err != nil {
			b.Fatal(h, err)
		}
	}
}

// blockedWriter is a client that stops reading: every Write blocks until
// release is closed.
type blockedWriter struct {
	release chan struct{}
	writes  atomic.Int32
}

func (w *blockedWriter) Write(b []byte) (int, error) {
	w.writes.Add(1)
	<-w.release
	return len(b), nil
}

// waitGone waits until pid has exited (or is a zombie).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil && !zombie(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d survived", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, _ := os.ReadFile(path)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %s: %q", path, b)
	}
	return pid
}

// A client that stops reading while a hook prints does not hold the push
// past the hook's timeout: the hook is killed with its group, the hooks
// return, the rest of the push's hook output is dropped, and Wait waits
// for the write in flight until the client reads again.
func TestBlockedClientDoesNotHoldPush(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	p := push(t, "pre-receive", "sleep 300 &\necho $! > "+pidFile+"\nwhile :; do echo 'lots of output'; done\n", nil)
	w := &blockedWriter{release: make(chan struct{})}
	released := false
	release := func() {
		if !released {
			released = true
			close(w.release)
		}
	}
	t.Cleanup(release)
	p.Out = w
	p.Timeout = 500 * time.Millisecond

	done := make(chan error, 1)
	go func() { done <- p.PreReceive(context.Background(), "", []gatehouse.RefUpdate{upd}) }()
	select {
	case err := <-done:
		if !errors.Is(err, hooks.ErrTimeout) {
			t.Fatalf("PreReceive = %v, want ErrTimeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("PreReceive still blocked on a client that does not read, 10s after the hook's 500ms timeout")
	}
	waitGone(t, readPid(t, pidFile))
	if n := w.writes.Load(); n != 1 {
		t.Fatalf("%d writes to the client, want the one in flight", n)
	}

	// The next hook runs, its output dropped: nothing more is written
	// while a write is in flight.
	if err := p.Update(context.Background(), "", upd); err != nil {
		t.Fatalf("Update with no update hook: %v", err)
	}
	q := push(t, "post-receive", "echo more\n", nil)
	p.Hooks = q.Hooks
	p.PostReceive(context.Background(), []gatehouse.RefUpdate{upd})
	if n := w.writes.Load(); n != 1 {
		t.Fatalf("%d writes to the client after the output was dropped", n)
	}

	waited := make(chan struct{})
	go func() { p.Wait(); close(waited) }()
	select {
	case <-waited:
		t.Fatal("Wait returned while a write was in flight")
	case <-time.After(200 * time.Millisecond):
	}
	release()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return once the write did")
	}
}

// Closing the Group (the server shutting down) kills a running hook with
// its process group, post-receive included, which a client gone does not
// stop; no hook starts after it.
func TestGroupCloseKillsHooks(t *testing.T) {
	dir := t.TempDir()
	hookPid, childPid := filepath.Join(dir, "hook"), filepath.Join(dir, "child")
	var out bytes.Buffer
	p := push(t, "post-receive", "echo $$ > "+hookPid+".tmp; mv "+hookPid+".tmp "+hookPid+"\nsleep 300 &\necho $! > "+childPid+".tmp; mv "+childPid+".tmp "+childPid+"\nwait\n", &out)
	p.Timeout = time.Minute
	var g hooks.Group
	p.Group = &g
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		p.PostReceive(ctx, []gatehouse.RefUpdate{upd})
		close(done)
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(childPid); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hook did not start")
		}
	}
	cancel() // the client goes: post-receive goes on
	select {
	case <-done:
		t.Fatal("post-receive ended with the client")
	case <-time.After(200 * time.Millisecond):
	}

	g.Close()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Error("post-receive still running a second after Close")
	}
	waitGone(t, readPid(t, hookPid))
	waitGone(t, readPid(t, childPid))

	q := push(t, "pre-receive", "exit 0\n", &out)
	q.Group = &g
	if err := q.PreReceive(context.Background(), "", []gatehouse.RefUpdate{upd}); !errors.Is(err, hooks.ErrShutdown) || !errors.Is(err, hooks.ErrDeclined) {
		t.Errorf("PreReceive after Close = %v, want ErrDeclined and ErrShutdown", err)
	}
}
