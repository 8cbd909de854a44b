package bitmap

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// ErrIncomplete reports that the history given to Write names an object
// the pack lacks: a bitmap of it could not be closed under reachability.
var ErrIncomplete = errors.New("bitmap: history not contained in the pack")

// PackObject is one object of the pack a bitmap is written for.
type PackObject struct {
	ID   plumbing.Hash
	Type plumbing.ObjectType // commit, tree, blob or tag; never a delta
}

// Commit is one commit of the history a bitmap covers.
type Commit struct {
	ID      plumbing.Hash
	Tree    plumbing.Hash
	Parents []plumbing.Hash
	Time    int64 // committer time: recent commits get denser bitmaps
}

// TreeReader returns the raw content of tree id: entries of
// "MODE NAME\x00" and a 20-byte id. It may return buf, grown and refilled.
type TreeReader func(id plumbing.Hash, buf []byte) ([]byte, error)

// Input is what Write needs to know of a pack and its history.
type Input struct {
	// Objects lists every object of the pack in pack order (by offset):
	// the bit order of the bitmaps.
	Objects []PackObject
	// Checksum is the pack's trailing checksum (also in its index).
	Checksum plumbing.Hash
	// Commits is the history: every commit reachable from Tips, each
	// with its parents, all in Objects. Order does not matter.
	Commits []Commit
	// Tips are the commits refs point at; each gets a bitmap. Tips not
	// among Commits are ignored.
	Tips []plumbing.Hash
	// ReadTree reads the trees of Commits.
	ReadTree TreeReader
}

// WriteStats says what Write did.
type WriteStats struct {
	Selected  int // commits given a bitmap
	TreesRead int
}

// Selection: every ref tip, the mustRecent most recent commits, and
// then one commit in every selectEvery, by committer time (git's own
// spacing is similar, growing sparser far back).
const (
	mustRecent  = 100
	selectEvery = 100
)

// rawBudget bounds the uncompressed sets kept between commits (those of
// commits whose children are not all done yet); past it they are kept
// EWAH-compressed. A variable for tests.
var rawBudget = 64 << 20

// Write writes to w a version 1 bitmap (git's bitmap-format.txt) for the
// pack described by in: the header (FULL_DAG, no name-hash cache), the
// commit, tree, blob and tag type bitmaps, one EWAH bitmap for each
// selected commit (none XORed with another) and the checksum.
//
// A commit's set is computed from its parents' sets plus a walk of the
// trees they do not already hold, oldest commits first, so each tree is
// read about once however long the history. The memory used is a few
// words per object and commit, plus the sets of the commits still
// waiting for a child (bounded, then compressed).
//
// Errors: ErrIncomplete when a commit, parent, tree or blob of the
// history is not in the pack; ReadTree's and w's errors; ctx.Err().
func Write(ctx context.Context, w io.Writer, in Input) (WriteStats, error) {
	b, err := newBuilder(in)
	if err != nil {
		return WriteStats{}, err
	}
	sum := sha1.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, sum), 64<<10)

	hdr := make([]byte, 0, 32)
	hdr = append(hdr, "BITM"...)
	hdr = binary.BigEndian.AppendUint16(hdr, 1)
	hdr = binary.BigEndian.AppendUint16(hdr, optFullDAG)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(b.selected))
	hdr = append(hdr, in.Checksum[:]...)
	bw.Write(hdr)

	n := len(in.Objects)
	set := NewSet(n)
	var enc []byte
	for _, t := range []plumbing.ObjectType{plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject} {
		clear(set)
		for i, o := range in.Objects {
			if o.Type == t {
				set.Add(i)
			}
		}
		enc = appendEWAH(enc[:0], set)
		bw.Write(enc)
	}
	b.emit = func(c int, s Set) error {
		var e [6]byte
		binary.BigEndian.PutUint32(e[:], b.idxPos(b.commitBit[c]))
		// e[4]: no XOR base; e[5]: no flags.
		bw.Write(e[:])
		enc = appendEWAH(enc[:0], s)
		_, err := bw.Write(enc)
		return err
	}
	if err := b.run(ctx); err != nil {
		return b.stats, err
	}
	if err := bw.Flush(); err != nil {
		return b.stats, err
	}
	if _, err := w.Write(sum.Sum(nil)); err != nil {
		return b.stats, err
	}
	return b.stats, nil
}

type builder struct {
	in     Input
	n      int
	byID   []uint32 // bit positions sorted by id: index positions
	fanout []uint32 // by the ids' first two bytes: end of their range in byID
	prefix []uint64 // first 8 bytes of each id, in byID order

	commitBit []uint32  // by commit number
	parents   [][]int32 // commit numbers
	pending   []int32   // children not yet done
	selected  int
	isSel     []bool

	live    []*held // by commit number, while pending > 0
	rawLive int
	maxRaw  int
	free    []Set
	treeBuf []byte
	stack   []plumbing.Hash
	emit    func(c int, s Set) error
	stats   WriteStats
}

// held is a kept set, raw or compressed.
type held struct {
	raw    Set
	packed []byte
}

func newBuilder(in Input) (*builder, error) {
	n := len(in.Objects)
	if uint64(n) > 0xffffffff {
		return nil, fmt.Errorf("bitmap: %d objects", n)
	}
	b := &builder{in: in, n: n}
	b.byID = make([]uint32, n)
	for i := range b.byID {
		b.byID[i] = uint32(i)
	}
	slices.SortFunc(b.byID, func(x, y uint32) int {
		return bytes.Compare(in.Objects[x].ID[:], in.Objects[y].ID[:])
	})
	// A two-byte fan-out leaves a binary search of a few steps: lookups
	// are most of the work of the walk.
	b.fanout = make([]uint32, 1<<16)
	for _, bit := range b.byID {
		id := in.Objects[bit].ID
		b.fanout[int(id[0])<<8|int(id[1])]++
	}
	for i := 1; i < len(b.fanout); i++ {
		b.fanout[i] += b.fanout[i-1]
	}
	b.prefix = make([]uint64, n)
	for i, bit := range b.byID {
		b.prefix[i] = binary.BigEndian.Uint64(in.Objects[bit].ID[:8])
	}
	for i := 1; i < n; i++ {
		if in.Objects[b.byID[i]].ID == in.Objects[b.byID[i-1]].ID {
			return nil, fmt.Errorf("bitmap: object %s twice in the pack", in.Objects[b.byID[i]].ID)
		}
	}

	num := make(map[plumbing.Hash]int32, len(in.Commits))
	for i, c := range in.Commits {
		if _, dup := num[c.ID]; dup {
			return nil, fmt.Errorf("bitmap: commit %s given twice", c.ID)
		}
		num[c.ID] = int32(i)
	}
	b.commitBit = make([]uint32, len(in.Commits))
	b.parents = make([][]int32, len(in.Commits))
	b.pending = make([]int32, len(in.Commits))
	flat := make([]int32, 0, len(in.Commits))
	for i, c := range in.Commits {
		bit, ok := b.find(c.ID)
		if !ok || in.Objects[bit].Type != plumbing.CommitObject {
			return nil, fmt.Errorf("%w: commit %s", ErrIncomplete, c.ID)
		}
		b.commitBit[i] = uint32(bit)
		start := len(flat)
		for _, p := range c.Parents {
			k, ok := num[p]
			if !ok {
				return nil, fmt.Errorf("%w: parent %s of %s", ErrIncomplete, p, c.ID)
			}
			flat = append(flat, k)
			b.pending[k]++
		}
		b.parents[i] = flat[start:len(flat):len(flat)]
	}

	// Selection.
	b.isSel = make([]bool, len(in.Commits))
	for _, t := range in.Tips {
		if k, ok := num[t]; ok {
			b.isSel[k] = true
		}
	}
	byTime := make([]int32, len(in.Commits))
	for i := range byTime {
		byTime[i] = int32(i)
	}
	slices.SortStableFunc(byTime, func(x, y int32) int {
		tx, ty := in.Commits[x].Time, in.Commits[y].Time
		switch {
		case tx > ty:
			return -1
		case tx < ty:
			return 1
		}
		return 0
	})
	for r, k := range byTime {
		if r < mustRecent || r%selectEvery == 0 {
			b.isSel[k] = true
		}
	}
	for _, s := range b.isSel {
		if s {
			b.selected++
		}
	}
	b.live = make([]*held, len(in.Commits))
	b.maxRaw = max(1, rawBudget/(n/8+8))
	return b, nil
}

// find returns the bit position of id.
func (b *builder) find(id plumbing.Hash) (int, bool) {
	i, ok := b.search(id)
	if !ok {
		return 0, false
	}
	return int(b.byID[i]), true
}

// search returns the index position of id (its rank by id).
func (b *builder) search(id plumbing.Hash) (int, bool) {
	k := int(id[0])<<8 | int(id[1])
	lo := 0
	if k > 0 {
		lo = int(b.fanout[k-1])
	}
	hi := int(b.fanout[k])
	// The 8-byte prefixes are compared first: they sit together in
	// memory, and rarely tie.
	p := binary.BigEndian.Uint64(id[:8])
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if b.prefix[m] < p {
			lo = m + 1
		} else {
			hi = m
		}
	}
	objs := b.in.Objects
	for ; lo < len(b.prefix) && b.prefix[lo] == p; lo++ {
		switch c := bytes.Compare(objs[b.byID[lo]].ID[:], id[:]); {
		case c == 0:
			return lo, true
		case c > 0:
			return lo, false
		}
	}
	return lo, false
}

// idxPos returns the index position (rank by id) of the object at bit.
func (b *builder) idxPos(bit uint32) uint32 {
	i, _ := b.search(b.in.Objects[bit].ID)
	return uint32(i)
}

// topoOrder lists commit numbers parents first, depth first from each
// commit in turn, so one line of history is finished before the next
// and few sets wait at any time.
func (b *builder) topoOrder() []int32 {
	const (
		unseen = iota
		open
		done
	)
	state := make([]uint8, len(b.in.Commits))
	order := make([]int32, 0, len(b.in.Commits))
	type frame struct {
		c    int32
		next int
	}
	var stack []frame
	for root := range b.in.Commits {
		if state[root] != unseen {
			continue
		}
		stack = append(stack[:0], frame{c: int32(root)})
		state[root] = open
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			ps := b.parents[f.c]
			if f.next < len(ps) {
				p := ps[f.next]
				f.next++
				if state[p] == unseen {
					state[p] = open
					stack = append(stack, frame{c: p})
				}
				continue
			}
			state[f.c] = done
			order = append(order, f.c)
			stack = stack[:len(stack)-1]
		}
	}
	return order
}

func (b *builder) run(ctx context.Context) error {
	for k, c := range b.topoOrder() {
		if k%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		s, err := b.inherit(c)
		if err != nil {
			return err
		}
		s.Add(int(b.commitBit[c]))
		if err := b.walkTree(s, b.in.Commits[c].Tree); err != nil {
			return fmt.Errorf("commit %s: %w", b.in.Commits[c].ID, err)
		}
		if b.isSel[c] {
			if err := b.emit(int(c), s); err != nil {
				return err
			}
			b.stats.Selected++
		}
		if b.pending[c] == 0 {
			b.free = append(b.free, s)
			continue
		}
		b.live[c] = &held{raw: s}
		b.rawLive++
		if b.rawLive > b.maxRaw {
			b.compressLive()
		}
	}
	return nil
}

// inherit returns a set holding what c's parents reach, taking over the
// first parent's set when c is its last child.
func (b *builder) inherit(c int32) (Set, error) {
	ps := b.parents[c]
	var s Set
	for i, p := range ps {
		h := b.live[p]
		b.pending[p]--
		last := b.pending[p] == 0
		if last {
			b.live[p] = nil
		}
		switch {
		case i == 0 && last && h.raw != nil:
			s = h.raw
			b.rawLive--
			continue
		case i == 0:
			s = b.newSet()
		}
		if h.raw != nil {
			s.Or(h.raw)
			if last {
				b.free = append(b.free, h.raw)
				b.rawLive--
			}
			continue
		}
		t, err := decodeEWAH(h.packed, 0, b.n)
		if err != nil {
			return nil, err
		}
		s.Or(t)
		b.free = append(b.free, t)
	}
	if s == nil {
		s = b.newSet()
	}
	return s, nil
}

func (b *builder) newSet() Set {
	if k := len(b.free); k > 0 {
		s := b.free[k-1]
		b.free = b.free[:k-1]
		clear(s)
		return s
	}
	return NewSet(b.n)
}

// compressLive packs every raw waiting set, and drops spare buffers.
func (b *builder) compressLive() {
	for _, h := range b.live {
		if h != nil && h.raw != nil {
			h.packed = appendEWAH(nil, h.raw)
			h.raw = nil
		}
	}
	b.rawLive = 0
	b.free = b.free[:0]
}

// walkTree adds to s the tree root and everything below it that s does
// not hold yet. s is closed under reachability, so a tree already in it
// brings all its content and is not read.
func (b *builder) walkTree(s Set, root plumbing.Hash) error {
	bit, ok := b.find(root)
	if !ok {
		return fmt.Errorf("%w: tree %s", ErrIncomplete, root)
	}
	if s.Has(bit) {
		return nil
	}
	s.Add(bit)
	b.stack = append(b.stack[:0], root)
	for len(b.stack) > 0 {
		id := b.stack[len(b.stack)-1]
		b.stack = b.stack[:len(b.stack)-1]
		data, err := b.in.ReadTree(id, b.treeBuf)
		if err != nil {
			return fmt.Errorf("tree %s: %w", id, err)
		}
		b.treeBuf = data
		b.stats.TreesRead++
		entries := odb.NewTreeIter(data)
		var e odb.TreeEntry
		for entries.Next(&e) {
			if e.Mode == odb.ModeGitlink {
				continue // a gitlink names a commit of another repository
			}
			ebit, ok := b.find(e.ID)
			if !ok {
				return fmt.Errorf("%w: %s in tree %s", ErrIncomplete, e.ID, id)
			}
			if s.Has(ebit) {
				continue
			}
			s.Add(ebit)
			if e.Mode == odb.ModeDir {
				b.stack = append(b.stack, e.ID)
			}
		}
		if entries.Err() != nil {
			return fmt.Errorf("tree %s: malformed entry", id)
		}
	}
	return nil
}

// appendEWAH appends s serialized as an EWAH bitmap (see decodeEWAH):
// runs of empty or full words become run lengths, other words literals;
// trailing empty words are left out, as git does.
func appendEWAH(dst []byte, s Set) []byte {
	words := len(s)
	for words > 0 && s[words-1] == 0 {
		words--
	}
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(64*words))
	dst = binary.BigEndian.AppendUint32(dst, 0) // word count, set below
	count, lastRLW := 0, 0
	const maxRun, maxLits = 1<<32 - 1, 1<<31 - 1
	for i := 0; i < words || count == 0; {
		var fill uint64
		run := 0
		if i < words && (s[i] == 0 || s[i] == ^uint64(0)) {
			fill = s[i]
			for i < words && s[i] == fill && run < maxRun {
				run++
				i++
			}
		}
		lits := 0
		for i+lits < words && s[i+lits] != 0 && s[i+lits] != ^uint64(0) && lits < maxLits {
			lits++
		}
		rlw := uint64(run)<<1 | uint64(lits)<<33
		if fill != 0 {
			rlw |= 1
		}
		lastRLW = count
		dst = binary.BigEndian.AppendUint64(dst, rlw)
		for _, w := range s[i : i+lits] {
			dst = binary.BigEndian.AppendUint64(dst, w)
		}
		i += lits
		count += 1 + lits
	}
	binary.BigEndian.PutUint32(dst[start+4:], uint32(count))
	return binary.BigEndian.AppendUint32(dst, uint32(lastRLW))
}
