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
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strings"

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

// Index is one pack's index and bitmap, read whole (about 28 bytes per
// object for the index, plus the compressed bitmaps). Its methods may be
// called from one goroutine at a time.
type Index struct {
	// Pack is the path of the .pack file the bitmap describes.
	Pack string

	n     int
	idx   []byte
	names int      // offset of the sorted ids in idx
	order []uint32 // bit position -> index position (pack order)
	bit   []uint32 // index position -> bit position

	data    []byte
	entries map[uint32]int // index position of a commit -> entry number
	ents    []rawEntry
	decoded []Set // by entry number, filled on first use
}

type rawEntry struct {
	xor  int // entry number XORed with, or -1
	ewah int // offset of the EWAH bitmap in data
}

// Open reads the bitmap of gitDir's packs. It fails with ErrNone when
// there is not exactly one .bitmap whose pack and index are both present,
// and with ErrCorrupt when the files are damaged or do not belong to the
// same pack.
func Open(gitDir string) (*Index, error) {
	bms, err := filepath.Glob(filepath.Join(gitDir, "objects", "pack", "pack-*.bitmap"))
	if err != nil {
		return nil, err
	}
	if len(bms) != 1 {
		return nil, ErrNone
	}
	base := strings.TrimSuffix(bms[0], ".bitmap")
	if _, err := os.Stat(base + ".pack"); err != nil {
		return nil, ErrNone
	}
	idx, err := os.ReadFile(base + ".idx")
	if err != nil {
		return nil, ErrNone
	}
	data, err := os.ReadFile(bms[0])
	if err != nil {
		return nil, ErrNone
	}
	x := &Index{Pack: base + ".pack", idx: idx, data: data}
	if err := x.readIdx(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, filepath.Base(base)+".idx", err)
	}
	if err := x.readBitmap(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, filepath.Base(bms[0]), err)
	}
	return x, nil
}

// readIdx checks a version 2 index and orders its objects by offset.
func (x *Index) readIdx() error {
	idx := x.idx
	const head = 8 + 256*4
	if len(idx) < head+40 || !bytes.Equal(idx[:8], []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2}) {
		return errors.New("not a version 2 index")
	}
	sum := sha1.Sum(idx[:len(idx)-20])
	if !bytes.Equal(sum[:], idx[len(idx)-20:]) {
		return errors.New("index checksum mismatch")
	}
	n := int(binary.BigEndian.Uint32(idx[8+255*4:]))
	offs := head + n*24
	if n < 0 || offs+n*4+40 > len(idx) {
		return errors.New("index too short")
	}
	large := offs + n*4
	numLarge := (len(idx) - 40 - large) / 8
	off := func(i int) uint64 {
		v := binary.BigEndian.Uint32(idx[offs+4*i:])
		if v&0x80000000 == 0 {
			return uint64(v)
		}
		k := int(v & 0x7fffffff)
		if k >= numLarge {
			return 1 << 63
		}
		return binary.BigEndian.Uint64(idx[large+8*k:])
	}
	x.n, x.names = n, head
	x.order = make([]uint32, n)
	for i := range x.order {
		x.order[i] = uint32(i)
	}
	offsets := make([]uint64, n)
	for i := range offsets {
		offsets[i] = off(i)
	}
	slices.SortFunc(x.order, func(a, b uint32) int {
		switch {
		case offsets[a] < offsets[b]:
			return -1
		case offsets[a] > offsets[b]:
			return 1
		}
		return 0
	})
	x.bit = make([]uint32, n)
	for b, i := range x.order {
		if b > 0 && offsets[i] == offsets[x.order[b-1]] {
			return errors.New("two objects at one offset")
		}
		x.bit[i] = uint32(b)
	}
	return nil
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
	packSum := x.idx[len(x.idx)-40 : len(x.idx)-20]
	if !bytes.Equal(d[12:32], packSum) {
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
func (x *Index) Hash(b int) plumbing.Hash {
	var h plumbing.Hash
	i := int(x.order[b])
	copy(h[:], x.idx[x.names+20*i:])
	return h
}

// Find returns the bit position of id, or false if the pack lacks it.
func (x *Index) Find(id plumbing.Hash) (int, bool) {
	lo := 0
	if id[0] > 0 {
		lo = int(binary.BigEndian.Uint32(x.idx[8+4*(int(id[0])-1):]))
	}
	hi := int(binary.BigEndian.Uint32(x.idx[8+4*int(id[0]):]))
	if hi > x.n || lo > hi {
		return 0, false
	}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		c := bytes.Compare(x.idx[x.names+20*m:x.names+20*m+20], id[:])
		switch {
		case c == 0:
			return int(x.bit[m]), true
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return 0, false
}

// Reach returns the set of objects commit id reaches, if the bitmap has
// an entry for it. The Set is shared: do not modify it.
func (x *Index) Reach(id plumbing.Hash) (Set, bool, error) {
	b, ok := x.Find(id)
	if !ok {
		return nil, false, nil
	}
	k, ok := x.entries[x.order[b]]
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
