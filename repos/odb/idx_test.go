package odb_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// An index written here reads back, whole (ReadIndex) or mapped (OpenIndex), with
// every entry, including one past 2 GiB; damage is refused.
func TestWriteReadOpenIndex(t *testing.T) {
	var entries []odb.IndexEntry
	for i := range 300 {
		id := plumbing.ComputeHash(plumbing.BlobObject, []byte{byte(i), byte(i >> 8)})
		entries = append(entries, odb.IndexEntry{ID: id, CRC: uint32(i) * 7, Offset: uint64(12 + 100*i)})
	}
	entries[5].Offset = 3 << 30 // needs the 64-bit table
	packSum := plumbing.ComputeHash(plumbing.BlobObject, []byte("pack"))
	var buf bytes.Buffer
	if err := odb.WriteIndex(&buf, len(entries), func(i int) odb.IndexEntry { return entries[i] }, packSum); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pack-x.idx")
	if err := os.WriteFile(path, buf.Bytes(), 0o444); err != nil {
		t.Fatal(err)
	}
	read, err := odb.ReadIndex(path)
	if err != nil {
		t.Fatal(err)
	}
	mapped, err := odb.OpenIndex(path)
	if err != nil {
		t.Fatal(err)
	}
	defer mapped.Close()
	if err := mapped.Verify(); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*odb.Index{read, mapped} {
		if x.Len() != len(entries) || x.PackChecksum() != packSum || !x.LargeOffsets() {
			t.Fatalf("Len %d, pack checksum %s, large offsets %v", x.Len(), x.PackChecksum(), x.LargeOffsets())
		}
		for _, e := range entries {
			pos, ok := x.Find(e.ID)
			if !ok {
				t.Fatalf("%s not found", e.ID)
			}
			off, err := x.Offset(pos)
			if x.ID(pos) != e.ID || x.CRC(pos) != e.CRC || off != e.Offset || err != nil {
				t.Fatalf("%s: id %s crc %d offset %d %v", e.ID, x.ID(pos), x.CRC(pos), off, err)
			}
		}
		if _, ok := x.Find(packSum); ok {
			t.Fatal("found an id that is not there")
		}
	}

	data := buf.Bytes()
	flipped := bytes.Clone(data)
	flipped[8+256*4+3] ^= 1 // an id: shape fine, checksum not
	os.WriteFile(path+"2", flipped, 0o444)
	if _, err := odb.ReadIndex(path + "2"); !errors.Is(err, odb.ErrCorrupt) {
		t.Errorf("Read of a damaged index: %v", err)
	}
	if x, err := odb.OpenIndex(path + "2"); err != nil {
		t.Errorf("Open checks only the shape: %v", err)
	} else {
		if err := x.Verify(); !errors.Is(err, odb.ErrCorrupt) {
			t.Errorf("Verify of a damaged index: %v", err)
		}
		x.Close()
	}
	os.WriteFile(path+"3", data[:len(data)-7], 0o444)
	if _, err := odb.OpenIndex(path + "3"); !errors.Is(err, odb.ErrCorrupt) {
		t.Errorf("Open of a cut index: %v", err)
	}
}
