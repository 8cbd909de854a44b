package receivepack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/gittest"
	"gatehouse/repos/receivepack"
)

// The test binary doubles as the server: git runs it as its
// --receive-pack command with GATEHOUSE_TEST_RECEIVEPACK=1, and it serves
// the repository named by its last argument. Other variables adjust it:
//
//	GATEHOUSE_TEST_RESULT   file to write the PushResult and error to, as JSON
//	GATEHOUSE_TEST_MAXPACK  Options.MaxPackSize
//	GATEHOUSE_TEST_MAXOBJ   Options.MaxObjectSize
//	GATEHOUSE_TEST_MAXCMDS  Options.MaxCommands
//	GATEHOUSE_TEST_DENY     a ref name CheckRef refuses
//	GATEHOUSE_TEST_MOVE_REF "ref id": CheckRef moves ref to id with git
//	                        update-ref, as a concurrent push would
//	GATEHOUSE_TEST_SLOW     read stdin slowly, so a test can cut it mid-pack
//	GATEHOUSE_TEST_OWN_PGID leave git's process group, so killing that
//	                        group cuts the stream but spares the server
func TestMain(m *testing.M) {
	if os.Getenv("GATEHOUSE_TEST_RECEIVEPACK") == "1" {
		os.Exit(serveHelper())
	}
	os.Exit(m.Run())
}

// helperResult is what the helper process reports back.
type helperResult struct {
	Result *gatehouse.PushResult
	Err    string
}

func serveHelper() int {
	if os.Getenv("GATEHOUSE_TEST_OWN_PGID") == "1" {
		syscall.Setpgid(0, 0)
	}
	// A client gone must show as a write error, not kill us silently.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	repo := os.Args[len(os.Args)-1]
	opts := receivepack.Options{Agent: "gatehouse-test/1 with spaces"}
	if v := os.Getenv("GATEHOUSE_TEST_MAXPACK"); v != "" {
		opts.MaxPackSize, _ = strconv.ParseInt(v, 10, 64)
	}
	if v := os.Getenv("GATEHOUSE_TEST_MAXOBJ"); v != "" {
		opts.MaxObjectSize, _ = strconv.ParseInt(v, 10, 64)
	}
	if v := os.Getenv("GATEHOUSE_TEST_MAXCMDS"); v != "" {
		opts.MaxCommands, _ = strconv.Atoi(v)
	}
	var checks []func(gatehouse.RefUpdate) error
	if deny := os.Getenv("GATEHOUSE_TEST_DENY"); deny != "" {
		checks = append(checks, func(u gatehouse.RefUpdate) error {
			if u.Name == deny {
				return errors.New("denied by policy\nsecond line")
			}
			return nil
		})
	}
	if mv := os.Getenv("GATEHOUSE_TEST_MOVE_REF"); mv != "" {
		name, id, _ := strings.Cut(mv, " ")
		checks = append(checks, func(u gatehouse.RefUpdate) error {
			if u.Name == name {
				out, err := exec.Command("git", "--git-dir", repo, "update-ref", name, id).CombinedOutput()
				if err != nil {
					fmt.Fprintf(os.Stderr, "update-ref: %v %s\n", err, out)
				}
			}
			return nil
		})
	}
	if len(checks) > 0 {
		opts.CheckRef = func(u gatehouse.RefUpdate) error {
			for _, c := range checks {
				if err := c(u); err != nil {
					return err
				}
			}
			return nil
		}
	}
	var in io.Reader = os.Stdin
	if os.Getenv("GATEHOUSE_TEST_SLOW") == "1" {
		in = &slowReader{r: os.Stdin}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := receivepack.Serve(ctx, repo, in, os.Stdout, opts)
	hr := helperResult{Result: res}
	if err != nil {
		hr.Err = err.Error()
		fmt.Fprintln(os.Stderr, "receive-pack helper:", err)
	}
	if p := os.Getenv("GATEHOUSE_TEST_RESULT"); p != "" {
		b, _ := json.Marshal(hr)
		os.WriteFile(p+".tmp", b, 0o644)
		os.Rename(p+".tmp", p)
	}
	if err != nil {
		return 1
	}
	return 0
}

// slowReader hands out at most 16 KiB every 2 ms.
type slowReader struct{ r io.Reader }

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(2 * time.Millisecond)
	return s.r.Read(p[:min(len(p), 16<<10)])
}

// gitEnv is gittest's clean, fixed environment for real git.
func gitEnv(tb testing.TB) []string {
	// Under -race the helper would otherwise linger a second at exit.
	return gittest.Env(tb, "GORACE=atexit_sleep_ms=0")
}

// world is a bare repository to push to and a work repository to push from.
type world struct {
	t    *testing.T
	home string
	bare string
	work string
	exe  string
	n    int // pushes so far, to name result files
	mu   sync.Mutex
}

func newWorld(t *testing.T) *world {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	w := &world{t: t, home: filepath.Join(root, "home"), bare: filepath.Join(root, "bare.git"), work: filepath.Join(root, "work"), exe: exe}
	os.MkdirAll(w.home, 0o755)
	w.git("", "init", "-q", "--bare", w.bare)
	w.git("", "init", "-q", "-b", "main", w.work)
	return w
}

// run runs a command with a bounded time and returns its combined output.
func (w *world) run(dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(gitEnv(w.t), env...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// git runs git in dir and fails the test on error.
func (w *world) git(dir string, args ...string) string {
	w.t.Helper()
	out, err := w.run(dir, nil, "git", args...)
	if err != nil {
		w.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// commit writes files (name, content pairs) in the work repository and
// commits them, returning the new commit's id.
func (w *world) commit(msg string, files ...string) string {
	w.t.Helper()
	for i := 0; i+1 < len(files); i += 2 {
		p := filepath.Join(w.work, files[i])
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(files[i+1]), 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
	w.git(w.work, "add", "-A")
	w.git(w.work, "commit", "-q", "--allow-empty", "-m", msg)
	return w.git(w.work, "rev-parse", "HEAD")
}

// push runs git push from dir (the work repository when "") through the
// helper and returns git's output, its error and the helper's result.
func (w *world) push(dir string, env []string, args ...string) (string, error, helperResult) {
	w.t.Helper()
	if dir == "" {
		dir = w.work
	}
	w.mu.Lock()
	w.n++
	result := filepath.Join(w.home, fmt.Sprintf("result-%d.json", w.n))
	w.mu.Unlock()
	env = append([]string{"GATEHOUSE_TEST_RECEIVEPACK=1", "GATEHOUSE_TEST_RESULT=" + result}, env...)
	gitArgs := append([]string{"-c", "protocol.version=0", "push", "--receive-pack=" + w.exe, "file://" + w.bare}, args...)
	out, err := w.run(dir, env, "git", gitArgs...)
	var hr helperResult
	if b, rerr := os.ReadFile(result); rerr == nil {
		json.Unmarshal(b, &hr)
	}
	return out, err, hr
}

// mustPush pushes and fails the test unless git succeeds.
func (w *world) mustPush(args ...string) helperResult {
	w.t.Helper()
	out, err, hr := w.push("", nil, args...)
	if err != nil || hr.Err != "" {
		w.t.Fatalf("push %v: %v %s\n%s", args, err, hr.Err, out)
	}
	return hr
}

// ref returns a ref's id in the bare repository, "" if it does not exist.
func (w *world) ref(name string) string {
	out, err := w.run(w.bare, nil, "git", "rev-parse", "-q", "--verify", name)
	if err != nil {
		return ""
	}
	return out
}

// fsck checks the bare repository completely.
func (w *world) fsck() {
	w.t.Helper()
	w.git(w.bare, "fsck", "--full", "--strict", "--no-dangling")
}

// objects lists everything under the bare repository's objects folder.
func (w *world) objects() []string {
	var out []string
	root := filepath.Join(w.bare, "objects")
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// allRefs lists the bare repository's refs.
func (w *world) allRefs() string {
	return w.git(w.bare, "for-each-ref", "--format=%(objectname) %(refname)")
}

// serveRaw runs the helper directly with stdin and returns its stdout.
func (w *world) serveRaw(stdin []byte, env ...string) ([]byte, error, helperResult) {
	w.t.Helper()
	result := filepath.Join(w.home, fmt.Sprintf("raw-%d.json", time.Now().UnixNano()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.exe, w.bare)
	cmd.Env = append(gitEnv(w.t), append([]string{"GATEHOUSE_TEST_RECEIVEPACK=1", "GATEHOUSE_TEST_RESULT=" + result}, env...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var hr helperResult
	if b, rerr := os.ReadFile(result); rerr == nil {
		json.Unmarshal(b, &hr)
	}
	return stdout.Bytes(), err, hr
}

// pkt frames lines as pkt-lines.
func pkt(lines ...string) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		if l == "" {
			b.WriteString("0000")
			continue
		}
		fmt.Fprintf(&b, "%04x%s", len(l)+4, l)
	}
	return b.Bytes()
}

// packOf builds a pack in the work repository from revs.
func (w *world) packOf(revs string) []byte {
	w.t.Helper()
	out, _ := gittest.Cmd{Dir: w.work, Stdin: revs}.Output(w.t, "pack-objects", "--stdout", "-q", "--revs")
	return []byte(out)
}

// pkts splits a pkt-line stream, a flush as "". It stops at anything
// that is not a pkt-line.
func pkts(b []byte) []string {
	var out []string
	for len(b) >= 4 {
		n, err := strconv.ParseUint(string(b[:4]), 16, 16)
		if err != nil || (n > 0 && n < 4) || int(n) > len(b) {
			break
		}
		if n == 0 {
			out = append(out, "")
			b = b[4:]
			continue
		}
		out = append(out, string(b[4:n]))
		b = b[n:]
	}
	return out
}

// afterAdvertisement returns the packets after the first flush.
func afterAdvertisement(b []byte) []string {
	p := pkts(b)
	for i, l := range p {
		if l == "" {
			return p[i+1:]
		}
	}
	return nil
}
