package indexpack_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
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

// TestQuarantineIsObjectDirectory: real git, pointed at the quarantine
// the way receive-pack points its hooks at it, reads the pushed commit
// and walks its history into the repository's own objects; the
// repository alone does not have it until Install.
func TestQuarantineIsObjectDirectory(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	gittest.Run(t, dir, "init", "-q", "-b", "main", work)
	os.WriteFile(filepath.Join(work, "a.txt"), []byte("one\n"), 0o644)
	gittest.Run(t, work, "add", ".")
	gittest.Run(t, work, "commit", "-q", "-m", "one")
	first := gittest.Run(t, work, "rev-parse", "HEAD")
	repo := filepath.Join(dir, "repo.git")
	gittest.Run(t, dir, "clone", "-q", "--bare", "--no-local", work, repo)
	os.WriteFile(filepath.Join(work, "policy.txt"), []byte("forbidden\n"), 0o644)
	gittest.Run(t, work, "add", ".")
	gittest.Run(t, work, "commit", "-q", "-m", "two")
	second := gittest.Run(t, work, "rev-parse", "HEAD")
	pack, _, err := gittest.Cmd{Dir: work, Stdin: second + "\n^" + first + "\n"}.Exec(t, "pack-objects", "-q", "--revs", "--stdout", "--thin")
	if err != nil {
		t.Fatal(err)
	}
	in, err := indexpack.Receive(context.Background(), repo, strings.NewReader(pack), indexpack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Abort()
	q := in.ObjectDir()
	if q == "" || !strings.HasPrefix(q, filepath.Join(repo, "objects")+string(filepath.Separator)) {
		t.Fatalf("ObjectDir() = %q, want a directory in %s/objects", q, repo)
	}
	if packs, _ := filepath.Glob(filepath.Join(q, "pack", "pack-"+in.Checksum()+".*")); len(packs) != 2 {
		t.Errorf("quarantine pack/ holds %v, want pack-%s.pack and .idx", packs, in.Checksum())
	}
	env := []string{"GIT_DIR=" + repo, "GIT_OBJECT_DIRECTORY=" + q, "GIT_ALTERNATE_OBJECT_DIRECTORIES=" + filepath.Join(repo, "objects"), "GIT_QUARANTINE_PATH=" + q}
	if got := (gittest.Cmd{Dir: repo, Env: env}).Run(t, "cat-file", "-p", second+":policy.txt"); got != "forbidden" {
		t.Errorf("policy.txt through the quarantine = %q", got)
	}
	if got := (gittest.Cmd{Dir: repo, Env: env}).Run(t, "log", "--format=%s", second); got != "two\none" {
		t.Errorf("log through the quarantine = %q, want two and one", got)
	}
	if _, _, err := (gittest.Cmd{Dir: repo}).Exec(t, "cat-file", "-e", second); err == nil {
		t.Error("the repository has the pushed commit before Install")
	}
	if err := in.Install(); err != nil {
		t.Fatal(err)
	}
	gittest.Run(t, repo, "cat-file", "-e", second)
	if out, errOut, err := (gittest.Cmd{Dir: repo}).Exec(t, "fsck", "--full", "--no-dangling"); err != nil {
		t.Fatalf("fsck: %v\n%s%s", err, out, errOut)
	}
}
