package gittest_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"gatehouse/gittest"
)

// TestSameCommitEverywhere: two repositories make the same commit, since
// the identity and the dates are fixed.
func TestSameCommitEverywhere(t *testing.T) {
	commit := func() string {
		dir := t.TempDir()
		gittest.Run(t, dir, "init", "-q", "-b", "main")
		gittest.Run(t, dir, "commit", "-q", "--allow-empty", "-m", "one")
		return gittest.Run(t, dir, "rev-parse", "HEAD")
	}
	if a, b := commit(), commit(); a != b || len(a) != 40 {
		t.Fatalf("%q, %q", a, b)
	}
}

func TestStdinEnvAndOutput(t *testing.T) {
	dir := t.TempDir()
	gittest.Run(t, dir, "init", "-q", "--bare")
	id := gittest.Cmd{Dir: dir, Stdin: "hello\n"}.Run(t, "hash-object", "-w", "--stdin")
	if again := (gittest.Cmd{Dir: dir, Input: strings.NewReader("hello\n")}).Run(t, "hash-object", "--stdin"); again != id {
		t.Fatalf("streamed input: %s, want %s", again, id)
	}
	out, _ := gittest.Cmd{Dir: dir}.Output(t, "cat-file", "blob", id)
	if out != "hello\n" {
		t.Fatalf("untrimmed output %q", out)
	}
	got := gittest.Cmd{Dir: dir, Env: []string{"GIT_COMMITTER_NAME=Other"}}.Run(t, "var", "GIT_COMMITTER_IDENT")
	if !strings.HasPrefix(got, "Other <committer@example.com> 1700000000 +0000") {
		t.Fatalf("ident %q", got)
	}
}

func TestExecError(t *testing.T) {
	_, stderr, err := gittest.Cmd{}.Exec(t, "rev-parse", "--verify", "nothing")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || stderr == "" {
		t.Fatalf("err %v, stderr %q", err, stderr)
	}
}
