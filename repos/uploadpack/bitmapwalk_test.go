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
)

// gitIn runs git in dir with a clean configuration.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir, "GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@x",
		"GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@x", "GIT_AUTHOR_DATE=2020-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2020-01-01T00:00:00Z")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

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
	gitIn(t, work, "init", "-q", "-b", "main")
	commit := func(n int, file string) {
		for i := range n {
			os.MkdirAll(filepath.Join(work, "d", fmt.Sprint(i%3)), 0o755)
			os.WriteFile(filepath.Join(work, "d", fmt.Sprint(i%3), file), []byte(strings.Repeat(fmt.Sprintf("line %d %s\n", i, file), i+1)), 0o644)
			gitIn(t, work, "add", "-A")
			gitIn(t, work, "commit", "-q", "-m", fmt.Sprint(file, i))
		}
	}
	commit(12, "a")
	gitIn(t, work, "tag", "-a", "-m", "v1", "v1")
	gitIn(t, work, "tag", "-a", "-m", "v1-again", "v1b", "v1") // a tag of a tag
	gitIn(t, work, "checkout", "-q", "-b", "side", "HEAD~5")
	commit(5, "b")
	gitIn(t, work, "checkout", "-q", "main")
	gitIn(t, work, "merge", "-q", "-m", "merge", "side")
	blob := gitIn(t, work, "hash-object", "-w", "--stdin", "/dev/null")
	_ = blob
	gitIn(t, root, "clone", "-q", "--bare", work, bare)
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
	gitIn(t, bare, "repack", "-adb", "-q")
	if m, _ := filepath.Glob(filepath.Join(bare, "objects/pack/*.bitmap")); len(m) != 1 {
		t.Fatal("git wrote no bitmap")
	}
	check("bitmap")
	// History pushed after the bitmap: tips without bitmaps, objects
	// loose.
	commit(4, "c")
	gitIn(t, work, "tag", "-a", "-m", "v2", "v2")
	gitIn(t, work, "push", "-q", bare, "main", "v2", "side:other")
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
