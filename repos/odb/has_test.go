package odb_test

import (
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/gittest"
	"gatehouse/repos/odb"
)

// TestReaderHas: packed and loose objects are there, whatever their size
// against the bound; a made-up id is not, and is no error.
func TestReaderHas(t *testing.T) {
	repo, last := chainRepo(t, 64<<10, 5, 10, false)
	loose := plumbing.NewHash(gittest.Run(t, repo, "rev-parse", "main:data.txt"))
	r := odb.OpenReader(repo, odb.Limits{MaxObjectSize: 32 << 10})
	defer r.Close()
	for _, id := range []plumbing.Hash{last, loose} {
		if ok, err := r.Has(id); !ok || err != nil {
			t.Errorf("Has(%s) = %v, %v, want true", id, ok, err)
		}
	}
	missing := plumbing.NewHash("0123456789012345678901234567890123456789")
	if ok, err := r.Has(missing); ok || err != nil {
		t.Errorf("Has of a missing object = %v, %v, want false", ok, err)
	}
}
