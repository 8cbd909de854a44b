package packobjects

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// srcPack is one pack of the repository (an odb.Pack, shared with the
// caller when it passes its packs) as the writer reads it. The index is
// mapped, not read, and the pack is only ever read through ReadAt.
type srcPack struct {
	path string
	f    *os.File
	size uint64 // of the .pack file
	idx  *odb.Index

	// rev is the pack's reverse index, set once something is sent from
	// the pack: it gives each entry's end, the id of an OFS_DELTA's base
	// and the entry of an object found by id.
	pack *odb.Pack
	rev  *odb.RevIndex
}

// openSources returns the packs to read: packs, or when nil gitDir's,
// opened here and closed by release.
func openSources(gitDir string, packs []*odb.Pack) (src []*srcPack, release func(), err error) {
	release = func() {}
	if packs == nil {
		if packs, err = odb.OpenPacks(gitDir); err != nil {
			return nil, nil, corrupt(err)
		}
		release = func() { odb.ClosePacks(packs) }
	}
	if src, err = sources(packs); err != nil {
		release()
		return nil, nil, err
	}
	return src, release, nil
}

// sources opens the pack files of packs (newest first, as odb lists
// them), checked against their indexes. A pack removed by a repack since
// it was listed is skipped.
func sources(packs []*odb.Pack) ([]*srcPack, error) {
	var src []*srcPack
	for _, p := range packs {
		f, size, err := p.File()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, corrupt(err)
		}
		src = append(src, &srcPack{path: p.Path(), f: f, size: uint64(size), idx: p.Index(), pack: p})
	}
	return src, nil
}

// corrupt reports odb's ErrCorrupt as this package's.
func corrupt(err error) error {
	if errors.Is(err, odb.ErrCorrupt) && !errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

// find returns the index position of h.
func (p *srcPack) find(h plumbing.Hash) (uint32, bool) {
	pos, ok := p.idx.Find(h)
	return uint32(pos), ok
}

func (p *srcPack) name(pos uint32) []byte { return p.idx.Name(int(pos)) }

func (p *srcPack) crc(pos uint32) uint32 { return p.idx.CRC(int(pos)) }

// use gets the reverse index of a pack something is sent from; its
// offsets are checked there once, so later lookups need no checks.
func (p *srcPack) use() error {
	if p.rev != nil {
		return nil
	}
	rev, err := p.pack.RevIndex()
	if err != nil {
		return corrupt(err)
	}
	p.rev = rev
	return nil
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
