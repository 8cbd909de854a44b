package maintain_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"gatehouse/gittest"
	"gatehouse/repos/maintain"
	"gatehouse/repos/refs"
)

// A batch that creates many refs writes them into packed-refs and leaves
// the directories of their locks empty (refs/pull/N/): enough of them
// make a repack needed, and the repack removes them.
func TestNeededEmptyRefDirs(t *testing.T) {
	dir := manyPacks(t, 1)
	if maintain.Needed(dir) {
		t.Fatal("needed before the batch")
	}
	main := gittest.Run(t, dir, "rev-parse", "refs/heads/main")
	var us []refs.Update
	for i := range 600 {
		us = append(us, refs.Update{Name: fmt.Sprintf("refs/pull/%d/head", i), Old: refs.ZeroID, New: main})
	}
	commits := func(string) (string, error) { return "", nil } // every id is a commit
	for i, err := range refs.ApplyBatch(dir, us, refs.BatchOptions{Peel: commits}) {
		if err != nil {
			t.Fatalf("%s: %v", us[i].Name, err)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(dir, "refs", "pull", "*"))
	if len(dirs) != 600 {
		t.Fatalf("%d directories under refs/pull, want the batch's 600 left empty", len(dirs))
	}
	if !maintain.Needed(dir) {
		t.Fatal("600 empty ref directories: not needed")
	}
	if _, err := maintain.Repack(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "refs", "pull", "*")); len(left) != 0 {
		t.Fatalf("%d directories left under refs/pull after the repack", len(left))
	}
	if n := len(gittest.Run(t, dir, "for-each-ref", "refs/pull/")); n == 0 {
		t.Fatal("the pull refs are gone")
	}
	if maintain.Needed(dir) {
		t.Error("still needed after the repack")
	}
	checkRepo(t, dir)
}
