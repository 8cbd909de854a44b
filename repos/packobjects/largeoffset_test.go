package packobjects_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"gatehouse/gittest"
	"gatehouse/repos/packobjects"
)

// TestWriteLargeOffsets writes all of a pack whose index keeps its
// offsets in the 64-bit table (git does so past 2 GiB; index-pack can be
// told to from any offset): the pack order, and so the very bytes on
// disk, must come out as from an ordinary index.
func TestWriteLargeOffsets(t *testing.T) {
	src := filepath.Join(t.TempDir(), "copy.git")
	gittest.Run(t, "", "clone", "-q", "--bare", "--no-local", gcRepo(t), src)
	packs, _ := filepath.Glob(filepath.Join(src, "objects", "pack", "*.pack"))
	if len(packs) != 1 {
		t.Fatalf("%d packs", len(packs))
	}
	idx := packs[0][:len(packs[0])-len(".pack")] + ".idx"
	os.Remove(idx)
	gittest.Run(t, "", "index-pack", "--index-version=2,0x100", "-o", idx, packs[0])
	// Header, fan-out, ids, CRCs and 4-byte offsets, trailer: anything
	// more is the 64-bit table.
	n := len(objects(t, src, "--all"))
	if fi, err := os.Stat(idx); err != nil || fi.Size() <= int64(8+1024+28*n+40) {
		t.Fatalf("index without a large-offset table: %v", err)
	}
	var buf bytes.Buffer
	st, err := packobjects.Write(context.Background(), src, objects(t, src, "--all"), packobjects.Options{OfsDelta: true}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	disk, err := os.ReadFile(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(disk, buf.Bytes()) || st.Recompressed != 0 {
		t.Fatalf("pack of %d bytes (%+v) differs from the %d on disk", buf.Len(), st, len(disk))
	}
}
