package odb

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
)

// RevIndex is a pack's reverse index (git's pack-revindex): its objects
// in pack order, that is by offset. It maps an offset to the object
// there, gives where each entry ends (where the next one starts, or the
// pack's trailer), and, built on first use, each index position's rank
// in pack order. It holds one uint32 an object, two once Rank is used;
// offsets are read from the index. Its methods may be called from several
// goroutines.
type RevIndex struct {
	idx  *Index
	end  uint64   // where the entries end: the pack's size less its trailer
	pos  []uint32 // rank -> index position
	once sync.Once
	rank []uint32 // index position -> rank, built by the first Rank
}

// NewRevIndex sorts the objects of x by offset, checking on the way
// that every offset is inside the entries of a pack of packSize bytes
// (after its 12-byte header, before its 20-byte trailer) and that no two
// objects share one. Errors: ErrCorrupt.
func NewRevIndex(x *Index, packSize uint64) (*RevIndex, error) {
	n := x.Len()
	if packSize < 32 {
		return nil, fmt.Errorf("%w: pack too short", ErrCorrupt)
	}
	r := &RevIndex{idx: x, end: packSize - 20, pos: make([]uint32, n)}
	check := func(i int) (uint64, error) {
		off, err := x.Offset(i)
		if err != nil {
			return 0, err
		}
		if off < 12 || off >= r.end {
			return 0, fmt.Errorf("%w: offset %d outside the pack", ErrCorrupt, off)
		}
		return off, nil
	}
	dup := func(off uint64) error { return fmt.Errorf("%w: two objects at offset %d", ErrCorrupt, off) }
	if !x.LargeOffsets() {
		// Offsets fit in 32 bits: sort offset<<32|position, a temporary
		// 8 bytes an object that sorts fast.
		tmp := make([]uint64, n)
		for i := range tmp {
			off, err := check(i)
			if err != nil {
				return nil, err
			}
			tmp[i] = off<<32 | uint64(i)
		}
		slices.Sort(tmp)
		for i, t := range tmp {
			if i > 0 && t>>32 == tmp[i-1]>>32 {
				return nil, dup(t >> 32)
			}
			r.pos[i] = uint32(t)
		}
		return r, nil
	}
	for i := range r.pos {
		if _, err := check(i); err != nil {
			return nil, err
		}
		r.pos[i] = uint32(i)
	}
	slices.SortFunc(r.pos, func(a, b uint32) int { return cmp.Compare(r.offsetOf(a), r.offsetOf(b)) })
	for i := 1; i < n; i++ {
		if off := r.Offset(i); off == r.Offset(i-1) {
			return nil, dup(off)
		}
	}
	return r, nil
}

// offsetOf is the offset of index position pos, checked when built.
func (r *RevIndex) offsetOf(pos uint32) uint64 {
	off, _ := r.idx.Offset(int(pos))
	return off
}

// Len is the number of objects.
func (r *RevIndex) Len() int { return len(r.pos) }

// Pos returns the index position of the object of the given rank in
// pack order.
func (r *RevIndex) Pos(rank int) uint32 { return r.pos[rank] }

// Offset returns where the entry of the given rank starts.
func (r *RevIndex) Offset(rank int) uint64 { return r.offsetOf(r.pos[rank]) }

// End returns where the entry of the given rank ends: where the next
// one starts, or at the pack's trailer for the last.
func (r *RevIndex) End(rank int) uint64 {
	if rank+1 < len(r.pos) {
		return r.Offset(rank + 1)
	}
	return r.end
}

// Find returns the rank of the entry starting at off, if one does.
func (r *RevIndex) Find(off uint64) (int, bool) {
	return slices.BinarySearchFunc(r.pos, off, func(pos uint32, off uint64) int {
		return cmp.Compare(r.offsetOf(pos), off)
	})
}

// Rank returns the rank in pack order of the object at index position
// pos. The table it reads is built on its first call.
func (r *RevIndex) Rank(pos uint32) uint32 {
	r.once.Do(func() {
		r.rank = make([]uint32, len(r.pos))
		for rank, pos := range r.pos {
			r.rank[pos] = uint32(rank)
		}
	})
	return r.rank[pos]
}
