// Package bitmap reads git's pack reachability bitmaps (the .bitmap file
// `git repack -b` and `git gc` write next to a pack, format version 1),
// so that the objects reachable from a commit can be listed without
// walking its history and trees.
//
// A bitmap has one bit per object of its pack, in pack order (by offset);
// the file holds one EWAH-compressed bitmap for each of a selection of
// commits, each the set of objects that commit reaches. An entry may be
// stored XORed with an earlier one. See git's
// Documentation/technical/bitmap-format.txt.
package bitmap

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// ErrNone reports that the repository has no usable bitmap: none at all,
// more than one, or one for a pack that is gone.
var ErrNone = errors.New("bitmap: no bitmap index")

// ErrCorrupt reports a damaged .bitmap or .idx file; it matches
// odb.ErrCorrupt too.
var ErrCorrupt = odb.CorruptKind("bitmap: corrupt")

const (
	optFullDAG = 1 // required: bitmaps are closed under reachability
)

// Index is one pack's bitmap, over the pack as odb has it open (its
// mapped index and reverse index), plus the compressed bitmaps read
// whole. Its methods may be called from one goroutine at a time.
type Index struct {
	// Pack is the path of the .pack file the bitmap describes.
	Pack string

	n   int
	idx *odb.Index
	rev *odb.RevIndex // bit position (pack order) <-> index position

	data    []byte
	entries map[uint32]int // index position of a commit -> entry number
	ents    []rawEntry
	decoded []Set // by entry number, filled on first use
}

type rawEntry struct {
	xor  int // entry number XORed with, or -1
	ewah int // offset of the EWAH bitmap in data
}

// Open reads the bitmap of the repository whose packs are packs (as
// odb.OpenPacks opens them; they must stay open while the Index is
// used). It fails with ErrNone when not exactly one of them has a
// .bitmap, or it cannot be read, and with ErrCorrupt when the files are
// damaged or do not belong to the same pack.
func Open(packs []*odb.Pack) (*Index, error) {
	var p *odb.Pack
	for _, q := range packs {
		if q.Info.Bitmap {
			if p != nil {
				return nil, ErrNone
			}
			p = q
		}
	}
	if p == nil {
		return nil, ErrNone
	}
	base := p.Info.Base()
	rev, err := p.RevIndex()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNone
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, filepath.Base(base)+".idx", err)
	}
	data, err := os.ReadFile(base + ".bitmap")
	if err != nil {
		return nil, ErrNone
	}
	x := &Index{Pack: p.Path(), n: rev.Len(), idx: p.Index(), rev: rev, data: data}
	if err := x.readBitmap(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, filepath.Base(base)+".bitmap", err)
	}
	return x, nil
}

// readBitmap checks the header and trailer and locates every entry.
func (x *Index) readBitmap() error {
	d := x.data
	if len(d) < 32+20 || string(d[:4]) != "BITM" {
		return errors.New("bad signature")
	}
	sum := sha1.Sum(d[:len(d)-20])
	if !bytes.Equal(sum[:], d[len(d)-20:]) {
		return errors.New("checksum mismatch")
	}
	if v := binary.BigEndian.Uint16(d[4:]); v != 1 {
		return fmt.Errorf("version %d", v)
	}
	if opts := binary.BigEndian.Uint16(d[6:]); opts&optFullDAG == 0 {
		return errors.New("not a full-DAG bitmap")
	}
	count := int(binary.BigEndian.Uint32(d[8:]))
	packSum := x.idx.PackChecksum()
	if !bytes.Equal(d[12:32], packSum[:]) {
		return errors.New("written for another pack")
	}
	end := len(d) - 20
	p := 32
	// The four type bitmaps (commits, trees, blobs, tags) are not needed.
	for range 4 {
		q, err := ewahEnd(d[:end], p)
		if err != nil {
			return err
		}
		p = q
	}
	if count > x.n {
		return errors.New("more entries than objects")
	}
	x.entries = make(map[uint32]int, count)
	x.ents = make([]rawEntry, count)
	x.decoded = make([]Set, count)
	for k := range count {
		if p+6 > end {
			return errors.New("truncated entry")
		}
		pos := binary.BigEndian.Uint32(d[p:])
		xo := int(d[p+4])
		if int(pos) >= x.n || xo > k || xo > 160 {
			return fmt.Errorf("entry %d out of range", k)
		}
		e := rawEntry{xor: -1, ewah: p + 6}
		if xo > 0 {
			e.xor = k - xo
		}
		q, err := ewahEnd(d[:end], p+6)
		if err != nil {
			return err
		}
		x.ents[k] = e
		x.entries[pos] = k
		p = q
	}
	return nil
}

// Len is the number of objects in the pack, and of bits in a Set.
func (x *Index) Len() int { return x.n }

// Hash returns the id of the object at bit position b.
func (x *Index) Hash(b int) plumbing.Hash { return x.idx.ID(int(x.rev.Pos(b))) }

// Find returns the bit position of id, or false if the pack lacks it.
func (x *Index) Find(id plumbing.Hash) (int, bool) {
	pos, ok := x.idx.Find(id)
	if !ok {
		return 0, false
	}
	return int(x.rev.Rank(uint32(pos))), true
}

// Reach returns the set of objects commit id reaches, if the bitmap has
// an entry for it. The Set is shared: do not modify it.
func (x *Index) Reach(id plumbing.Hash) (Set, bool, error) {
	b, ok := x.Find(id)
	if !ok {
		return nil, false, nil
	}
	k, ok := x.entries[x.rev.Pos(b)]
	if !ok {
		return nil, false, nil
	}
	s, err := x.entry(k, 0)
	return s, err == nil, err
}

func (x *Index) entry(k, depth int) (Set, error) {
	if s := x.decoded[k]; s != nil {
		return s, nil
	}
	if depth > len(x.ents) {
		return nil, fmt.Errorf("%w: xor chain loops", ErrCorrupt)
	}
	s, err := decodeEWAH(x.data[:len(x.data)-20], x.ents[k].ewah, x.n)
	if err != nil {
		return nil, fmt.Errorf("%w: entry %d: %v", ErrCorrupt, k, err)
	}
	if j := x.ents[k].xor; j >= 0 {
		base, err := x.entry(j, depth+1)
		if err != nil {
			return nil, err
		}
		for i := range s {
			s[i] ^= base[i]
		}
	}
	x.decoded[k] = s
	return s, nil
}

// Set is a bitmap over a pack's objects in pack order.
type Set []uint64

// NewSet returns an empty set for n objects.
func NewSet(n int) Set { return make(Set, (n+63)/64) }

// Has reports whether bit b is set.
func (s Set) Has(b int) bool { return s[b>>6]&(1<<(b&63)) != 0 }

// Add sets bit b.
func (s Set) Add(b int) { s[b>>6] |= 1 << (b & 63) }

// Or adds every bit of t.
func (s Set) Or(t Set) {
	for i := range s {
		s[i] |= t[i]
	}
}

// Count returns the number of bits set.
func (s Set) Count() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// Each calls fn with every bit set, in order.
func (s Set) Each(fn func(b int)) {
	for i, w := range s {
		for w != 0 {
			t := w & -w
			fn(i*64 + bitsTrailing(w))
			w ^= t
		}
	}
}
