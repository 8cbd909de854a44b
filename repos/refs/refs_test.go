package refs_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gatehouse/gittest"
	"gatehouse/repos/refs"
)

// mustRepo makes a bare repository with two commits on main, a branch, a
// lightweight and an annotated tag, and returns its path and the commits.
func mustRepo(tb testing.TB) (dir, c1, c2 string) {
	tb.Helper()
	work := tb.TempDir()
	gittest.Run(tb, work, "init", "-q", "-b", "main")
	gittest.Run(tb, work, "commit", "-q", "--allow-empty", "-m", "one")
	c1 = gittest.Run(tb, work, "rev-parse", "HEAD")
	gittest.Run(tb, work, "commit", "-q", "--allow-empty", "-m", "two")
	c2 = gittest.Run(tb, work, "rev-parse", "HEAD")
	gittest.Run(tb, work, "branch", "old", c1)
	gittest.Run(tb, work, "tag", "light", c1)
	gittest.Run(tb, work, "tag", "-a", "-m", "annotated", "v1", c2)
	dir = filepath.Join(tb.TempDir(), "r.git")
	gittest.Run(tb, work, "clone", "-q", "--bare", work, dir)
	return dir, c1, c2
}

func forEachRef(tb testing.TB, dir string) string {
	return gittest.Run(tb, dir, "for-each-ref", "--format=%(objectname) %(refname)")
}

func listString(tb testing.TB, dir string) string {
	tb.Helper()
	rs, err := refs.List(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var lines []string
	for _, r := range rs {
		lines = append(lines, r.ID+" "+r.Name)
	}
	return strings.Join(lines, "\n")
}

func TestListMatchesGit(t *testing.T) {
	dir, _, c2 := mustRepo(t)
	if got, want := listString(t, dir), forEachRef(t, dir); got != want {
		t.Fatalf("List:\n%s\nwant (git for-each-ref):\n%s", got, want)
	}
	// After pack-refs the answer is the same, and peeled ids come along.
	gittest.Run(t, dir, "pack-refs", "--all")
	if got, want := listString(t, dir), forEachRef(t, dir); got != want {
		t.Fatalf("List after pack-refs:\n%s\nwant:\n%s", got, want)
	}
	rs, _ := refs.List(dir)
	for _, r := range rs {
		if r.Name == "refs/tags/v1" && r.Peeled != c2 {
			t.Fatalf("v1 peeled = %q, want %s", r.Peeled, c2)
		}
	}
	// A stray lock file is never read as a ref.
	os.WriteFile(filepath.Join(dir, "refs", "heads", "main.lock"), []byte(strings.Repeat("1", 40)+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "refs", "heads", "x.lock"), []byte(strings.Repeat("1", 40)+"\n"), 0o644)
	if got := listString(t, dir); strings.Contains(got, "lock") || strings.Contains(got, strings.Repeat("1", 40)) {
		t.Fatalf("lock files listed:\n%s", got)
	}
}

func TestReadHead(t *testing.T) {
	dir, _, c2 := mustRepo(t)
	h, err := refs.ReadHead(dir)
	if err != nil || h.Target != "refs/heads/main" || h.ID != c2 {
		t.Fatalf("ReadHead = %+v, %v", h, err)
	}
	if err := refs.SetHead(dir, "refs/heads/nothing"); err != nil {
		t.Fatal(err)
	}
	h, err = refs.ReadHead(dir)
	if err != nil || h.Target != "refs/heads/nothing" || h.ID != "" {
		t.Fatalf("unborn ReadHead = %+v, %v", h, err)
	}
	if got := gittest.Run(t, dir, "symbolic-ref", "HEAD"); got != "refs/heads/nothing" {
		t.Fatalf("git sees HEAD -> %s", got)
	}
	if err := refs.SetHead(dir, "HEAD/../x"); !errors.Is(err, refs.ErrInvalidName) {
		t.Fatalf("SetHead bad name: %v", err)
	}
}

func TestApply(t *testing.T) {
	z := refs.ZeroID
	for _, packed := range []bool{false, true} {
		dir, c1, c2 := mustRepo(t)
		if packed {
			gittest.Run(t, dir, "pack-refs", "--all")
		}
		steps := []struct {
			name string
			u    refs.Update
			want error
		}{
			{"create", refs.Update{"refs/heads/new", z, c1}, nil},
			{"create existing", refs.Update{"refs/heads/new", z, c2}, refs.ErrStale},
			{"fast-forward", refs.Update{"refs/heads/new", c1, c2}, nil},
			{"stale old", refs.Update{"refs/heads/new", c1, c2}, refs.ErrStale},
			{"rewind", refs.Update{"refs/heads/old", c1, c2}, nil},
			{"delete", refs.Update{"refs/heads/main", c2, z}, nil},
			{"delete missing", refs.Update{"refs/heads/main", c2, z}, refs.ErrStale},
			{"delete tag", refs.Update{"refs/tags/light", c1, z}, nil},
			{"dir conflict", refs.Update{"refs/heads/new/sub", z, c1}, refs.ErrStale},
			{"file conflict", refs.Update{"refs/heads", z, c1}, refs.ErrStale},
			{"bad name", refs.Update{"refs/heads/a..b", z, c1}, refs.ErrInvalidName},
			{"lock name", refs.Update{"refs/heads/a.lock", z, c1}, refs.ErrInvalidName},
			{"not under refs", refs.Update{"HEAD", z, c1}, refs.ErrInvalidName},
			{"bad id", refs.Update{"refs/heads/x", z, "xyz"}, refs.ErrInvalidName},
		}
		for _, s := range steps {
			err := refs.Apply(dir, s.u)
			if s.want == nil && err != nil || s.want != nil && !errors.Is(err, s.want) {
				t.Fatalf("packed=%v %s: err = %v, want %v", packed, s.name, err, s.want)
			}
		}
		want := strings.Join([]string{
			c2 + " refs/heads/new",
			c2 + " refs/heads/old",
		}, "\n")
		got := gittest.Run(t, dir, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads")
		if got != want {
			t.Fatalf("packed=%v: git sees\n%s\nwant\n%s", packed, got, want)
		}
		if got := listString(t, dir); !strings.Contains(got, want) || strings.Contains(got, "light") {
			t.Fatalf("packed=%v: List\n%s", packed, got)
		}
		gittest.Run(t, dir, "fsck", "--full", "--strict")
		leftovers, _ := filepath.Glob(filepath.Join(dir, "refs", "*", "*.lock"))
		if pl, _ := filepath.Glob(filepath.Join(dir, "*.lock")); len(pl)+len(leftovers) > 0 {
			t.Fatalf("lock files left: %v %v", pl, leftovers)
		}
	}
}

func TestApplyHeldLock(t *testing.T) {
	dir, c1, c2 := mustRepo(t)
	lock := filepath.Join(dir, "refs", "heads", "main.lock")
	os.WriteFile(lock, nil, 0o644)
	if err := refs.Apply(dir, refs.Update{"refs/heads/main", c2, c1}); !errors.Is(err, refs.ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
	if _, err := os.Stat(lock); err != nil {
		t.Fatal("someone else's lock file was removed")
	}
	if got, _ := refs.Resolve(dir, "refs/heads/main"); got != c2 {
		t.Fatalf("main moved to %s", got)
	}
}

// Many concurrent compare-and-swaps from one old value: exactly one wins.
func TestApplyConcurrent(t *testing.T) {
	dir, c1, c2 := mustRepo(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := refs.Apply(dir, refs.Update{"refs/heads/main", c2, c1})
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, refs.ErrStale) && !errors.Is(err, refs.ErrLocked) {
				t.Errorf("unexpected error %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d updates won, want 1", wins)
	}
}

func TestCheckName(t *testing.T) {
	for name, ok := range map[string]bool{
		"refs/heads/main": true, "refs/heads/feature/x-1": true, "refs/tags/v1.0": true,
		"refs/heads/": false, "refs/heads/.hidden": false, "refs/heads/a..b": false,
		"refs/heads/a b": false, "refs/heads/a\x00b": false, "refs/heads/a~1": false,
		"refs/heads/a^": false, "refs/heads/a:b": false, "refs/heads/x.lock": false,
		"refs/heads/a@{1}": false, "refs//x": false, "heads/main": false, "refs/heads/x.": false,
		"refs/heads/a\\b": false, "refs/heads/*": false, "refs/heads/@": false,
	} {
		if err := refs.CheckName(name); (err == nil) != ok {
			t.Errorf("CheckName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

// TestApplyBatch: one batch mixes creates, moves and deletes of packed
// and loose refs; a failing update leaves the others going ahead, or,
// atomic, leaves everything as it was.
func TestApplyBatch(t *testing.T) {
	z := refs.ZeroID
	dir, c1, c2 := mustRepo(t)
	gittest.Run(t, dir, "pack-refs", "--all")
	gittest.Run(t, dir, "update-ref", "refs/heads/loose", c1)
	before := forEachRef(t, dir)

	// Atomic, with one ref's lock held by someone else: nothing moves.
	held := filepath.Join(dir, "refs", "heads", "old.lock")
	os.WriteFile(held, nil, 0o644)
	errs := refs.ApplyBatch(dir, []refs.Update{
		{"refs/heads/new", z, c1},
		{"refs/heads/old", c1, c2},
		{"refs/tags/light", c1, z},
	}, refs.BatchOptions{Atomic: true})
	if !errors.Is(errs[0], refs.ErrAborted) || !errors.Is(errs[1], refs.ErrLocked) || !errors.Is(errs[2], refs.ErrAborted) {
		t.Fatalf("atomic errs = %v", errs)
	}
	if got := forEachRef(t, dir); got != before {
		t.Fatalf("atomic batch changed refs:\n%s\nwant\n%s", got, before)
	}
	if _, err := os.Stat(held); err != nil {
		t.Fatal("someone else's lock file was removed")
	}
	os.Remove(held)

	// Not atomic: the stale update and the conflicting create fail alone.
	errs = refs.ApplyBatch(dir, []refs.Update{
		{"refs/heads/new", z, c1},
		{"refs/heads/new/sub", z, c1},                               // conflicts with new, created here
		{"refs/heads/main", c1, c1},                                 // stale: main is at c2
		{"refs/heads/old", c1, c2},                                  // packed, moves
		{"refs/tags/light", c1, z},                                  // packed, deleted
		{"refs/tags/v1", gittest.Run(t, dir, "rev-parse", "v1"), z}, // packed with a peeled line
		{"refs/heads/loose", c1, z},                                 // loose, deleted
	}, refs.BatchOptions{})
	if errs[0] != nil || !errors.Is(errs[1], refs.ErrStale) || !errors.Is(errs[2], refs.ErrStale) || errs[3] != nil || errs[4] != nil || errs[5] != nil || errs[6] != nil {
		t.Fatalf("errs = %v", errs)
	}
	want := strings.Join([]string{c2 + " refs/heads/main", c1 + " refs/heads/new", c2 + " refs/heads/old"}, "\n")
	if got := forEachRef(t, dir); got != want {
		t.Fatalf("git sees\n%s\nwant\n%s", got, want)
	}
	if got := listString(t, dir); got != want {
		t.Fatalf("List\n%s\nwant\n%s", got, want)
	}
	gittest.Run(t, dir, "fsck", "--full", "--strict")
	locks, _ := filepath.Glob(filepath.Join(dir, "refs", "*", "*.lock"))
	if pl, _ := filepath.Glob(filepath.Join(dir, "*.lock")); len(pl)+len(locks) > 0 {
		t.Fatalf("lock files left: %v %v", pl, locks)
	}
}
