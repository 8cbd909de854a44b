package archive_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse"
	"gatehouse/gittest"
	"gatehouse/repos/archive"
	"gatehouse/repos/pktline"
)

// newRepo makes a bare repository whose main holds a 10 KiB file.
func newRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	gittest.Run(t, dir, "init", "-q", "-b", "main", work)
	os.WriteFile(filepath.Join(work, "big.txt"), bytes.Repeat([]byte("0123456789\n"), 1000), 0o644)
	gittest.Run(t, work, "add", ".")
	gittest.Run(t, work, "commit", "-q", "-m", "one")
	gittest.Run(t, dir, "clone", "-q", "--bare", work, "repo.git")
	return filepath.Join(dir, "repo.git")
}

func request(args ...string) []byte {
	var b bytes.Buffer
	w := pktline.NewWriter(&b)
	for _, a := range args {
		w.WriteString("argument " + a)
	}
	w.Flush()
	return b.Bytes()
}

// firstLine returns the first pkt-line of out.
func firstLine(t *testing.T, out []byte) string {
	t.Helper()
	_, line, err := pktline.NewReader(bytes.NewReader(out)).ReadLine()
	if err != nil {
		t.Fatalf("read answer: %v (%q)", err, out)
	}
	return line
}

func TestSizeBound(t *testing.T) {
	repo := newRepo(t)
	for _, tc := range []struct {
		max  int64
		want string
	}{
		{1000, "NACK archive larger than the server's limit of 1000 bytes"},
		{20000, "ACK"},
	} {
		var out bytes.Buffer
		err := archive.Serve(context.Background(), repo, bytes.NewReader(request("--format=tar", "main")), &out, archive.Options{MaxSize: tc.max})
		if got := firstLine(t, out.Bytes()); got != tc.want {
			t.Errorf("MaxSize %d: %q, want %q", tc.max, got, tc.want)
		}
		if (err != nil) != (tc.want != "ACK") || (err != nil && !errors.Is(err, gatehouse.ErrInvalid)) {
			t.Errorf("MaxSize %d: Serve returned %v", tc.max, err)
		}
	}
}

func TestRefusedArguments(t *testing.T) {
	repo := newRepo(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--output=/tmp/x", "main"}, "NACK option '--output=/tmp/x' is not supported remotely"},
		{[]string{"--remote=elsewhere", "main"}, "NACK option '--remote=elsewhere' is not supported remotely"},
		{[]string{"--format=tar"}, "NACK no tree-ish given"},
		{[]string{"main:nodir"}, "NACK current working directory is untracked"},
	} {
		var out bytes.Buffer
		err := archive.Serve(context.Background(), repo, bytes.NewReader(request(tc.args...)), &out, archive.Options{})
		if got := firstLine(t, out.Bytes()); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%v: %q, want %q", tc.args, got, tc.want)
		}
		if !errors.Is(err, gatehouse.ErrInvalid) {
			t.Errorf("%v: Serve returned %v", tc.args, err)
		}
	}
	// Not pkt-lines at all, or a hang-up: an error, not a hang.
	for _, in := range []string{"garbage!", "", "0010argument m"} {
		if err := archive.Serve(context.Background(), repo, strings.NewReader(in), &bytes.Buffer{}, archive.Options{}); err == nil {
			t.Errorf("input %q accepted", in)
		}
	}
}
