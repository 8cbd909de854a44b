package odb_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/gittest"
	"gatehouse/repos/odb"
)

// ListPacks lists a pack only with its index, newest first, and notes
// .keep and .bitmap; a repository without a pack directory has none.
func TestListPacks(t *testing.T) {
	repo, _ := chainRepo(t, 1<<10, 3, 10, false)
	dir := filepath.Join(repo, "objects", "pack")
	packs, _ := filepath.Glob(filepath.Join(dir, "pack-*.pack"))
	if len(packs) != 1 {
		t.Fatalf("want one pack, have %v", packs)
	}
	real := strings.TrimSuffix(packs[0], ".pack")
	os.Remove(real + ".bitmap")
	newer := filepath.Join(dir, "pack-"+strings.Repeat("1", 40))
	for _, ext := range []string{".pack", ".idx", ".keep", ".bitmap"} {
		data, _ := os.ReadFile(real + ".pack")
		if ext == ".idx" {
			data, _ = os.ReadFile(real + ".idx")
		}
		os.WriteFile(newer+ext, data, 0o444)
	}
	now := time.Now()
	os.Chtimes(real+".pack", now.Add(-time.Hour), now.Add(-time.Hour))
	os.WriteFile(filepath.Join(dir, "pack-"+strings.Repeat("2", 40)+".pack"), nil, 0o444) // no index
	os.WriteFile(filepath.Join(dir, "pack-"+strings.Repeat("3", 40)+".idx"), nil, 0o444)  // no pack

	got, err := odb.ListPacks(repo)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Path != newer+".pack" || got[1].Path != real+".pack" {
		t.Fatalf("listed %+v", got)
	}
	if !got[0].Keep || !got[0].Bitmap || got[1].Keep || got[1].Bitmap || got[0].Base() != newer {
		t.Errorf("flags %+v", got)
	}
	if got, err := odb.ListPacks(t.TempDir()); len(got) != 0 || err != nil {
		t.Errorf("no pack directory: %v %v", got, err)
	}
}

// A Pack's reverse index lists its objects by offset, each ending where
// the next starts, and maps offsets and index positions back to ranks.
func TestPackRevIndex(t *testing.T) {
	repo, _ := chainRepo(t, 1<<10, 20, 10, false)
	packs, err := odb.OpenPacks(repo)
	if err != nil {
		t.Fatal(err)
	}
	defer odb.ClosePacks(packs)
	if len(packs) != 1 {
		t.Fatalf("%d packs", len(packs))
	}
	p := packs[0]
	rev, err := p.RevIndex()
	if err != nil {
		t.Fatal(err)
	}
	_, size, err := p.File()
	if err != nil {
		t.Fatal(err)
	}
	x := p.Index()
	if rev.Len() != x.Len() || rev.Offset(0) != 12 || rev.End(rev.Len()-1) != uint64(size)-20 {
		t.Fatalf("len %d/%d, first at %d, last ends at %d of %d", rev.Len(), x.Len(), rev.Offset(0), rev.End(rev.Len()-1), size)
	}
	for rank := range rev.Len() {
		pos := rev.Pos(rank)
		off, _ := x.Offset(int(pos))
		if off != rev.Offset(rank) || rev.Rank(pos) != uint32(rank) {
			t.Fatalf("rank %d: position %d at %d, rank back %d", rank, pos, off, rev.Rank(pos))
		}
		if r, ok := rev.Find(off); !ok || r != rank {
			t.Fatalf("offset %d found at rank %d %v", off, r, ok)
		}
		if rank > 0 && rev.End(rank-1) != off {
			t.Fatalf("rank %d ends at %d, the next starts at %d", rank-1, rev.End(rank-1), off)
		}
		if _, ok := rev.Find(off + 1); ok {
			t.Fatalf("an entry found inside another at %d", off+1)
		}
	}
}

// OpenLoose streams a loose object checked against its id, and reports
// one that is not there as not found.
func TestOpenLoose(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "repo.git")
	gittest.Run(t, "", "init", "-q", "--bare", repo)
	id := plumbing.NewHash(gittest.Cmd{Dir: repo, Stdin: "hello\n"}.Run(t, "hash-object", "-w", "--stdin"))
	typ, size, rc, err := odb.OpenLoose(repo, id, 1<<20)
	if err != nil || typ != plumbing.BlobObject || size != 6 {
		t.Fatalf("%v %d %v", typ, size, err)
	}
	buf := make([]byte, 16)
	n, _ := rc.Read(buf)
	rc.Close()
	if string(buf[:n]) != "hello\n" {
		t.Errorf("read %q", buf[:n])
	}
	if _, _, _, err := odb.OpenLoose(repo, id, 3); !errors.Is(err, odb.ErrTooLarge) {
		t.Errorf("above the bound: %v", err)
	}
	if err := odb.StatLoose(repo, plumbing.ZeroHash); !errors.Is(err, plumbing.ErrObjectNotFound) {
		t.Errorf("StatLoose of a missing object: %v", err)
	}
	if _, _, _, err := odb.OpenLoose(repo, plumbing.ZeroHash, 1<<20); !errors.Is(err, plumbing.ErrObjectNotFound) {
		t.Errorf("OpenLoose of a missing object: %v", err)
	}
	// The same file under another id: its content does not match.
	other := plumbing.NewHash(strings.Repeat("ab", 20))
	os.MkdirAll(filepath.Dir(odb.LoosePath(repo, other)), 0o755)
	data, _ := os.ReadFile(odb.LoosePath(repo, id))
	os.WriteFile(odb.LoosePath(repo, other), data, 0o444)
	_, _, rc, err = odb.OpenLoose(repo, other, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, odb.ErrCorrupt) {
		t.Errorf("a loose object under the wrong id: %v", err)
	}
}
