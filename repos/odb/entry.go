package odb

import (
	"bufio"
	"compress/flate"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"
)

// entryHeader is what precedes an entry's zlib data in a pack.
type entryHeader struct {
	typ     plumbing.ObjectType
	size    int64  // inflated size: of the object, or of the delta
	len     int    // header bytes, base reference included
	baseRel uint64 // OFS_DELTA: distance back to the base
	baseID  plumbing.Hash
}

func (h entryHeader) delta() bool {
	return h.typ == plumbing.OFSDeltaObject || h.typ == plumbing.REFDeltaObject
}

// maxHeader is the longest entry header: 10 bytes of type and size (a
// size past 2^63 is refused), and a base reference of at most 20.
const maxHeader = 32

// parseEntryHeader reads an entry header from the start of b: 3 bits of
// type and 4 of size, 7 more bits of size per byte while the high bit is
// set, then for OFS_DELTA the distance back to the base (big-endian
// groups of 7 bits, each continuation adding one) and for REF_DELTA the
// base's id. Errors: ErrCorrupt.
func parseEntryHeader(b []byte) (entryHeader, error) {
	var h entryHeader
	bad := func(what string) (entryHeader, error) {
		return entryHeader{}, fmt.Errorf("%w: entry header: %s", ErrCorrupt, what)
	}
	if len(b) == 0 {
		return bad("cut short")
	}
	i := 0
	c := b[i]
	i++
	h.typ = plumbing.ObjectType(c >> 4 & 7)
	size := uint64(c & 15)
	for shift := 4; c&0x80 != 0; shift += 7 {
		if i >= len(b) {
			return bad("cut short")
		}
		if shift > 56 {
			return bad("size overflows")
		}
		c = b[i]
		i++
		size |= uint64(c&0x7f) << shift
	}
	if size > 1<<62 {
		return bad("size overflows")
	}
	h.size = int64(size)
	switch h.typ {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
	case plumbing.OFSDeltaObject:
		if i >= len(b) {
			return bad("cut short")
		}
		c = b[i]
		i++
		rel := uint64(c & 0x7f)
		for c&0x80 != 0 {
			if i >= len(b) {
				return bad("cut short")
			}
			if rel >= 1<<56 {
				return bad("base offset overflows")
			}
			c = b[i]
			i++
			rel = (rel+1)<<7 | uint64(c&0x7f)
		}
		h.baseRel = rel
	case plumbing.REFDeltaObject:
		if i+20 > len(b) {
			return bad("cut short")
		}
		copy(h.baseID[:], b[i:i+20])
		i += 20
	default:
		return bad(fmt.Sprintf("unknown type %d", h.typ))
	}
	h.len = i
	return h, nil
}

// header reads the header of the entry at off.
func (p *packFile) header(off uint64) (entryHeader, error) {
	f, size, err := p.file()
	if err != nil {
		return entryHeader{}, err
	}
	end := uint64(size - 20)
	if off < 12 || off >= end {
		return entryHeader{}, fmt.Errorf("%w: %s: entry offset %d outside the pack", ErrCorrupt, filepath.Base(p.path), off)
	}
	var buf [maxHeader]byte
	n, err := f.ReadAt(buf[:min(uint64(maxHeader), end-off)], int64(off))
	if err != nil && !(err == io.EOF && n > 0) {
		return entryHeader{}, fmt.Errorf("read %s: %w", filepath.Base(p.path), err)
	}
	h, err := parseEntryHeader(buf[:n])
	if err != nil {
		return entryHeader{}, fmt.Errorf("%s at %d: %w", filepath.Base(p.path), off, err)
	}
	return h, nil
}

// inflate streams the zlib data of the entry at off, whose header is h:
// exactly h.size bytes, then the stream's end (its checksum checked).
func (p *packFile) inflate(off uint64, h entryHeader) (io.ReadCloser, error) {
	f, size, err := p.file()
	if err != nil {
		return nil, err
	}
	start := int64(off) + int64(h.len)
	end := size - 20
	if start >= end {
		return nil, fmt.Errorf("%w: %s: entry at %d cut short", ErrCorrupt, filepath.Base(p.path), off)
	}
	return newExactReader(io.NewSectionReader(f, start, end-start), h.size, nil)
}

// exactReader inflates a zlib stream that must hold exactly size bytes:
// it reports ErrCorrupt for a stream ending early, one running past its
// size, and zlib's own complaints (the Adler-32 included).
type exactReader struct {
	zr     io.ReadCloser
	left   int64
	closer io.Closer // the underlying file, if owned
	done   bool
}

func newExactReader(src io.Reader, size int64, closer io.Closer) (*exactReader, error) {
	zr, err := zlib.NewReader(bufio.NewReaderSize(src, 16<<10))
	if err != nil {
		if closer != nil {
			closer.Close()
		}
		return nil, zlibErr(err)
	}
	return &exactReader{zr: zr, left: size, closer: closer}, nil
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left == 0 {
		if e.done {
			return 0, io.EOF
		}
		// The data must end here, and the checksum after it match.
		var one [1]byte
		for {
			n, err := e.zr.Read(one[:])
			if n > 0 {
				return 0, fmt.Errorf("%w: object longer than its header says", ErrCorrupt)
			}
			if err == io.EOF {
				e.done = true
				return 0, io.EOF
			}
			if err != nil {
				return 0, zlibErr(err)
			}
		}
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.zr.Read(p)
	e.left -= int64(n)
	switch {
	case err == io.EOF && e.left > 0:
		return n, fmt.Errorf("%w: object shorter than its header says", ErrCorrupt)
	case err == io.EOF:
		e.done = true
		return n, nil
	case err != nil:
		return n, zlibErr(err)
	}
	return n, nil
}

func (e *exactReader) Close() error {
	e.zr.Close()
	if e.closer != nil {
		return e.closer.Close()
	}
	return nil
}

// zlibErr reports zlib's complaints as corruption and passes I/O errors
// through.
func zlibErr(err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, zlib.ErrChecksum), errors.Is(err, zlib.ErrHeader), errors.Is(err, zlib.ErrDictionary),
		errors.As(err, &corrupt), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return err
}

// byteReader reads single bytes from a stream without a buffer of its
// own, for the few bytes of a delta's sizes.
type byteReader struct {
	r   io.Reader
	one [1]byte
}

func (b *byteReader) ReadByte() (byte, error) {
	if _, err := io.ReadFull(b.r, b.one[:]); err != nil {
		return 0, shortRead(err)
	}
	return b.one[0], nil
}

// readVarint reads one of a delta's two sizes: little-endian groups of
// 7 bits while the high bit is set. Errors: ErrCorrupt, or r's.
func readVarint(r io.ByteReader) (int64, error) {
	var n uint64
	for shift := 0; ; shift += 7 {
		if shift > 56 {
			return 0, fmt.Errorf("%w: delta size overflows", ErrCorrupt)
		}
		c, err := r.ReadByte()
		if err != nil {
			return 0, shortRead(err)
		}
		n |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return int64(n), nil
		}
	}
}
