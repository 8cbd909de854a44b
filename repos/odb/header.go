package odb

import (
	"io"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"
)

// EntryHeader is what precedes an entry's zlib data in a pack.
type EntryHeader struct {
	Type    plumbing.ObjectType
	Size    int64  // inflated size: of the object, or of the delta
	Len     int    // header bytes, base reference included
	BaseRel uint64 // OFS_DELTA: distance back to the base
	BaseID  plumbing.Hash
}

// Delta says whether the entry is a delta (OFS_DELTA or REF_DELTA).
func (h EntryHeader) Delta() bool {
	return h.Type == plumbing.OFSDeltaObject || h.Type == plumbing.REFDeltaObject
}

// MaxEntryHeader is the longest entry header: at most 9 bytes of type
// and size (a size of 2^60 or more is refused) and a base reference of
// at most 20 (an id; a distance takes at most 10).
const MaxEntryHeader = 32

// ParseEntryHeader reads an entry header from the start of b (see
// ReadEntryHeader). A header running past b is ErrCorrupt.
func ParseEntryHeader(b []byte) (EntryHeader, error) {
	s := sliceReader{b: b}
	h, err := ReadEntryHeader(&s)
	if err == errCutShort {
		return EntryHeader{}, headerErr("cut short")
	}
	return h, err
}

// ReadEntryHeader reads an entry header from r: 3 bits of type and 4 of
// size, 7 more bits of size per byte while the high bit is set, then for
// OFS_DELTA the distance back to the base (big-endian groups of 7 bits,
// each continuation adding one) and for REF_DELTA the base's id. It
// reads no byte past the header. Errors: ErrCorrupt for an unknown type
// or a size or distance that overflows, or r's own error as it is.
func ReadEntryHeader(r io.ByteReader) (EntryHeader, error) {
	var h EntryHeader
	c, err := r.ReadByte()
	if err != nil {
		return EntryHeader{}, err
	}
	n := 1
	h.Type = plumbing.ObjectType(c >> 4 & 7)
	size := uint64(c & 15)
	for shift := 4; c&0x80 != 0; shift += 7 {
		if shift > 56 {
			return EntryHeader{}, headerErr("size overflows")
		}
		if c, err = r.ReadByte(); err != nil {
			return EntryHeader{}, err
		}
		n++
		size |= uint64(c&0x7f) << shift
	}
	h.Size = int64(size)
	switch h.Type {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
	case plumbing.OFSDeltaObject:
		if c, err = r.ReadByte(); err != nil {
			return EntryHeader{}, err
		}
		n++
		rel := uint64(c & 0x7f)
		for c&0x80 != 0 {
			if rel >= 1<<56 {
				return EntryHeader{}, headerErr("base offset overflows")
			}
			if c, err = r.ReadByte(); err != nil {
				return EntryHeader{}, err
			}
			n++
			rel = (rel+1)<<7 | uint64(c&0x7f)
		}
		h.BaseRel = rel
	case plumbing.REFDeltaObject:
		for i := range h.BaseID {
			if h.BaseID[i], err = r.ReadByte(); err != nil {
				return EntryHeader{}, err
			}
		}
		n += len(h.BaseID)
	default:
		return EntryHeader{}, headerErr("unknown type " + strconv.Itoa(int(h.Type)))
	}
	h.Len = n
	return h, nil
}

// PutEntryHeader encodes an entry's type and size at the start of b (10
// bytes are always enough) and returns the bytes used. For a delta, the
// base reference follows: PutOfsDistance's, or the base's id.
func PutEntryHeader(b []byte, typ plumbing.ObjectType, size uint64) int {
	c := byte(typ)<<4 | byte(size&15)
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

// PutOfsDistance encodes an OFS_DELTA's distance back to its base at the
// start of b (10 bytes are always enough) and returns the bytes used:
// big-endian groups of 7 bits, each group but the last stored minus one,
// so that every distance has exactly one encoding.
func PutOfsDistance(b []byte, rel uint64) int {
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

// headerErr is a bad entry header, for the caller to say where it is.
func headerErr(what string) error { return &corruption{"entry header: " + what} }

// errCutShort: a sliceReader ran out of bytes.
var errCutShort = &corruption{"cut short"}

// sliceReader reads the bytes of b one at a time.
type sliceReader struct {
	b []byte
	i int
}

func (s *sliceReader) ReadByte() (byte, error) {
	if s.i >= len(s.b) {
		return 0, errCutShort
	}
	c := s.b[s.i]
	s.i++
	return c, nil
}
