package indexpack_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"gatehouse/repos/indexpack"
)

// TestLookupRescansOnMiss: an object in a pack installed after the
// repository's packs were listed (a concurrent repack or push) is found,
// not reported missing: a miss lists the packs again before it is
// believed.
func TestLookupRescansOnMiss(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	git(t, dir, nil, "init", "-q", "-b", "main", work)
	os.WriteFile(filepath.Join(work, "a.txt"), []byte("one\n"), 0o644)
	git(t, work, nil, "add", ".")
	git(t, work, nil, "commit", "-q", "-m", "one")
	first := git(t, work, nil, "rev-parse", "HEAD")
	repo := filepath.Join(dir, "repo.git")
	git(t, dir, nil, "clone", "-q", "--bare", "--no-local", work, repo)

	os.WriteFile(filepath.Join(work, "a.txt"), []byte("two\n"), 0o644)
	git(t, work, nil, "commit", "-q", "-am", "two")
	second := git(t, work, nil, "rev-parse", "HEAD")
	// The second commit's pack, to be installed later.
	sum := git(t, work, []byte(second+"\n^"+first+"\n"), "pack-objects", "-q", "--revs", filepath.Join(dir, "later"))

	// Any pack will do to start a push: one blob.
	blob := git(t, work, []byte("pushed\n"), "hash-object", "-w", "--stdin")
	incoming, err := gitErr(t, work, []byte(blob+"\n"), "pack-objects", "-q", "--stdout")
	if err != nil {
		t.Fatalf("pack-objects: %v", err)
	}
	in, err := indexpack.Receive(context.Background(), repo, bytes.NewReader(incoming), indexpack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Abort()
	// This lists the repository's packs.
	if err := in.CheckConnected(context.Background(), []string{first}); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".pack", ".idx"} {
		b, err := os.ReadFile(filepath.Join(dir, "later-"+sum+ext))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, "objects", "pack", "pack-"+sum+ext), b, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.CheckConnected(context.Background(), []string{second}); err != nil {
		t.Errorf("commit of a pack installed since the listing: %v", err)
	}
}
