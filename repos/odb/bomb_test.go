package odb_test

import (
	"bytes"
	"compress/zlib"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// A loose object whose header declares far more than its file can hold
// is corrupt: reading it allocates nothing of that size, even with no
// size limit (the readers that only type objects run without one).
func TestLooseDeclaredSizeBounded(t *testing.T) {
	repo := t.TempDir()
	id := plumbing.NewHash("0123456789abcdef0123456789abcdef01234567")
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte("commit 1152921504606846976\x00tree "))
	zw.Close()
	s := id.String()
	path := filepath.Join(repo, "objects", s[:2], s[2:])
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, z.Bytes(), 0o444); err != nil {
		t.Fatal(err)
	}
	r := odb.OpenReader(repo, odb.Limits{MaxObjectSize: math.MaxInt64})
	defer r.Close()
	if _, _, err := r.ReadWhole(id, plumbing.AnyObject, nil); !errors.Is(err, odb.ErrCorrupt) {
		t.Fatalf("ReadWhole: %v, want ErrCorrupt", err)
	}
	if _, _, rc, err := r.Read(id); !errors.Is(err, odb.ErrCorrupt) {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("Read: %v, want ErrCorrupt", err)
	}
}
