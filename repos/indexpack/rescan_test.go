package indexpack_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/gittest"
	"gatehouse/repos/indexpack"
)

// TestLookupRescansOnMiss: an object in a pack installed after the
// repository's packs were listed (a concurrent repack or push) is found,
// not reported missing: a miss lists the packs again before it is
// believed.
func TestLookupRescansOnMiss(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	gittest.Run(t, dir, "init", "-q", "-b", "main", work)
	os.WriteFile(filepath.Join(work, "a.txt"), []byte("one\n"), 0o644)
	gittest.Run(t, work, "add", ".")
	gittest.Run(t, work, "commit", "-q", "-m", "one")
	first := gittest.Run(t, work, "rev-parse", "HEAD")
	repo := filepath.Join(dir, "repo.git")
	gittest.Run(t, dir, "clone", "-q", "--bare", "--no-local", work, repo)

	os.WriteFile(filepath.Join(work, "a.txt"), []byte("two\n"), 0o644)
	gittest.Run(t, work, "commit", "-q", "-am", "two")
	second := gittest.Run(t, work, "rev-parse", "HEAD")
	// The second commit's pack, to be installed later.
	sum := gittest.Cmd{Dir: work, Stdin: second + "\n^" + first + "\n"}.Run(t, "pack-objects", "-q", "--revs", filepath.Join(dir, "later"))

	// Any pack will do to start a push: one blob.
	blob := gittest.Cmd{Dir: work, Stdin: "pushed\n"}.Run(t, "hash-object", "-w", "--stdin")
	incoming, _, err := gittest.Cmd{Dir: work, Stdin: blob + "\n"}.Exec(t, "pack-objects", "-q", "--stdout")
	if err != nil {
		t.Fatalf("pack-objects: %v", err)
	}
	in, err := indexpack.Receive(context.Background(), repo, strings.NewReader(incoming), indexpack.Options{})
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
