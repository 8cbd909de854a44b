// Package hooks runs a push's server hooks with git's interface, as git's
// run-hook machinery does for receive-pack, so existing hook scripts work:
//
//   - pre-receive reads "OLD NEW REF" lines on stdin, once for the whole
//     push; a non-zero exit refuses every update.
//   - update is run once per ref with the arguments REF OLD NEW; a
//     non-zero exit refuses that ref.
//   - post-receive reads the lines of the refs that moved, after they
//     moved; its exit status changes nothing.
//
// Hooks before the update see the incoming objects in quarantine through
// GIT_OBJECT_DIRECTORY, GIT_ALTERNATE_OBJECT_DIRECTORIES and
// GIT_QUARANTINE_PATH, set as git sets them. Each hook gets a clean
// environment (PATH, HOME and LANG of the server, nothing else of it;
// nothing of the client's), runs in the repository directory in its own
// process group, and is killed with that group past the timeout, which
// counts as a refusal, or when the server shuts down (Group.Close). Its
// stdout and stderr reach the client as they come (git shows them as
// "remote:" lines), bounded per push; a client that does not read them
// holds no hook past its end.
//
// Hooks are installed only through the server's file system (see Find);
// nothing a client sends creates or changes one.
package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"gatehouse"
)

// Defaults for the zero Push fields.
const (
	// DefaultTimeout bounds each hook's run.
	DefaultTimeout = time.Minute
	// DefaultMaxOutput bounds the bytes of hook output forwarded to the
	// client in one push; the rest is read and dropped.
	DefaultMaxOutput = 1 << 20
	// DefaultMaxLines bounds the lines of hook output forwarded in one
	// push.
	DefaultMaxLines = 10000
)

// ErrDeclined: a hook exited non-zero, could not be run, or ran past its
// timeout.
var ErrDeclined = errors.New("hook declined")

// ErrTimeout: a hook ran past its timeout and was killed with its process
// group. It matches ErrDeclined too.
var ErrTimeout = fmt.Errorf("%w: timed out", ErrDeclined)

// Push is one push's hooks and what they are told. Set the exported
// fields, then call PreReceive, Update and PostReceive in that order. It
// is not safe for concurrent use.
type Push struct {
	Hooks *Hooks
	// GitDir is the repository's absolute path.
	GitDir string
	// Repo is OWNER/NAME; User the pusher's name; KeyFingerprint the
	// SHA256 fingerprint of the key that authenticated the push.
	Repo, User, KeyFingerprint string
	// Options are the client's push options (git push -o).
	Options []string
	// Out receives the hooks' output as it comes (the client's progress
	// band); nil drops it.
	Out io.Writer
	// Timeout bounds each hook; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxOutput and MaxLines bound what reaches Out over the whole push;
	// 0 means DefaultMaxOutput, DefaultMaxLines.
	MaxOutput, MaxLines int
	// Group, when set, is the server's: its Close kills the hooks still
	// running, post-receive included, which a client gone does not stop.
	Group  *Group
	Logger *slog.Logger

	out *output
}

// PreReceive runs the pre-receive hooks with the updates on stdin, in
// order, stopping at the first refusal. quarantine is the directory that
// holds the push's objects ("" when it sent none).
//
// Errors: ErrDeclined (ErrTimeout) when a hook refused.
func (p *Push) PreReceive(ctx context.Context, quarantine string, updates []gatehouse.RefUpdate) error {
	stdin := lines(updates)
	for _, path := range p.Hooks.Paths(PreReceive) {
		if err := p.run(ctx, PreReceive, path, nil, stdin, quarantine); err != nil {
			return err
		}
	}
	return nil
}

// Update runs the update hooks for one ref, stopping at the first
// refusal.
//
// Errors: ErrDeclined (ErrTimeout) when a hook refused.
func (p *Push) Update(ctx context.Context, quarantine string, u gatehouse.RefUpdate) error {
	for _, path := range p.Hooks.Paths(Update) {
		if err := p.run(ctx, Update, path, []string{u.Name, u.Old, u.New}, nil, quarantine); err != nil {
			return err
		}
	}
	return nil
}

// PostReceive runs every post-receive hook with the moved refs on stdin.
// The refs have moved, so nothing is refused: failures are logged only.
// It is not cut short when ctx is cancelled (a client gone does not stop
// what a push has set off), only by the timeout.
func (p *Push) PostReceive(ctx context.Context, updated []gatehouse.RefUpdate) {
	if len(updated) == 0 {
		return
	}
	stdin := lines(updated)
	ctx = context.WithoutCancel(ctx)
	for _, path := range p.Hooks.Paths(PostReceive) {
		p.run(ctx, PostReceive, path, nil, stdin, "")
	}
}

// Wait returns once no hook output is being written to Out. A hook that
// is done does not wait for a write the client does not read (the rest
// of the push's hook output is dropped then); the caller waits here
// before it writes to the client itself. That write returns when the
// client reads or the session ends.
func (p *Push) Wait() {
	if p != nil && p.out != nil {
		p.out.wait()
	}
}

// Has says whether any hook of kind k is there.
func (p *Push) Has(k Kind) bool { return p != nil && len(p.Hooks.Paths(k)) > 0 }

// lines is a receive hook's stdin.
func lines(us []gatehouse.RefUpdate) []byte {
	var b bytes.Buffer
	for _, u := range us {
		b.WriteString(u.Old + " " + u.New + " " + u.Name + "\n")
	}
	return b.Bytes()
}

// waitForStdin bounds how long a hook that has exited may leave its stdin
// unread (a child of it holding the pipe).
const waitForStdin = time.Second

// run runs one hook to its end or its deadline. The hook writes its
// stdout and stderr to one pipe, read here until every process holding it
// is gone or the deadline passes; then whatever remains of the hook's
// process group is killed.
func (p *Push) run(ctx context.Context, k Kind, path string, args []string, stdin []byte, quarantine string) error {
	start := time.Now()
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	deadline := start.Add(timeout)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	log := p.logger().With("hook", k.String(), "path", path)
	if g := p.Group; g != nil {
		if !g.add() {
			log.Info("hook not run: the server is shutting down")
			return fmt.Errorf("%w: %w", ErrDeclined, ErrShutdown)
		}
		defer g.wg.Done()
		var cancelShutdown context.CancelCauseFunc
		ctx, cancelShutdown = context.WithCancelCause(ctx)
		defer cancelShutdown(nil)
		stop := context.AfterFunc(g.context(), func() { cancelShutdown(ErrShutdown) })
		defer stop()
	}

	pr, pw, err := os.Pipe()
	if err != nil {
		log.Error("hook not run", "err", err)
		return fmt.Errorf("%w: %v", ErrDeclined, err)
	}
	defer pr.Close()
	cmd := exec.Command(path, args...)
	cmd.Dir = p.GitDir
	cmd.Env = p.env(quarantine)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = waitForStdin
	err = cmd.Start()
	pw.Close()
	if err != nil {
		log.Error("hook not run", "err", err)
		return fmt.Errorf("%w: %v", ErrDeclined, err)
	}
	pgid := cmd.Process.Pid
	pr.SetReadDeadline(deadline)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		p.output().copyFrom(pr)
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	var werr error
	select {
	case werr = <-waited:
	case <-ctx.Done():
		syscall.Kill(-pgid, syscall.SIGKILL)
		pr.SetReadDeadline(time.Now())
		werr = <-waited
	}
	// The output ends when the last process holding the pipe is gone, or
	// at the deadline; past it, the rest of the group goes. A copy still
	// under way then is held by a client that does not read what it was
	// sent: it is not waited for, and the push's hook output is dropped
	// from here on (see Wait).
	select {
	case <-copied:
	case <-ctx.Done():
		syscall.Kill(-pgid, syscall.SIGKILL)
		pr.SetReadDeadline(time.Now())
		select {
		case <-copied:
		case <-time.After(waitForStdin):
			p.output().drop()
			log.Warn("hook output dropped: the client does not read it")
		}
	}
	late := ctx.Err() != nil
	if late {
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	log.Debug("hook done", "exit", code, "took", time.Since(start))
	switch {
	case late && errors.Is(ctx.Err(), context.DeadlineExceeded):
		log.Warn("hook killed past its timeout", "timeout", timeout)
		p.output().note(fmt.Sprintf("%s hook %s timed out after %s", k, filepath.Base(path), timeout))
		return ErrTimeout
	case late:
		return fmt.Errorf("%w: %w", ErrDeclined, context.Cause(ctx))
	case code != 0:
		if code < 0 {
			log.Info("hook failed", "err", werr)
		}
		return fmt.Errorf("%w: %s exited with status %d", ErrDeclined, filepath.Base(path), code)
	}
	return nil
}

// ErrShutdown: the server shut down while a hook ran (it was killed) or
// before it could start.
var ErrShutdown = errors.New("server shutting down")

// Group is the hooks of a server's pushes. The zero Group is ready.
type Group struct {
	once   sync.Once
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool // guarded by mu
	wg     sync.WaitGroup
}

func (g *Group) context() context.Context {
	g.once.Do(func() { g.ctx, g.cancel = context.WithCancel(context.Background()) })
	return g.ctx
}

// add counts a hook in, unless the group is closed.
func (g *Group) add() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	return true
}

// Close kills the hooks still running, each with its process group, and
// waits until they are gone; no hook starts after it.
func (g *Group) Close() {
	g.context()
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.cancel()
	g.wg.Wait()
}

// env is a hook's whole environment: git's variables, the push's
// identity, and only PATH, HOME and LANG of the server's.
func (p *Push) env(quarantine string) []string {
	env := []string{
		"GIT_DIR=" + p.GitDir,
		"GATEHOUSE_USER=" + p.User,
		"GATEHOUSE_REPO=" + p.Repo,
		"GATEHOUSE_KEY_FINGERPRINT=" + p.KeyFingerprint,
		"GATEHOUSE_PROTOCOL=ssh",
	}
	for _, k := range []string{"PATH", "HOME", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		} else if k == "PATH" {
			env = append(env, "PATH=/usr/local/bin:/usr/bin:/bin")
		}
	}
	if quarantine != "" {
		// As git's tmp-objdir sets them: new objects go to (and are
		// read from) the quarantine, the repository's are alternates.
		env = append(env,
			"GIT_OBJECT_DIRECTORY="+quarantine,
			"GIT_ALTERNATE_OBJECT_DIRECTORIES="+quoteAlternate(filepath.Join(p.GitDir, "objects")),
			"GIT_QUARANTINE_PATH="+quarantine)
	}
	if len(p.Options) > 0 {
		env = append(env, "GIT_PUSH_OPTION_COUNT="+strconv.Itoa(len(p.Options)))
		for i, o := range p.Options {
			// No environment value holds a NUL.
			env = append(env, "GIT_PUSH_OPTION_"+strconv.Itoa(i)+"="+strings.ReplaceAll(o, "\x00", ""))
		}
	}
	return env
}

// quoteAlternate writes one entry of GIT_ALTERNATE_OBJECT_DIRECTORIES
// the way git's tmp-objdir does: as is, unless it starts with a double
// quote or holds the list separator, then C-quoted.
func quoteAlternate(dir string) string {
	if !strings.HasPrefix(dir, `"`) && !strings.Contains(dir, string(os.PathListSeparator)) {
		return dir
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(dir); i++ {
		switch c := dir[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < ' ' || c >= 0x7f:
			fmt.Fprintf(&b, `\%03o`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func (p *Push) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

func (p *Push) output() *output {
	if p.out == nil {
		p.out = &output{w: p.Out, bytes: p.MaxOutput, lines: p.MaxLines}
		if p.out.bytes <= 0 {
			p.out.bytes = DefaultMaxOutput
		}
		if p.out.lines <= 0 {
			p.out.lines = DefaultMaxLines
		}
	}
	return p.out
}
