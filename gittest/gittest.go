// Package gittest runs the real git for tests, in a clean and fixed
// environment: no system or user configuration, a fresh HOME, and a fixed
// author, committer and date, so the same commands make the same objects
// on every machine. Only tests import it.
package gittest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Timeout bounds one run of git; a run that takes longer is killed and
// reported as failed.
const Timeout = 5 * time.Minute

// Env returns the environment git runs in: the process's own, plus
// GIT_CONFIG_NOSYSTEM=1, HOME and XDG_CONFIG_HOME in a fresh temporary
// directory (so no user configuration is read), and a fixed author and
// committer, A U Thor <author@example.com> and C O Mitter
// <committer@example.com>, both dated 1700000000 +0000. The extra entries
// come last and win over the ones before them. Tests that build their own
// exec.Cmd (pipes, ssh) use it directly.
func Env(tb testing.TB, extra ...string) []string {
	tb.Helper()
	home := tb.TempDir()
	env := append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "HOME="+home, "XDG_CONFIG_HOME="+home,
		"GIT_AUTHOR_NAME=A U Thor", "GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_COMMITTER_NAME=C O Mitter", "GIT_COMMITTER_EMAIL=committer@example.com",
		"GIT_AUTHOR_DATE=1700000000 +0000", "GIT_COMMITTER_DATE=1700000000 +0000",
	)
	return append(env, extra...)
}

// Cmd describes one run of git. The zero value runs git with no input in
// a fresh temporary directory.
type Cmd struct {
	// Dir is the working directory. Empty means a fresh temporary
	// directory, never the directory of the test (which lies inside the
	// module's own repository).
	Dir string
	// Stdin is git's standard input.
	Stdin string
	// Input, when not nil, is read as git's standard input instead of
	// Stdin, for input streamed rather than held in memory.
	Input io.Reader
	// Env holds extra VAR=value entries added after Env's, so they win.
	Env []string
}

// Run runs git with args and returns its standard output with leading and
// trailing white space trimmed. If git fails, Run fails tb with git's
// standard error.
func (c Cmd) Run(tb testing.TB, args ...string) string {
	tb.Helper()
	out, _ := c.Output(tb, args...)
	return strings.TrimSpace(out)
}

// Output runs git with args and returns its standard output and standard
// error as they are, untrimmed. If git fails, Output fails tb with git's
// standard error.
func (c Cmd) Output(tb testing.TB, args ...string) (stdout, stderr string) {
	tb.Helper()
	stdout, stderr, err := c.Exec(tb, args...)
	if err != nil {
		tb.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return stdout, stderr
}

// Exec runs git with args and returns its standard output, its standard
// error and the error of the run (an *exec.ExitError when git exits
// non-zero), without failing tb.
func (c Cmd) Exec(tb testing.TB, args ...string) (stdout, stderr string, err error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = c.Dir
	if cmd.Dir == "" {
		cmd.Dir = tb.TempDir()
	}
	cmd.Env = Env(tb, c.Env...)
	cmd.Stdin = strings.NewReader(c.Stdin)
	if c.Input != nil {
		cmd.Stdin = c.Input
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", Timeout, err)
	}
	return o.String(), e.String(), err
}

// Run runs git with args in dir and returns its trimmed standard output,
// failing tb if git fails: Cmd{Dir: dir}.Run(tb, args...).
func Run(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	return Cmd{Dir: dir}.Run(tb, args...)
}
