package packobjects

import (
	"compress/zlib"
	"fmt"
	"io"
	"math"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// Pack entry types (the same numbers as plumbing.ObjectType).
const (
	typeCommit   = 1
	typeTree     = 2
	typeBlob     = 3
	typeTag      = 4
	typeOfsDelta = 6
	typeRefDelta = 7
)

// entryHeader is what precedes an entry's zlib data.
type entryHeader struct {
	typ     byte
	size    uint64 // inflated size: of the object, or of the delta
	len     int    // header bytes, base reference included
	baseRel uint64 // OFS_DELTA: distance back to the base
	baseID  plumbing.Hash
}

func (h entryHeader) delta() bool { return h.typ == typeOfsDelta || h.typ == typeRefDelta }

// header parses the header of the entry at [off, end).
func (wr *writer) header(p *srcPack, off, end uint64) (entryHeader, error) {
	var h entryHeader
	bad := func(what string) error {
		return fmt.Errorf("%w: %s: entry at %d: %s", ErrCorrupt, filepath.Base(p.path), off, what)
	}
	if end <= off {
		return h, bad("empty")
	}
	// 10 bytes of type and size, then at most 20 of base reference.
	b, err := wr.win.get(p, off, int(min(end-off, 32)))
	if err != nil {
		return h, fmt.Errorf("read %s: %w", p.path, err)
	}
	i := 0
	c := b[i]
	i++
	h.typ = (c >> 4) & 7
	h.size = uint64(c & 15)
	for shift := 4; c&0x80 != 0; shift += 7 {
		if i >= len(b) || shift > 57 {
			return h, bad("bad size")
		}
		c = b[i]
		i++
		h.size |= uint64(c&0x7f) << shift
	}
	switch h.typ {
	case typeCommit, typeTree, typeBlob, typeTag:
	case typeOfsDelta:
		if i >= len(b) {
			return h, bad("cut short")
		}
		c = b[i]
		i++
		rel := uint64(c & 0x7f)
		for c&0x80 != 0 {
			if i >= len(b) || rel >= 1<<56 {
				return h, bad("bad base offset")
			}
			c = b[i]
			i++
			rel = (rel+1)<<7 | uint64(c&0x7f)
		}
		h.baseRel = rel
	case typeRefDelta:
		if i+20 > len(b) {
			return h, bad("cut short")
		}
		copy(h.baseID[:], b[i:i+20])
		i += 20
	default:
		return h, bad("unknown type")
	}
	h.len = i
	return h, nil
}

// putHeader encodes an entry's type and size and returns its length.
func putHeader(b []byte, typ byte, size uint64) int {
	c := typ<<4 | byte(size&15)
	size >>= 4
	n := 0
	for size != 0 {
		b[n] = c | 0x80
		n++
		c = byte(size & 0x7f)
		size >>= 7
	}
	b[n] = c
	return n + 1
}

// putOfs encodes an OFS_DELTA's base distance: big-endian groups of 7
// bits, each group but the last stored minus one, so that every distance
// has exactly one encoding.
func putOfs(b []byte, rel uint64) int {
	var tmp [10]byte
	i := len(tmp) - 1
	tmp[i] = byte(rel & 0x7f)
	for rel >>= 7; rel != 0; rel >>= 7 {
		rel--
		i--
		tmp[i] = 0x80 | byte(rel&0x7f)
	}
	return copy(b, tmp[i:])
}

// writeLoose writes a loose object whole. Its content is streamed
// (never held) and checked against its id on the way by odb, so a damaged
// file stops the write rather than reaching the client under the wrong
// id (the damage is caught after the entry is buffered, but before the
// trailer, so the client never gets a valid pack).
func (wr *writer) writeLoose(id plumbing.Hash) error {
	typ, size, rc, err := odb.OpenLoose(wr.gitDir, id, math.MaxInt64)
	if err != nil {
		return corrupt(err)
	}
	defer rc.Close()
	return corrupt(wr.writeWhole(byte(typ), uint64(size), rc))
}

// writeResolved writes whole a delta whose base is neither sent nor held
// by the client. go-git rebuilds the object, in memory for objects under
// odb.Open's large-object threshold; this is the only place the writer
// holds an object, and only one at a time.
func (wr *writer) writeResolved(id plumbing.Hash) error {
	if wr.store == nil {
		wr.store = odb.Open(wr.gitDir)
	}
	obj, err := wr.store.EncodedObject(plumbing.AnyObject, id)
	if err != nil {
		return err
	}
	r, err := obj.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	return wr.writeWhole(byte(obj.Type()), uint64(obj.Size()), r)
}

// writeWhole writes an entry of the given type and size, compressing the
// size bytes read from r.
func (wr *writer) writeWhole(typ byte, size uint64, r io.Reader) error {
	if err := wr.put(wr.hdr[:putHeader(wr.hdr[:], typ, size)]); err != nil {
		return err
	}
	sink := putWriter{wr}
	if wr.zw == nil {
		wr.zw = zlib.NewWriter(sink)
	} else {
		wr.zw.Reset(sink)
	}
	buf := make([]byte, 32<<10)
	var n uint64
	for {
		if err := wr.ctx.Err(); err != nil {
			return err
		}
		m, err := r.Read(buf)
		if m > 0 {
			n += uint64(m)
			if n > size {
				return fmt.Errorf("%w: object longer than its size %d", ErrCorrupt, size)
			}
			if _, werr := wr.zw.Write(buf[:m]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if n != size {
		return fmt.Errorf("%w: object of %d bytes, size says %d", ErrCorrupt, n, size)
	}
	return wr.zw.Close()
}

// putWriter lets zlib write through writer.put.
type putWriter struct{ wr *writer }

func (p putWriter) Write(b []byte) (int, error) {
	if err := p.wr.put(b); err != nil {
		return 0, err
	}
	return len(b), nil
}
