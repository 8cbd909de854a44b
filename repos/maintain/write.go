package maintain

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/bitmap"
	"gatehouse/repos/odb"
	"gatehouse/repos/packobjects"
)

// tempFile creates a temporary file in objects/pack, removed at the end
// unless renamed into place.
func (r *repack) tempFile(suffix string) (*os.File, error) {
	f, err := os.CreateTemp(r.packDir, tmpPrefix+"*"+suffix)
	if err != nil {
		return nil, fmt.Errorf("maintain: %w", err)
	}
	r.tmp = append(r.tmp, f.Name())
	return f, nil
}

// writePack writes the new pack to a temporary file.
func (r *repack) writePack(order []plumbing.Hash) (string, []packobjects.Placed, error) {
	f, err := r.tempFile(".pack")
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	placed, ws, err := packobjects.WriteOrdered(r.ctx, r.gitDir, order, f)
	if err != nil {
		return "", nil, fmt.Errorf("maintain: write pack: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", nil, fmt.Errorf("maintain: write pack: %w", err)
	}
	r.stats.Objects, r.stats.Bytes = ws.Objects, ws.Bytes
	r.stats.Reused, r.stats.Deltas, r.stats.Recompress = ws.Reused, ws.ReusedDeltas, ws.Recompressed
	return f.Name(), placed, nil
}

// scanPack reads the pack just written once, front to back: the CRC-32
// of every entry for the index, and every object's type for the bitmap
// (a delta's is its base's, which comes before it). It returns the
// objects in pack order, their CRCs, and the pack's checksum.
func scanPack(path string, placed []packobjects.Placed) ([]bitmap.PackObject, []uint32, plumbing.Hash, error) {
	var sum plumbing.Hash
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, sum, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, sum, err
	}
	size := uint64(fi.Size())
	if size < 32 {
		return nil, nil, sum, fmt.Errorf("maintain: pack too short")
	}
	if _, err := f.ReadAt(sum[:], int64(size-20)); err != nil {
		return nil, nil, sum, err
	}
	bad := func(off uint64, what string) error {
		return fmt.Errorf("maintain: new pack: entry at %d: %s", off, what)
	}
	objs := make([]bitmap.PackObject, len(placed))
	crcs := make([]uint32, len(placed))
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, int64(size-20)), 64<<10)
	var hdr [12]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, nil, sum, err
	}
	if string(hdr[:4]) != "PACK" || binary.BigEndian.Uint32(hdr[8:]) != uint32(len(placed)) {
		return nil, nil, sum, fmt.Errorf("maintain: new pack: bad header")
	}
	pos := uint64(12)
	crc := crc32.NewIEEE()
	for i, p := range placed {
		end := size - 20
		if i+1 < len(placed) {
			end = placed[i+1].Offset
		}
		if p.Offset != pos || end <= pos {
			return nil, nil, sum, bad(p.Offset, "not where the writer said")
		}
		b, _ := br.Peek(int(min(end-pos, 32)))
		typ, rel, err := entryType(b)
		if err != nil {
			return nil, nil, sum, bad(p.Offset, err.Error())
		}
		if rel != 0 {
			j, ok := slices.BinarySearchFunc(placed[:i], p.Offset-rel, func(q packobjects.Placed, off uint64) int {
				return cmp.Compare(q.Offset, off)
			})
			if !ok || rel > p.Offset {
				return nil, nil, sum, bad(p.Offset, "delta base not found")
			}
			typ = objs[j].Type
		}
		objs[i] = bitmap.PackObject{ID: p.ID, Type: typ}
		crc.Reset()
		if _, err := io.CopyN(crc, br, int64(end-pos)); err != nil {
			return nil, nil, sum, err
		}
		crcs[i] = crc.Sum32()
		pos = end
	}
	return objs, crcs, sum, nil
}

// entryType reads an entry header: its type, or for an OFS_DELTA the
// distance back to its base. The writer never writes REF_DELTAs.
func entryType(b []byte) (plumbing.ObjectType, uint64, error) {
	h, err := odb.ParseEntryHeader(b)
	switch {
	case err != nil:
		return 0, 0, err
	case h.Type == plumbing.OFSDeltaObject && h.BaseRel == 0:
		return 0, 0, errors.New("bad base offset")
	case h.Type == plumbing.OFSDeltaObject:
		return 0, h.BaseRel, nil
	case h.Delta():
		return 0, 0, fmt.Errorf("unexpected entry type %d", h.Type)
	}
	return h.Type, 0, nil
}

func (r *repack) writeIndex(placed []packobjects.Placed, crcs []uint32, sum plumbing.Hash) (string, error) {
	f, err := r.tempFile(".idx")
	if err != nil {
		return "", err
	}
	defer f.Close()
	entry := func(i int) odb.IndexEntry {
		return odb.IndexEntry{ID: placed[i].ID, CRC: crcs[i], Offset: placed[i].Offset}
	}
	if err := odb.WriteIndex(f, len(placed), entry, sum); err != nil {
		return "", fmt.Errorf("maintain: write index: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("maintain: write index: %w", err)
	}
	return f.Name(), nil
}

func (r *repack) writeBitmap(objs []bitmap.PackObject, sum plumbing.Hash, commits []bitmap.Commit, tips []plumbing.Hash) (string, error) {
	f, err := r.tempFile(".bitmap")
	if err != nil {
		return "", err
	}
	defer f.Close()
	in := bitmap.Input{Objects: objs, Checksum: sum, Commits: commits, Tips: tips, ReadTree: r.readTree}
	bs, err := bitmap.Write(r.ctx, f, in)
	if err != nil {
		return "", fmt.Errorf("maintain: write bitmap: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("maintain: write bitmap: %w", err)
	}
	r.stats.Bitmaps = bs.Selected
	return f.Name(), nil
}

// readTree reads a tree's raw content from the old packs (the new one is
// not installed yet; they hold the same objects).
func (r *repack) readTree(id plumbing.Hash, buf []byte) ([]byte, error) {
	return r.readHeld(plumbing.TreeObject, id, buf)
}

// readHeld reads whole, into buf, the object id, which must be a t: a
// commit, tag or tree, which the repack holds to walk. Its size is
// checked against maxHeld before anything is allocated.
func (r *repack) readHeld(t plumbing.ObjectType, id plumbing.Hash, buf []byte) ([]byte, error) {
	typ, size, rc, err := r.objects.Read(id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if typ != t {
		return nil, fmt.Errorf("%w: %s is a %s, not a %s", odb.ErrCorrupt, id, typ, t)
	}
	if size > maxHeld {
		return nil, fmt.Errorf("%w: %s %s is %d bytes, over %d", odb.ErrTooLarge, t, id, size, maxHeld)
	}
	buf = slices.Grow(buf[:0], int(size))[:size]
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, err
	}
	var one [1]byte
	if n, err := io.ReadFull(rc, one[:]); n != 0 {
		return nil, fmt.Errorf("%w: %s is longer than its header says", odb.ErrCorrupt, id)
	} else if err != io.EOF {
		return nil, err
	}
	return buf, nil
}
