// Package packobjects writes the pack a fetch or clone sends, reusing the
// compressed entries and deltas already in the repository's packs instead
// of recomputing them, and streaming the result with bounded memory.
//
// go-git's encoder inflates, re-deltifies and recompresses every object
// for every clone; git's pack-objects instead copies what is on disk. This
// package does the latter: an entry stored whole is copied byte for byte;
// a delta whose base is also sent (or, for a thin pack, is held by the
// client) is copied with only its header and base reference rewritten.
// Only a delta whose base is neither sent nor held, and loose objects,
// are inflated and written whole.
package packobjects

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"slices"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
	"gatehouse/repos/pktline"
)

// ErrCorrupt reports a damaged pack, index or loose object in the
// repository (it matches odb.ErrCorrupt too). Nothing damaged is ever
// sent: the write stops before it.
var ErrCorrupt = odb.CorruptKind("corrupt object store")

// Options says what the client can take.
type Options struct {
	// OfsDelta: the client accepts deltas naming their base by offset
	// (capability ofs-delta). Otherwise deltas name their base by id.
	OfsDelta bool
	// ClientHas reports whether the client has an object, which may then
	// serve as the base of a delta that is sent (a thin pack; the client
	// must have asked for thin-pack). Nil: the pack is self-contained.
	ClientHas func(plumbing.Hash) bool
	// Progress, if set, gets git-style "Writing objects" lines.
	Progress io.Writer
	// Packs, if set, are the repository's packs, newest first, as the
	// caller has them open (odb.OpenPacks): they are read, not listed and
	// opened again, and stay open. Nil: gitDir's packs are opened for
	// the write and closed after.
	Packs []*odb.Pack
}

// Stats counts how each object was written.
type Stats struct {
	Objects      int   // entries in the pack
	Reused       int   // whole entries copied as stored
	ReusedDeltas int   // deltas copied against a base in the pack
	Thin         int   // deltas copied against a base the client has
	Recompressed int   // objects inflated and compressed again
	Bytes        int64 // size of the pack, trailer included
}

// Write writes to w a version 2 pack holding exactly the objects objs
// (duplicates are sent once), in an order of its choosing, and returns
// how it was made. gitDir is the repository (the directory holding
// "objects").
//
// Errors: an object in none of the indexed packs nor loose is reported
// with plumbing.ErrObjectNotFound, before anything is written; a damaged
// pack entry (its CRC-32 differs from the index's), index or loose object
// with ErrCorrupt; cancellation with ctx.Err(). After an error the pack
// on w is cut short without a trailer, so a client cannot accept it.
func Write(ctx context.Context, gitDir string, objs []plumbing.Hash, opts Options, w io.Writer) (Stats, error) {
	packs, release, err := openSources(gitDir, opts.Packs)
	if err != nil {
		return Stats{}, fmt.Errorf("pack-objects: open packs: %w", err)
	}
	defer release()
	wr := &writer{ctx: ctx, gitDir: gitDir, packs: packs, opts: opts}
	defer wr.close()
	if err := wr.plan(objs); err != nil {
		return Stats{}, fmt.Errorf("pack-objects: %w", err)
	}
	err = wr.write(w)
	return wr.stats, err
}

// How an object is written.
const (
	modeCopy    = iota // whole entry copied
	modeDelta          // delta against a base in the pack, copied
	modeThin           // delta against a base the client has, copied
	modeResolve        // delta whose base is not available: inflated, written whole
	modeLoose          // loose object, written whole
)

// Emission states for the depth-first walk that puts bases first.
const (
	stateNone = iota
	stateOnStack
	stateDone
)

// entry is the bookkeeping for one object: 48 bytes, the only memory
// that grows with the number of objects sent besides the reverse indexes
// of the packs sent from (8 bytes an object of those packs: pack order
// and its inverse, odb.RevIndex).
type entry struct {
	hash   plumbing.Hash
	outOff uint64 // in the pack written
	rank   uint32 // in pack order (the pack's reverse index); for a loose object, its index in writer.loose
	pack   int32  // index in writer.packs; -1 if loose
	base   int32  // entry index of the base, for modeDelta
	mode   uint8
	state  uint8
}

type writer struct {
	ctx    context.Context
	gitDir string
	packs  []*srcPack
	opts   Options
	ents   []entry         // by (pack, rank): pack order, loose ones last
	order  []int32         // entry indexes in the order to write them; nil: ents' order
	loose  []plumbing.Hash // ids of the loose objects sent, sorted
	stats  Stats
	win    window
	hdr    [odb.MaxEntryHeader]byte // scratch for entry headers (a local would escape to the heap)

	out *bufio.Writer
	sum hash.Hash
	n   uint64 // bytes written so far
	zw  *zlib.Writer
	// objects reads the deltas written whole, opened on first use.
	objects *odb.Reader
	prog    *pktline.Progress
}

func (wr *writer) close() {
	if wr.objects != nil {
		wr.objects.Close()
	}
}

// plan finds every object, reads its entry header and decides how it will
// be written. Nothing is written yet, so a missing object fails cleanly.
func (wr *writer) plan(objs []plumbing.Hash) error {
	// Each object is found in the first pack that has it (the newest),
	// and its index position kept for now in rank. The entries are then
	// sorted by (pack, offset): that removes duplicates, is the order
	// they are written in, and finds an entry by binary search, with no
	// map and no id on top of the per-object bookkeeping.
	wr.ents = make([]entry, 0, len(objs))
	used := make([]bool, len(wr.packs))
	for i, h := range objs {
		if i%1024 == 0 {
			if err := wr.ctx.Err(); err != nil {
				return err
			}
		}
		found := false
		for pi, p := range wr.packs {
			if pos, ok := p.find(h); ok {
				wr.ents = append(wr.ents, entry{hash: h, pack: int32(pi), rank: pos, base: -1})
				used[pi], found = true, true
				break
			}
		}
		if !found {
			if err := odb.StatLoose(wr.gitDir, h); err != nil {
				return err
			}
			wr.loose = append(wr.loose, h)
		}
	}
	for pi, p := range wr.packs {
		if used[pi] {
			if err := p.use(); err != nil {
				return err
			}
		}
	}
	for i := range wr.ents {
		e := &wr.ents[i]
		e.rank = wr.packs[e.pack].rev.Rank(e.rank)
	}
	slices.SortFunc(wr.loose, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
	wr.loose = slices.Compact(wr.loose)
	for i := range wr.loose {
		wr.ents = append(wr.ents, entry{hash: wr.loose[i], pack: -1, rank: uint32(i), base: -1, mode: modeLoose})
	}
	slices.SortFunc(wr.ents, compareEntries)
	wr.ents = slices.CompactFunc(wr.ents, func(a, b entry) bool { return a.pack == b.pack && a.rank == b.rank })
	if uint64(len(wr.ents)) > 0x7fffffff {
		return fmt.Errorf("%d objects do not fit in one pack", len(wr.ents))
	}

	// In pack order, so the headers come from a few large sequential
	// reads.
	for k := range wr.ents {
		if k%1024 == 0 {
			if err := wr.ctx.Err(); err != nil {
				return err
			}
		}
		e := &wr.ents[k]
		if e.pack < 0 {
			break // loose ones sort last
		}
		p := wr.packs[e.pack]
		off := p.rev.Offset(int(e.rank))
		h, err := wr.header(p, off, p.rev.End(int(e.rank)))
		if err != nil {
			return err
		}
		if !h.Delta() {
			e.mode = modeCopy
			continue
		}
		base, err := wr.baseID(p, off, h)
		if err != nil {
			return err
		}
		switch b, sent := wr.lookup(base); {
		case sent:
			e.mode, e.base = modeDelta, b
		case wr.opts.ClientHas != nil && wr.opts.ClientHas(base):
			e.mode = modeThin
		default:
			e.mode = modeResolve
		}
	}
	return nil
}

// compareEntries orders entries by pack, then offset; loose ones last.
func compareEntries(a, b entry) int {
	pa, pb := uint32(a.pack), uint32(b.pack) // -1 sorts last
	switch {
	case pa != pb:
		if pa < pb {
			return -1
		}
		return 1
	case a.rank < b.rank:
		return -1
	case a.rank > b.rank:
		return 1
	}
	return 0
}

// lookup returns the entry index of id, if it is being sent. Like plan,
// it looks in the first pack that has id.
func (wr *writer) lookup(id plumbing.Hash) (int32, bool) {
	key := entry{pack: -1}
	for pi, p := range wr.packs {
		pos, ok := p.find(id)
		if !ok {
			continue
		}
		if p.rev == nil {
			return -1, false // nothing is sent from this pack
		}
		key = entry{pack: int32(pi), rank: p.rev.Rank(pos)}
		break
	}
	if key.pack < 0 {
		i, ok := slices.BinarySearchFunc(wr.loose, id, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
		if !ok {
			return -1, false
		}
		key.rank = uint32(i)
	}
	i, ok := slices.BinarySearchFunc(wr.ents, key, compareEntries)
	return int32(i), ok
}

// id returns the object id of e.
func (wr *writer) id(e *entry) plumbing.Hash { return e.hash }

// baseID returns the id of a delta's base: given in a REF_DELTA, looked
// up by offset for an OFS_DELTA (whose base is always in the same pack).
func (wr *writer) baseID(p *srcPack, off uint64, h odb.EntryHeader) (plumbing.Hash, error) {
	if h.Type == plumbing.REFDeltaObject {
		return h.BaseID, nil
	}
	if h.BaseRel == 0 || h.BaseRel > off {
		return plumbing.ZeroHash, fmt.Errorf("%w: %s: bad delta base offset at %d", ErrCorrupt, p.path, off)
	}
	rank, ok := p.rev.Find(off - h.BaseRel)
	if !ok {
		return plumbing.ZeroHash, fmt.Errorf("%w: %s: delta at %d has no base entry", ErrCorrupt, p.path, off)
	}
	var id plumbing.Hash
	copy(id[:], p.name(p.rev.Pos(rank)))
	return id, nil
}

// write streams the pack: header, entries with every in-pack delta after
// its base, trailer.
func (wr *writer) write(w io.Writer) error {
	wr.sum = sha1.New()
	wr.out = bufio.NewWriterSize(w, 64<<10)
	wr.prog = pktline.NewProgress(wr.opts.Progress, time.Second, nil)

	var hdr [12]byte
	copy(hdr[:], "PACK\x00\x00\x00\x02")
	binary.BigEndian.PutUint32(hdr[8:], uint32(len(wr.ents)))
	if err := wr.put(hdr[:]); err != nil {
		return err
	}

	// Depth-first from each entry in pack order: a delta whose base has
	// not been written yet waits on the stack below it. A base found on
	// the stack means a cycle (possible only across packs holding the
	// same objects differently); that delta is resolved and written
	// whole, which breaks it.
	var stack []int32
	done := 0
	n := len(wr.ents)
	if wr.order != nil {
		n = len(wr.order)
	}
	for k := range n {
		i := int32(k)
		if wr.order != nil {
			i = wr.order[k]
		}
		if wr.ents[i].state == stateDone {
			continue
		}
		stack = append(stack[:0], i)
		for len(stack) > 0 {
			t := stack[len(stack)-1]
			e := &wr.ents[t]
			if e.state == stateDone {
				stack = stack[:len(stack)-1]
				continue
			}
			e.state = stateOnStack
			if e.mode == modeDelta {
				switch wr.ents[e.base].state {
				case stateNone:
					stack = append(stack, e.base)
					continue
				case stateOnStack:
					e.mode = modeResolve
				}
			}
			if done%64 == 0 {
				if err := wr.ctx.Err(); err != nil {
					return err
				}
			}
			if err := wr.emit(e); err != nil {
				return fmt.Errorf("pack-objects: object %s: %w", wr.id(e), err)
			}
			e.state = stateDone
			stack = stack[:len(stack)-1]
			done++
			wr.prog.Percent("Writing objects", done, len(wr.ents))
		}
	}

	if err := wr.put(wr.sum.Sum(nil)); err != nil {
		return err
	}
	if err := wr.out.Flush(); err != nil {
		return fmt.Errorf("pack-objects: write: %w", err)
	}
	wr.stats.Objects = len(wr.ents)
	wr.stats.Bytes = int64(wr.n)
	wr.prog.PercentDone("Writing objects", len(wr.ents), len(wr.ents), "done.")
	return nil
}

// put writes to the output, the checksum and the byte count.
func (wr *writer) put(b []byte) error {
	wr.sum.Write(b)
	wr.n += uint64(len(b))
	if _, err := wr.out.Write(b); err != nil {
		return fmt.Errorf("pack-objects: write: %w", err)
	}
	return nil
}

func (wr *writer) emit(e *entry) error {
	e.outOff = wr.n
	switch e.mode {
	case modeLoose:
		wr.stats.Recompressed++
		return wr.writeLoose(wr.id(e))
	case modeResolve:
		wr.stats.Recompressed++
		return wr.writeResolved(wr.id(e))
	}
	return wr.copyEntry(e)
}

// copyEntry copies a packed entry, rewriting the header (and the base
// reference of a delta) for the pack being written. The raw entry is
// checked against the index's CRC-32 before any of it is written.
func (wr *writer) copyEntry(e *entry) error {
	p := wr.packs[e.pack]
	pos := p.rev.Pos(int(e.rank))
	off := p.rev.Offset(int(e.rank))
	end := p.rev.End(int(e.rank))
	h, err := wr.header(p, off, end)
	if err != nil {
		return err
	}

	nh := wr.hdr[:]
	var n int
	switch e.mode {
	case modeCopy:
		n = odb.PutEntryHeader(nh, h.Type, uint64(h.Size))
		wr.stats.Reused++
	case modeDelta:
		base := &wr.ents[e.base]
		if wr.opts.OfsDelta {
			n = odb.PutEntryHeader(nh, plumbing.OFSDeltaObject, uint64(h.Size))
			n += odb.PutOfsDistance(nh[n:], e.outOff-base.outOff)
		} else {
			n = odb.PutEntryHeader(nh, plumbing.REFDeltaObject, uint64(h.Size))
			id := wr.id(base)
			n += copy(nh[n:], id[:])
		}
		wr.stats.ReusedDeltas++
	case modeThin:
		id, err := wr.baseID(p, off, h)
		if err != nil {
			return err
		}
		n = odb.PutEntryHeader(nh, plumbing.REFDeltaObject, uint64(h.Size))
		n += copy(nh[n:], id[:])
		wr.stats.Thin++
	}

	want := p.crc(pos)
	length := end - off
	if length <= windowSize {
		raw, err := wr.win.get(p, off, int(length))
		if err != nil {
			return fmt.Errorf("read %s: %w", p.path, err)
		}
		if crc32.ChecksumIEEE(raw) != want {
			return fmt.Errorf("%w: %s: CRC mismatch in entry at %d", ErrCorrupt, p.path, off)
		}
		if err := wr.put(nh[:n]); err != nil {
			return err
		}
		return wr.put(raw[h.Len:])
	}

	// A large entry is read twice: once to check it, once to send it, so
	// that damage is found before any of it leaves. The second read comes
	// from the page cache.
	crc := crc32.NewIEEE()
	if err := wr.readRange(p, off, end, func(b []byte) error { crc.Write(b); return nil }); err != nil {
		return err
	}
	if crc.Sum32() != want {
		return fmt.Errorf("%w: %s: CRC mismatch in entry at %d", ErrCorrupt, p.path, off)
	}
	if err := wr.put(nh[:n]); err != nil {
		return err
	}
	return wr.readRange(p, off+uint64(h.Len), end, wr.put)
}

// readRange passes [from, to) of a pack to fn in window-sized pieces,
// checking for cancellation between them.
func (wr *writer) readRange(p *srcPack, from, to uint64, fn func([]byte) error) error {
	for from < to {
		if err := wr.ctx.Err(); err != nil {
			return err
		}
		n := min(to-from, windowSize)
		b, err := wr.win.get(p, from, int(n))
		if err != nil {
			return fmt.Errorf("read %s: %w", p.path, err)
		}
		if err := fn(b); err != nil {
			return err
		}
		from += n
	}
	return nil
}
