package packobjects

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// srcPack is one pack of the repository with its version 2 index.
//
// The index is mapped, not read: it is about 28 bytes per object of the
// pack, and binary searches over the file as it is beat a decoded map
// both in memory and in set-up time. Mapped, it is paged in from the page
// cache and is no part of the heap the collector paces itself by.
// The pack itself is only ever read through ReadAt, never loaded.
type srcPack struct {
	path string
	f    *os.File
	size uint64 // of the .pack file

	idx *odb.Index // mapped
	n   uint32

	// byOff lists index positions in pack order, and rankOfPos is its
	// inverse. Built on first use (only packs something is sent from need
	// them); they give each entry's end, the id of an OFS_DELTA's base and
	// the entry of an object found by id.
	byOff     []uint32
	rankOfPos []uint32
}

// openPacks opens every pack of gitDir that has an index, newest first:
// git prefers recent packs too, and a repack's output is the best place to
// reuse from. A .pack without its .idx is skipped (it is being installed,
// or an install crashed halfway; git skips it as well), as is an .idx
// whose .pack is gone (a concurrent repack deleted it).
func openPacks(gitDir string) ([]*srcPack, error) {
	idxs, err := filepath.Glob(filepath.Join(gitDir, "objects", "pack", "*.idx"))
	if err != nil {
		return nil, err
	}
	type cand struct {
		base  string
		mtime int64
	}
	var cands []cand
	for _, idx := range idxs {
		base := strings.TrimSuffix(idx, ".idx")
		fi, err := os.Stat(base + ".pack")
		if err != nil {
			continue
		}
		cands = append(cands, cand{base, fi.ModTime().UnixNano()})
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		switch {
		case a.mtime > b.mtime:
			return -1
		case a.mtime < b.mtime:
			return 1
		}
		return strings.Compare(a.base, b.base)
	})
	var packs []*srcPack
	for _, c := range cands {
		p, err := openPack(c.base)
		if os.IsNotExist(err) {
			continue // removed by a repack between the listing and now
		}
		if err != nil {
			closePacks(packs)
			return nil, err
		}
		packs = append(packs, p)
	}
	return packs, nil
}

func closePacks(packs []*srcPack) {
	for _, p := range packs {
		p.f.Close()
		p.idx.Close()
	}
}

// openPack reads and checks the index, and checks that the pack is the
// one the index describes (its trailing checksum), so offsets and CRCs
// from the index can be trusted to point into this very file.
func openPack(base string) (*srcPack, error) {
	idx, err := odb.OpenIndex(base + ".idx")
	if errors.Is(err, odb.ErrCorrupt) {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err != nil {
		return nil, err
	}
	f, err := os.Open(base + ".pack")
	if err != nil {
		idx.Close()
		return nil, err
	}
	p := &srcPack{path: base + ".pack", f: f, idx: idx, n: uint32(idx.Len())}
	if err := p.check(); err != nil {
		f.Close()
		idx.Close()
		return nil, err
	}
	return p, nil
}

// check checks the index's own checksum and that the pack is the one the
// index describes.
func (p *srcPack) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrCorrupt, filepath.Base(p.path), fmt.Sprintf(format, args...))
	}
	if err := p.idx.Verify(); err != nil {
		return bad("index checksum mismatch")
	}
	fi, err := p.f.Stat()
	if err != nil {
		return err
	}
	p.size = uint64(fi.Size())
	if p.size < 12+20 {
		return bad("pack too short")
	}
	var hdr [12]byte
	if _, err := p.f.ReadAt(hdr[:], 0); err != nil {
		return err
	}
	if !bytes.Equal(hdr[:8], []byte{'P', 'A', 'C', 'K', 0, 0, 0, 2}) && !bytes.Equal(hdr[:8], []byte{'P', 'A', 'C', 'K', 0, 0, 0, 3}) {
		return bad("not a pack")
	}
	if binary.BigEndian.Uint32(hdr[8:]) != p.n {
		return bad("pack holds %d objects, index %d", binary.BigEndian.Uint32(hdr[8:]), p.n)
	}
	var trailer [20]byte
	if _, err := p.f.ReadAt(trailer[:], int64(p.size-20)); err != nil {
		return err
	}
	if want := p.idx.PackChecksum(); !bytes.Equal(trailer[:], want[:]) {
		return bad("pack checksum differs from the index's")
	}
	return nil
}

// find returns the index position of h.
func (p *srcPack) find(h plumbing.Hash) (uint32, bool) {
	pos, ok := p.idx.Find(h)
	return uint32(pos), ok
}

func (p *srcPack) name(pos uint32) []byte { return p.idx.Name(int(pos)) }

func (p *srcPack) crc(pos uint32) uint32 { return p.idx.CRC(int(pos)) }

// offset returns where the entry at pos starts; an offset outside the
// pack's entries is reported as corruption instead of being read.
func (p *srcPack) offset(pos uint32) (uint64, error) {
	off, err := p.idx.Offset(int(pos))
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrCorrupt, filepath.Base(p.path), err)
	}
	if off < 12 || off >= p.size-20 {
		return 0, fmt.Errorf("%w: %s: offset %d outside the pack", ErrCorrupt, filepath.Base(p.path), off)
	}
	return off, nil
}

// sortByOffset builds byOff and rankOfPos. Offsets are checked here
// once, so later lookups can ignore offset's error.
func (p *srcPack) sortByOffset() error {
	if p.byOff != nil || p.n == 0 {
		return nil
	}
	p.byOff = make([]uint32, p.n)
	if !p.idx.LargeOffsets() {
		// Offsets fit in 32 bits: sort offset<<32|position, a temporary
		// 8 bytes per object that sorts fast.
		tmp := make([]uint64, p.n)
		for i := range tmp {
			off, err := p.offset(uint32(i))
			if err != nil {
				p.byOff = nil
				return err
			}
			tmp[i] = off<<32 | uint64(i)
		}
		slices.Sort(tmp)
		for i, t := range tmp {
			if i > 0 && t>>32 == tmp[i-1]>>32 {
				p.byOff = nil
				return fmt.Errorf("%w: %s: two objects at offset %d", ErrCorrupt, filepath.Base(p.path), t>>32)
			}
			p.byOff[i] = uint32(t)
		}
	} else {
		for i := range p.byOff {
			if _, err := p.offset(uint32(i)); err != nil {
				p.byOff = nil
				return err
			}
			p.byOff[i] = uint32(i)
		}
		slices.SortFunc(p.byOff, func(a, b uint32) int {
			return cmp.Compare(p.offAtPos(a), p.offAtPos(b))
		})
		for i := 1; i < len(p.byOff); i++ {
			if off := p.offAtPos(p.byOff[i]); off == p.offAtPos(p.byOff[i-1]) {
				p.byOff = nil
				return fmt.Errorf("%w: %s: two objects at offset %d", ErrCorrupt, filepath.Base(p.path), off)
			}
		}
	}
	p.rankOfPos = make([]uint32, p.n)
	for rank, pos := range p.byOff {
		p.rankOfPos[pos] = uint32(rank)
	}
	return nil
}

func (p *srcPack) offAtPos(pos uint32) uint64 {
	off, _ := p.offset(pos)
	return off
}

func (p *srcPack) offAt(rank int) uint64 {
	off, _ := p.offset(p.byOff[rank])
	return off
}

// rankOf returns the rank in pack order of the entry starting at off.
func (p *srcPack) rankOf(off uint64) (int, bool) {
	i, found := slices.BinarySearchFunc(p.byOff, off, func(pos uint32, off uint64) int {
		o, _ := p.offset(pos)
		return cmp.Compare(o, off)
	})
	return i, found
}

// end returns where the entry of the given rank ends: where the next one
// starts, or at the trailer for the last.
func (p *srcPack) end(rank int) uint64 {
	if rank+1 < len(p.byOff) {
		return p.offAt(rank + 1)
	}
	return p.size - 20
}

// window is a read-ahead buffer over the packs. Entries are visited
// mostly in pack order, one pack after the other, so one large ReadAt
// serves many small entries, and a single buffer serves all packs.
type window struct {
	p     *srcPack // whose bytes buf holds
	buf   []byte
	start uint64
	n     int
}

const windowSize = 256 << 10

// get returns the n bytes at off in p, n <= windowSize. The slice is
// valid until the next call.
func (w *window) get(p *srcPack, off uint64, n int) ([]byte, error) {
	if w.p == p && off >= w.start && off+uint64(n) <= w.start+uint64(w.n) {
		s := int(off - w.start)
		return w.buf[s : s+n], nil
	}
	if w.buf == nil {
		w.buf = make([]byte, windowSize)
	}
	m, err := p.f.ReadAt(w.buf, int64(off))
	w.p, w.start, w.n = p, off, m
	if m >= n {
		return w.buf[:n], nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, err
}
