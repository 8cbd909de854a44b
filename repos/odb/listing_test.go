package odb_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/gittest"
	"gatehouse/repos/odb"
)

// churn adds and removes copies of the repository's pack (hard links
// under other names) until stop is closed, keeping a few present, the
// way a repack loop replaces packs. Errors go to errs.
func churn(repo string, stop <-chan struct{}, errs chan<- error) {
	dir := filepath.Join(repo, "objects", "pack")
	packs, _ := filepath.Glob(filepath.Join(dir, "pack-*.pack"))
	if len(packs) != 1 {
		errs <- fmt.Errorf("want one pack, have %v", packs)
		return
	}
	src := strings.TrimSuffix(packs[0], ".pack")
	name := func(i int) string { return filepath.Join(dir, fmt.Sprintf("pack-%040x", i)) }
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		// Installed pack first, index last; removed in either order.
		if err := os.Link(src+".pack", name(i)+".pack"); err != nil {
			errs <- err
			return
		}
		if err := os.Link(src+".idx", name(i)+".idx"); err != nil {
			errs <- err
			return
		}
		if i >= 4 {
			first, second := ".pack", ".idx"
			if i%2 == 0 {
				first, second = second, first
			}
			os.Remove(name(i-4) + first)
			os.Remove(name(i-4) + second)
		}
	}
}

// TestListingWhilePacksChange lists the packs, through ListPacks and
// through Reader, while packs appear and vanish: the listing never fails,
// always has the pack that stays, and an object in it is always found.
func TestListingWhilePacksChange(t *testing.T) {
	repo, id := chainRepo(t, 4<<10, 3, 10, false)
	packs, _ := filepath.Glob(filepath.Join(repo, "objects", "pack", "pack-*.pack"))
	stable := plumbing.NewHash(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(packs[0]), "pack-"), ".pack"))
	stop := make(chan struct{})
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		churn(repo, stop, errs)
	}()
	defer func() {
		close(stop)
		wg.Wait()
		select {
		case err := <-errs:
			t.Errorf("churn: %v", err)
		default:
		}
	}()
	for i := range 500 {
		infos, err := odb.ListPacks(repo)
		found := false
		for _, p := range infos {
			found = found || p.Name == "pack-"+stable.String()
		}
		if err != nil || !found {
			t.Fatalf("round %d: ListPacks lists %d packs, the stable one %v: %v", i, len(infos), found, err)
		}
		r := odb.OpenReader(repo, odb.Limits{})
		_, _, err = r.Header(id)
		r.Close()
		if err != nil {
			t.Fatalf("round %d: Reader: %v", i, err)
		}
	}
}

// TestReaderRescanOnMiss: an object in a pack that appeared after the
// packs were listed is found: a miss lists them again before it is
// believed.
func TestReaderRescanOnMiss(t *testing.T) {
	repo, id := chainRepo(t, 4<<10, 3, 10, false)
	other, otherID := chainRepo(t, 2<<10, 3, 10, false)
	r := odb.OpenReader(repo, odb.Limits{})
	defer r.Close()
	if _, _, err := r.Header(id); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Header(otherID); err == nil {
		t.Fatal("object found before its pack is there")
	}
	packs, _ := filepath.Glob(filepath.Join(other, "objects", "pack", "pack-*"))
	for _, p := range packs {
		if err := os.Link(p, filepath.Join(repo, "objects", "pack", filepath.Base(p))); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := r.Header(otherID); err != nil {
		t.Errorf("object of a pack added since the listing: %v", err)
	}
}

// TestSnapshotRefresh: a snapshot lists the packs again only after
// Refresh, and keeps reading the packs a repack removed.
func TestSnapshotRefresh(t *testing.T) {
	repo, id := chainRepo(t, 4<<10, 3, 10, false)
	other, otherID := chainRepo(t, 2<<10, 3, 10, false)
	r, err := odb.OpenSnapshot(repo, odb.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n := len(r.Packs()); n != 1 {
		t.Fatalf("%d packs, want 1", n)
	}
	packs, _ := filepath.Glob(filepath.Join(other, "objects", "pack", "pack-*"))
	for _, p := range packs {
		if err := os.Link(p, filepath.Join(repo, "objects", "pack", filepath.Base(p))); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := r.Header(otherID); !errors.Is(err, plumbing.ErrObjectNotFound) {
		t.Fatalf("object of a pack added since, before Refresh: %v", err)
	}
	r.Refresh()
	if _, _, err := r.Header(otherID); err != nil {
		t.Fatalf("object of a pack added since, after Refresh: %v", err)
	}
	gittest.Run(t, repo, "repack", "-adq")
	if err := r.Rescan(); err != nil {
		t.Fatal(err)
	}
	if n := len(r.Packs()); n != 3 {
		t.Errorf("%d packs, want 3 (two removed by the repack, still open, and its own)", n)
	}
	if _, _, err := r.Header(id); err != nil {
		t.Errorf("object of a removed pack: %v", err)
	}
}
