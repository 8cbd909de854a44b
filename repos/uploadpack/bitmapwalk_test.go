package uploadpack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/gittest"
)

// cloneSets returns the objects of a full clone of dir listed with the
// bitmap and with the walk, sorted.
func cloneSets(t testing.TB, dir string) (withBitmap, walked []plumbing.Hash) {
	list := func(useBitmap bool) []plumbing.Hash {
		s := &session{ctx: context.Background(), dir: dir}
		fs, err := openStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		s.fs = fs
		defer s.fs.Close()
		s.g = newGraph(&ctxStorer{objectReader: s.fs, ctx: s.ctx})
		if useBitmap {
			s.g.dir = dir
		}
		adv, err := s.advertisement()
		if err != nil {
			t.Fatal(err)
		}
		req := &request{ofsDelta: true, includeTag: true}
		for _, r := range adv.refs {
			if !slices.Contains(req.wants, r.id) {
				req.wants = append(req.wants, r.id)
			}
		}
		objs, err := s.g.objectsToSend(s.ctx, req, adv, nil, s.fs.EncodedObjectSize, nil)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(objs, func(a, b plumbing.Hash) int { return strings.Compare(a.String(), b.String()) })
		return objs
	}
	return list(true), list(false)
}

func TestBitmapMatchesWalk(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git not installed (.ci/run installs it)")
	}
	root := t.TempDir()
	work := filepath.Join(root, "work")
	bare := filepath.Join(root, "bare.git")
	os.MkdirAll(work, 0o755)
	gittest.Run(t, work, "init", "-q", "-b", "main")
	commit := func(n int, file string) {
		for i := range n {
			os.MkdirAll(filepath.Join(work, "d", fmt.Sprint(i%3)), 0o755)
			os.WriteFile(filepath.Join(work, "d", fmt.Sprint(i%3), file), []byte(strings.Repeat(fmt.Sprintf("line %d %s\n", i, file), i+1)), 0o644)
			gittest.Run(t, work, "add", "-A")
			gittest.Run(t, work, "commit", "-q", "-m", fmt.Sprint(file, i))
		}
	}
	commit(12, "a")
	gittest.Run(t, work, "tag", "-a", "-m", "v1", "v1")
	gittest.Run(t, work, "tag", "-a", "-m", "v1-again", "v1b", "v1") // a tag of a tag
	gittest.Run(t, work, "checkout", "-q", "-b", "side", "HEAD~5")
	commit(5, "b")
	gittest.Run(t, work, "checkout", "-q", "main")
	gittest.Run(t, work, "merge", "-q", "-m", "merge", "side")
	blob := gittest.Run(t, work, "hash-object", "-w", "--stdin", "/dev/null")
	_ = blob
	gittest.Run(t, root, "clone", "-q", "--bare", work, bare)
	check := func(name string) {
		t.Helper()
		got, want := cloneSets(t, bare)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: bitmap lists %d objects, walk %d", name, len(got), len(want))
		}
		t.Logf("%s: %d objects", name, len(want))
		if len(want) == 0 {
			t.Fatalf("%s: nothing listed", name)
		}
	}
	check("no bitmap")
	gittest.Run(t, bare, "repack", "-adb", "-q")
	if m, _ := filepath.Glob(filepath.Join(bare, "objects/pack/*.bitmap")); len(m) != 1 {
		t.Fatal("git wrote no bitmap")
	}
	check("bitmap")
	// History pushed after the bitmap: tips without bitmaps, objects
	// loose.
	commit(4, "c")
	gittest.Run(t, work, "tag", "-a", "-m", "v2", "v2")
	gittest.Run(t, work, "push", "-q", bare, "main", "v2", "side:other")
	check("bitmap and loose objects")
	// A damaged bitmap is not used: the walk answers.
	bm, _ := filepath.Glob(filepath.Join(bare, "objects/pack/*.bitmap"))
	b, err := os.ReadFile(bm[0])
	if err != nil {
		t.Fatal(err)
	}
	b[40] ^= 0x55
	os.Chmod(bm[0], 0o644)
	if err := os.WriteFile(bm[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	check("damaged bitmap")
	if _, err := os.Stat(filepath.Join(bare, "objects/pack")); err != nil {
		t.Fatal(err)
	}
}

// TestBitmapMatchesWalkBench compares on the benchmark's repository.
func TestBitmapMatchesWalkBench(t *testing.T) {
	dir := os.Getenv("GATEHOUSE_BENCH_REPO")
	if dir == "" {
		t.Skip("set GATEHOUSE_BENCH_REPO")
	}
	got, want := cloneSets(t, dir)
	if !slices.Equal(got, want) {
		t.Fatalf("bitmap lists %d objects, walk %d", len(got), len(want))
	}
}
