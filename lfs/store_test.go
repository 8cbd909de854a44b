package lfs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/lfs"
)

func newStore(t *testing.T) (*lfs.Store, string) {
	root := t.TempDir()
	return &lfs.Store{Dir: func(owner, name string) (string, error) {
		return filepath.Join(root, owner, name+".git"), nil
	}}, root
}

func oid(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func files(t *testing.T, dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestStorePut(t *testing.T) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("large file "), 10000)
	id := oid(data)
	for _, tc := range []struct {
		name string
		oid  string
		size int64
		body io.Reader
		err  error
	}{
		{"wrong oid", oid([]byte("other")), int64(len(data)), bytes.NewReader(data), lfs.ErrMismatch},
		{"short", id, int64(len(data)) + 1, bytes.NewReader(data), lfs.ErrMismatch},
		{"long", id, int64(len(data)) - 1, bytes.NewReader(data), lfs.ErrMismatch},
		{"cut", id, int64(len(data)), io.MultiReader(bytes.NewReader(data[:100]), iotestErr{}), errCut},
		{"not an oid", "../../x", 1, bytes.NewReader([]byte("x")), gatehouse.ErrInvalid},
	} {
		s, root := newStore(t)
		err := s.Put(ctx, "alice", "r", tc.oid, tc.size, tc.body)
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
		if f := files(t, root); len(f) != 0 {
			t.Errorf("%s: left %v", tc.name, f)
		}
	}

	s, root := newStore(t)
	if err := s.Put(ctx, "alice", "r", id, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	f, size, err := s.Open("alice", "r", id)
	if err != nil || size != int64(len(data)) {
		t.Fatalf("open: %d, %v", size, err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("stored data differs")
	}
	if _, _, err := s.Open("alice", "other", id); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("object served from another repository: %v", err)
	}
	if n, err := s.Usage(ctx, "alice", "r"); err != nil || n != int64(len(data)) {
		t.Fatalf("usage %d, %v", n, err)
	}

	// What a killed server left in incoming/ goes with a later upload,
	// once it is a day old; a fresh one (an upload under way) stays.
	incoming := filepath.Join(root, "alice", "r.git", "lfs", "incoming")
	stale, fresh := filepath.Join(incoming, "stale"), filepath.Join(incoming, "fresh")
	os.WriteFile(stale, []byte("x"), 0o644)
	os.WriteFile(fresh, []byte("x"), 0o644)
	old := time.Now().Add(-25 * time.Hour)
	os.Chtimes(stale, old, old)
	small := []byte("small")
	if err := s.Put(ctx, "alice", "r", oid(small), int64(len(small)), bytes.NewReader(small)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale upload file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh upload file removed: %v", err)
	}
}

var errCut = errors.New("connection cut")

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errCut }
