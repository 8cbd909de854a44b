package indexpack_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"gatehouse/gittest"
	"gatehouse/repos/indexpack"
	"gatehouse/repos/maintain"
)

// A sweep running while a receive is midway (its input blocked) leaves
// that receive's quarantine alone, and the receive then completes; one
// left by a receiver that is gone is removed.
func TestSweepSparesLiveQuarantine(t *testing.T) {
	f := newFixture(t)
	data := f.packOf(t, "main\n", "--revs")
	repo := bareRepo(t, "", "")
	dead := filepath.Join(repo, "objects", "tmp_objdir-incoming-dead")
	if err := os.Mkdir(dead, 0o755); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	type result struct {
		in  *indexpack.Incoming
		err error
	}
	done := make(chan result, 1)
	go func() {
		in, err := indexpack.Receive(context.Background(), repo, pr, indexpack.Options{})
		if err != nil {
			pr.CloseWithError(err) // so the test's writes end
		}
		done <- result{in, err}
	}()
	// Once Write returns, Receive has read half the pack into its
	// quarantine and waits for the rest.
	if _, err := pw.Write(data[:len(data)/2]); err != nil {
		t.Fatal(err)
	}
	live, _ := filepath.Glob(filepath.Join(repo, "objects", "tmp_objdir-incoming-*"))
	if len(live) != 2 {
		t.Fatalf("quarantines %v", live)
	}
	swept, err := maintain.Sweep(repo, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(swept) != 1 || swept[0].Path != dead {
		t.Fatalf("swept %+v, want only %s", swept, dead)
	}
	for _, q := range live {
		if _, err := os.Stat(q); err != nil && q != dead {
			t.Fatalf("live quarantine removed: %v", err)
		}
	}
	if _, err := pw.Write(data[len(data)/2:]); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("receive after the sweep: %v", r.err)
	}
	if err := r.in.Install(); err != nil {
		t.Fatal(err)
	}
	r.in.Abort()
	gittest.Run(t, repo, "update-ref", "refs/heads/main", f.c2)
	gittest.Run(t, repo, "fsck", "--full", "--strict")
	if left, _ := filepath.Glob(filepath.Join(repo, "objects", "tmp_objdir-incoming-*")); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}
