package maintain_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gatehouse/gittest"
	"gatehouse/repos/lockfile"
	"gatehouse/repos/maintain"
)

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func kinds(ls []maintain.Leftover, root string) []string {
	var out []string
	for _, l := range ls {
		rel, _ := filepath.Rel(root, l.Path)
		out = append(out, l.Kind+" "+filepath.ToSlash(rel))
	}
	slices.Sort(out)
	return out
}

// What dead pushes and repacks left is listed, then removed; what a live
// one holds is not touched.
func TestSweep(t *testing.T) {
	dir := manyPacks(t, 1)
	before := objects(t, dir)
	touch(t, filepath.Join(dir, "objects", "tmp_objdir-incoming-dead", "incoming.pack"))
	touch(t, filepath.Join(dir, "objects", "tmp_objdir-incoming-live", "incoming.pack"))
	touch(t, filepath.Join(dir, "refs", "heads", "topic", "x.lock"))
	touch(t, filepath.Join(dir, "HEAD.lock"))
	touch(t, filepath.Join(dir, "objects", "pack", ".tmp-repack-1.pack"))
	touch(t, filepath.Join(dir, "gatehouse-maintain.lock"))
	live, err := lockfile.TryLockDir(filepath.Join(dir, "objects", "tmp_objdir-incoming-live"))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Release()

	// While a push runs, ref lock files may be its own.
	push, err := maintain.HoldPush(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := maintain.Sweep(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"quarantine objects/tmp_objdir-incoming-dead",
		"repack temporary gatehouse-maintain.lock",
		"repack temporary objects/pack/.tmp-repack-1.pack",
	}
	if k := kinds(got, dir); !slices.Equal(k, want) {
		t.Fatalf("swept during a push:\n%q\nwant\n%q", k, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "HEAD.lock")); err != nil {
		t.Fatalf("ref lock removed during a push: %v", err)
	}
	push.Release()

	// Listing changes nothing.
	want = []string{"ref lock HEAD.lock", "ref lock refs/heads/topic/x.lock"}
	for range 2 {
		got, err = maintain.Sweep(dir, false)
		if err != nil {
			t.Fatal(err)
		}
		if k := kinds(got, dir); !slices.Equal(k, want) {
			t.Fatalf("listed:\n%q\nwant\n%q", k, want)
		}
	}
	if got, err = maintain.Sweep(dir, true); err != nil || !slices.Equal(kinds(got, dir), want) {
		t.Fatalf("swept %q, %v", kinds(got, dir), err)
	}
	if got, err = maintain.Sweep(dir, false); err != nil || len(got) != 0 {
		t.Fatalf("left after sweeping: %q, %v", kinds(got, dir), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "objects", "tmp_objdir-incoming-live", "incoming.pack")); err != nil {
		t.Fatalf("live quarantine touched: %v", err)
	}
	if got := objects(t, dir); got != before {
		t.Fatal("objects changed")
	}
	live.Release()
	os.RemoveAll(filepath.Join(dir, "objects", "tmp_objdir-incoming-live"))
	gittest.Run(t, dir, "fsck", "--full", "--strict")
}
