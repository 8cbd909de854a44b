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
	var d entryDecoder
	for _, c := range b {
		if done, err := d.add(c); err != nil {
			return EntryHeader{}, err
		} else if done {
			return d.h, nil
		}
	}
	return EntryHeader{}, headerErr("cut short")
}

// ReadEntryHeader reads an entry header from r: 3 bits of type and 4 of
// size, 7 more bits of size per byte while the high bit is set, then for
// OFS_DELTA the distance back to the base (big-endian groups of 7 bits,
// each continuation adding one) and for REF_DELTA the base's id. It
// reads no byte past the header. Errors: ErrCorrupt for an unknown type
// or a size or distance that overflows, or r's own error as it is.
func ReadEntryHeader(r io.ByteReader) (EntryHeader, error) {
	var d entryDecoder
	for {
		c, err := r.ReadByte()
		if err != nil {
			return EntryHeader{}, err
		}
		if done, err := d.add(c); err != nil {
			return EntryHeader{}, err
		} else if done {
			return d.h, nil
		}
	}
}

// entryDecoder decodes an entry header a byte at a time, so that bytes
// in hand and bytes from a stream are read by the same code.
type entryDecoder struct {
	h     EntryHeader
	next  uint8 // what the next byte is
	size  uint64
	shift int // of the next size byte
	ofs   int // distance bytes seen
	ref   int // base id bytes seen
}

// What an entry header's next byte is.
const (
	nextFirst = iota
	nextSize
	nextOfs
	nextRef
)

// add takes the header's next byte and says whether the header is
// complete.
func (d *entryDecoder) add(c byte) (bool, error) {
	d.h.Len++
	switch d.next {
	case nextFirst:
		d.h.Type = plumbing.ObjectType(c >> 4 & 7)
		d.size, d.shift, d.next = uint64(c&15), 4, nextSize
		return d.sizeDone(c)
	case nextSize:
		d.size |= uint64(c&0x7f) << d.shift
		d.shift += 7
		return d.sizeDone(c)
	case nextOfs:
		if d.ofs == 0 {
			d.h.BaseRel = uint64(c & 0x7f)
		} else {
			d.h.BaseRel = (d.h.BaseRel+1)<<7 | uint64(c&0x7f)
		}
		d.ofs++
		if c&0x80 == 0 {
			return true, nil
		}
		if d.h.BaseRel >= 1<<56 {
			return false, headerErr("base offset overflows")
		}
		return false, nil
	default:
		d.h.BaseID[d.ref] = c
		d.ref++
		return d.ref == len(d.h.BaseID), nil
	}
}

// sizeDone follows a byte of the size: another comes if its high bit is
// set; if not, the type says what follows.
func (d *entryDecoder) sizeDone(c byte) (bool, error) {
	if c&0x80 != 0 {
		if d.shift > 56 {
			return false, headerErr("size overflows")
		}
		return false, nil
	}
	d.h.Size = int64(d.size)
	switch d.h.Type {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
		return true, nil
	case plumbing.OFSDeltaObject:
		d.next = nextOfs
	case plumbing.REFDeltaObject:
		d.next = nextRef
	default:
		return false, headerErr("unknown type " + strconv.Itoa(int(d.h.Type)))
	}
	return false, nil
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
