package uploadpack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/gittest"
)

// TestObjectStore reads every object of a repository through the store,
// loose and then packed (small, large and deltified), and checks each
// against git's own cat-file.
func TestObjectStore(t *testing.T) {
	dir := t.TempDir()
	gittest.Run(t, dir, "init", "-q", "--bare", "r.git")
	repo := filepath.Join(dir, "r.git")
	gittest.Run(t, dir, "init", "-q", "w")
	work := filepath.Join(dir, "w")
	var big strings.Builder
	for i := 0; big.Len() < 3<<20; i++ {
		fmt.Fprintf(&big, "line %d of a file larger than the large-object threshold\n", i)
	}
	for i := range 3 {
		// Versions of a small and a large file, so the pack has deltas.
		if err := os.WriteFile(filepath.Join(work, "small.txt"), []byte(strings.Repeat(fmt.Sprintf("v%d\n", i), 500)+"end\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, "big.txt"), []byte(big.String()[:big.Len()-i*100]), 0o644); err != nil {
			t.Fatal(err)
		}
		gittest.Run(t, work, "add", ".")
		gittest.Run(t, work, "commit", "-q", "-m", fmt.Sprint("v", i))
	}
	gittest.Run(t, work, "push", "-q", repo, "HEAD:refs/heads/main")
	gittest.Run(t, repo, "config", "core.bigFileThreshold", "1g") // deltify big.txt too

	ids := strings.Fields(gittest.Run(t, repo, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)"))
	check := func(stage string) {
		s, err := openStore(repo)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, id := range ids {
			h := plumbing.NewHash(id)
			typ := gittest.Run(t, repo, "cat-file", "-t", id)
			want := catFile(t, repo, typ, id)
			o, err := s.EncodedObject(plumbing.AnyObject, h)
			if err != nil {
				t.Fatalf("%s: %s: %v", stage, id, err)
			}
			if o.Type().String() != typ || o.Size() != int64(len(want)) {
				t.Errorf("%s: %s is a %s of %d bytes, want a %s of %d", stage, id, o.Type(), o.Size(), typ, len(want))
			}
			r, err := o.Reader()
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: %s: content differs (err %v)", stage, id, err)
			}
			if n, err := s.EncodedObjectSize(h); err != nil || n != int64(len(want)) {
				t.Errorf("%s: %s: size %d, %v; want %d", stage, id, n, err, len(want))
			}
			other := plumbing.CommitObject
			if typ == "commit" {
				other = plumbing.BlobObject
			}
			if _, err := s.EncodedObject(other, h); !errors.Is(err, plumbing.ErrObjectNotFound) {
				t.Errorf("%s: %s read as a %s: %v", stage, id, other, err)
			}
		}
		if _, err := s.EncodedObject(plumbing.AnyObject, plumbing.NewHash(strings.Repeat("ab", 20))); !errors.Is(err, plumbing.ErrObjectNotFound) {
			t.Errorf("%s: missing object: %v", stage, err)
		}
	}
	check("loose")
	gittest.Run(t, repo, "repack", "-adfq")
	if !strings.Contains(gittest.Run(t, repo, "verify-pack", "-v", mustGlob(t, filepath.Join(repo, "objects", "pack", "*.idx"))), "chain length") {
		t.Fatal("the pack has no deltas")
	}
	check("packed")
	// The same pack indexed with every offset past 256 in the 64-bit
	// table, as git does for packs over 2 GiB.
	idx := mustGlob(t, filepath.Join(repo, "objects", "pack", "*.idx"))
	pack := strings.TrimSuffix(idx, ".idx") + ".pack"
	os.Remove(idx)
	os.Remove(strings.TrimSuffix(idx, ".idx") + ".bitmap")
	gittest.Run(t, repo, "index-pack", "--index-version=2,0x100", "-o", idx, pack)
	check("large offsets")
}

// catFile returns an object's content as git reads it.
func catFile(t *testing.T, repo, typ, id string) []byte {
	t.Helper()
	out, _ := gittest.Cmd{Dir: repo}.Output(t, "cat-file", typ, id)
	return []byte(out)
}

func mustGlob(t *testing.T, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(pattern)
	if len(m) != 1 {
		t.Fatalf("%s: %d matches", pattern, len(m))
	}
	return m[0]
}

// TestObjectStoreNewPacks: packs installed after the store was opened
// are looked in once refs have been read (refsRead), not before; the
// packs open already stay readable when a repack deletes their files.
func TestObjectStoreNewPacks(t *testing.T) {
	dir := t.TempDir()
	gittest.Run(t, dir, "init", "-q", "--bare", "r.git")
	repo := filepath.Join(dir, "r.git")
	gittest.Run(t, repo, "config", "receive.unpackLimit", "1") // pushes stay packs
	gittest.Run(t, dir, "init", "-q", "w")
	work := filepath.Join(dir, "w")
	commit := func(n int) plumbing.Hash {
		t.Helper()
		if err := os.WriteFile(filepath.Join(work, "f.txt"), []byte(fmt.Sprintln("version", n)), 0o644); err != nil {
			t.Fatal(err)
		}
		gittest.Run(t, work, "add", ".")
		gittest.Run(t, work, "commit", "-q", "-m", fmt.Sprint("v", n))
		gittest.Run(t, work, "push", "-q", repo, "HEAD:refs/heads/main")
		return plumbing.NewHash(gittest.Run(t, work, "rev-parse", "HEAD"))
	}
	first := commit(1)
	s, err := openStore(repo)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	read := func(h plumbing.Hash) error {
		t.Helper()
		if _, err := s.EncodedObjectSize(h); err != nil {
			return err
		}
		o, err := s.EncodedObject(plumbing.CommitObject, h)
		if err != nil {
			return err
		}
		r, err := o.Reader()
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = io.ReadAll(r)
		return err
	}

	second := commit(2)
	if err := read(second); !errors.Is(err, plumbing.ErrObjectNotFound) {
		t.Fatalf("a pack pushed since was searched before any refs read: %v", err)
	}
	s.refsRead()
	if err := read(second); err != nil {
		t.Fatalf("after refs read, the pushed commit: %v", err)
	}

	// A repack replaces every pack; the ones open still read.
	gittest.Run(t, repo, "repack", "-adq")
	third := commit(3)
	s.refsRead()
	if _, err := s.EncodedObject(plumbing.AnyObject, plumbing.NewHash(strings.Repeat("ab", 20))); !errors.Is(err, plumbing.ErrObjectNotFound) {
		t.Fatalf("missing object: %v", err)
	}
	for _, h := range []plumbing.Hash{first, second, third} {
		if err := read(h); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
	if len(s.r.Packs()) != 4 {
		t.Errorf("%d packs open, want 4 (two pushed, one repacked, one pushed)", len(s.r.Packs()))
	}
}
