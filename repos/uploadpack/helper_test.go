package uploadpack_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/repos/uploadpack"
)

// The test binary doubles as the upload-pack command git runs: git calls
// "<command> '<repo path>'" through the shell, so the repository is the
// last argument. Each run appends "ok" or the error to the file named by
// resultEnv, so tests can tell what Serve returned.
const (
	helperEnv = "GATEHOUSE_TEST_UPLOADPACK"
	resultEnv = "GATEHOUSE_TEST_UPLOADPACK_RESULT"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(runHelper())
	}
	os.Exit(m.Run())
}

func runHelper() int {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := os.Args[len(os.Args)-1]
	err := uploadpack.Serve(ctx, dir, os.Stdin, os.Stdout, uploadpack.Options{
		Agent:    "gatehouse/test",
		Protocol: os.Getenv("GIT_PROTOCOL"),
	})
	result := "ok"
	if err != nil {
		result = "error: " + err.Error()
		fmt.Fprintln(os.Stderr, "uploadpack:", err)
	}
	if p := os.Getenv(resultEnv); p != "" {
		f, ferr := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if ferr == nil {
			fmt.Fprintln(f, result)
			f.Close()
		}
	}
	if err != nil {
		return 1
	}
	return 0
}

// gitEnv is a sandbox for running real git: its own HOME, no system
// config, fixed identities and a clock that ticks once per command so
// commits are reproducible.
type gitEnv struct {
	t       *testing.T
	root    string
	exe     string // this test binary, as the upload-pack command
	results string // the helper's result log
	clock   int64
	// step is how the clock moves per command: 1 normally, 0 or negative
	// to test equal or skewed commit times.
	step int64
}

func newGitEnv(t *testing.T) *gitEnv {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git not installed (.ci/run installs it)")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "home"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &gitEnv{t: t, root: root, exe: exe, results: filepath.Join(root, "results.log"), clock: 1_700_000_000, step: 1}
}

// path returns a path inside the sandbox.
func (e *gitEnv) path(name string) string { return filepath.Join(e.root, name) }

// url is the file:// URL of a repository in the sandbox.
func (e *gitEnv) url(name string) string { return "file://" + e.path(name) }

func (e *gitEnv) environ(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") && !strings.HasPrefix(kv, "GATEHOUSE_") &&
			!strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "GORACE=") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			env = append(env, kv)
		}
	}
	e.clock += e.step
	date := fmt.Sprintf("@%d +0000", e.clock)
	env = append(env,
		"HOME="+e.path("home"),
		"XDG_CONFIG_HOME="+e.path("home"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com", "GIT_AUTHOR_DATE="+date,
		"GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.com", "GIT_COMMITTER_DATE="+date,
		// A race-enabled helper otherwise sleeps a second on exit.
		"GORACE=atexit_sleep_ms=0",
		helperEnv+"=1",
		resultEnv+"="+e.results,
	)
	return append(env, extra...)
}

// run runs git in dir (relative to the sandbox) and returns its stdout
// and stderr.
func (e *gitEnv) run(dir string, extraEnv []string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = e.path(dir)
	cmd.Env = e.environ(extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("git %s: timed out", strings.Join(args, " "))
	}
	return stdout.String(), stderr.String(), err
}

// git runs git in dir and fails the test if it fails.
func (e *gitEnv) git(dir string, args ...string) string {
	e.t.Helper()
	out, errOut, err := e.run(dir, nil, args...)
	if err != nil {
		e.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// up runs a client command (clone, fetch, ls-remote) against our
// upload-pack with protocol v0 and progress, and fails the test if it
// fails. It returns stdout and stderr.
func (e *gitEnv) up(dir string, args ...string) (string, string) {
	e.t.Helper()
	out, errOut, err := e.upRun(dir, nil, args...)
	if err != nil {
		e.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out, errOut
}

// upRun is up without failing, with extra environment.
func (e *gitEnv) upRun(dir string, env []string, args ...string) (string, string, error) {
	cmd := args[0]
	full := []string{"-c", "protocol.version=0", cmd, "--upload-pack=" + e.exe}
	if cmd == "clone" || cmd == "fetch" {
		full = append(full, "--progress")
	}
	return e.run(dir, env, append(full, args[1:]...)...)
}

// commit writes a file in the work tree at dir and commits it.
func (e *gitEnv) commit(dir, file, content string) {
	e.t.Helper()
	p := filepath.Join(e.path(dir), file)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.git(dir, "add", file)
	e.git(dir, "commit", "-q", "-m", "change "+file)
}

// commits adds n commits to the branch checked out in the work tree at
// dir, each changing file, with git fast-import (many times quicker than
// n commit commands), and updates the work tree.
func (e *gitEnv) commits(dir, file string, n int) {
	e.t.Helper()
	branch := strings.TrimSpace(e.git(dir, "symbolic-ref", "HEAD"))
	var in strings.Builder
	for i := 0; i < n; i++ {
		e.clock += e.step
		content := fmt.Sprintf("%s %d\n", file, i)
		msg := fmt.Sprintf("%s %d", file, i)
		fmt.Fprintf(&in, "commit %s\ncommitter Ada <ada@example.com> %d +0000\ndata %d\n%s\n", branch, e.clock, len(msg), msg)
		if i == 0 {
			fmt.Fprintf(&in, "from %s^0\n", branch)
		}
		fmt.Fprintf(&in, "M 644 inline %s\ndata %d\n%s\n", file, len(content), content)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "fast-import", "--quiet")
	cmd.Dir = e.path(dir)
	cmd.Env = e.environ()
	cmd.Stdin = strings.NewReader(in.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("fast-import: %v\n%s", err, out)
	}
	e.git(dir, "reset", "-q", "--hard")
}

// results returns the helper's results so far and forgets them.
func (e *gitEnv) takeResults() []string {
	e.t.Helper()
	b, err := os.ReadFile(e.results)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	os.Remove(e.results)
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// wantResults fails unless Serve ran n times and always returned nil.
func (e *gitEnv) wantResults(n int) {
	e.t.Helper()
	got := e.takeResults()
	if len(got) != n {
		e.t.Fatalf("upload-pack ran %d times, want %d: %q", len(got), n, got)
	}
	for _, r := range got {
		if r != "ok" {
			e.t.Fatalf("upload-pack failed: %s", r)
		}
	}
}

// newServer makes a bare repository "server.git" and a work tree "work"
// that pushes to it, with one commit on main.
func (e *gitEnv) newServer() {
	e.t.Helper()
	e.git("", "init", "-q", "--bare", "-b", "main", "server.git")
	e.git("", "init", "-q", "-b", "main", "work")
	e.git("work", "remote", "add", "origin", e.path("server.git"))
	e.commit("work", "README", "hello\n")
	e.git("work", "push", "-q", "origin", "main")
}

var totalRE = regexp.MustCompile(`remote: Total (\d+)`)

// total parses the object count our upload-pack reported.
func total(t *testing.T, stderr string) int {
	t.Helper()
	m := totalRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no \"remote: Total\" in:\n%s", stderr)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// countLines counts the non-empty lines of s.
func countLines(s string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	return n
}
