package packwrite

import (
	"bytes"
	"cmp"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
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

	idx      []byte
	n        uint32
	names    int // offsets into idx of the four tables
	crcs     int
	offs     int
	large    int
	numLarge int

	// byOff lists index positions in pack order, and rankOfPos is its
	// inverse. Built on first use (only packs something is sent from need
	// them); they give each entry's end, the id of an OFS_DELTA's base and
	// the entry of an object found by id.
	byOff     []uint32
	rankOfPos []uint32
	release   func() // unmaps idx
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
		p.release()
	}
}

// openPack reads and checks the index, and checks that the pack is the
// one the index describes (its trailing checksum), so offsets and CRCs
// from the index can be trusted to point into this very file.
func openPack(base string) (*srcPack, error) {
	idx, release, err := mapFile(base + ".idx")
	if err != nil {
		return nil, err
	}
	f, err := os.Open(base + ".pack")
	if err != nil {
		release()
		return nil, err
	}
	p := &srcPack{path: base + ".pack", f: f, idx: idx, release: release}
	if err := p.check(); err != nil {
		f.Close()
		release()
		return nil, err
	}
	return p, nil
}

func (p *srcPack) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrCorrupt, filepath.Base(p.path), fmt.Sprintf(format, args...))
	}
	idx := p.idx
	const head = 8 + 256*4
	if len(idx) < head+40 || !bytes.Equal(idx[:8], []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2}) {
		return bad("not a version 2 index")
	}
	sum := sha1.Sum(idx[:len(idx)-20])
	if !bytes.Equal(sum[:], idx[len(idx)-20:]) {
		return bad("index checksum mismatch")
	}
	prev := uint32(0)
	for i := range 256 {
		v := binary.BigEndian.Uint32(idx[8+4*i:])
		if v < prev {
			return bad("fan-out table not monotonic")
		}
		prev = v
	}
	p.n = prev
	n := int(p.n)
	p.names = head
	p.crcs = p.names + 20*n
	p.offs = p.crcs + 4*n
	p.large = p.offs + 4*n
	rest := len(idx) - 40 - p.large
	if rest < 0 || rest%8 != 0 {
		return bad("index size does not match its object count")
	}
	p.numLarge = rest / 8

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
	if !bytes.Equal(trailer[:], idx[len(idx)-40:len(idx)-20]) {
		return bad("pack checksum differs from the index's")
	}
	return nil
}

// find returns the index position of h.
func (p *srcPack) find(h plumbing.Hash) (uint32, bool) {
	lo := uint32(0)
	if h[0] > 0 {
		lo = binary.BigEndian.Uint32(p.idx[8+4*(int(h[0])-1):])
	}
	hi := binary.BigEndian.Uint32(p.idx[8+4*int(h[0]):])
	for lo < hi {
		mid := lo + (hi-lo)/2
		switch bytes.Compare(p.name(mid), h[:]) {
		case 0:
			return mid, true
		case -1:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return 0, false
}

func (p *srcPack) name(pos uint32) []byte {
	o := p.names + 20*int(pos)
	return p.idx[o : o+20]
}

func (p *srcPack) crc(pos uint32) uint32 {
	return binary.BigEndian.Uint32(p.idx[p.crcs+4*int(pos):])
}

// offset returns where the entry at pos starts; an offset outside the
// pack's entries is reported as corruption instead of being read.
func (p *srcPack) offset(pos uint32) (uint64, error) {
	v := binary.BigEndian.Uint32(p.idx[p.offs+4*int(pos):])
	off := uint64(v)
	if v&0x80000000 != 0 {
		i := int(v & 0x7fffffff)
		if i >= p.numLarge {
			return 0, fmt.Errorf("%w: %s: bad large offset", ErrCorrupt, filepath.Base(p.path))
		}
		off = binary.BigEndian.Uint64(p.idx[p.large+8*i:])
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
	if p.numLarge == 0 {
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
		switch {
		case o < off:
			return -1
		case o > off:
			return 1
		}
		return 0
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
