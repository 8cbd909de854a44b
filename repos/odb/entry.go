package odb

import (
	"compress/flate"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
)

// header reads the header of the entry at off.
func (p *packFile) header(off uint64) (EntryHeader, error) {
	f, size, err := p.file()
	if err != nil {
		return EntryHeader{}, err
	}
	end := uint64(size - 20)
	if off < 12 || off >= end {
		return EntryHeader{}, fmt.Errorf("%w: %s: entry offset %d outside the pack", ErrCorrupt, filepath.Base(p.path), off)
	}
	var buf [MaxEntryHeader]byte
	n, err := f.ReadAt(buf[:min(uint64(MaxEntryHeader), end-off)], int64(off))
	if err != nil && !(err == io.EOF && n > 0) {
		return EntryHeader{}, fmt.Errorf("read %s: %w", filepath.Base(p.path), err)
	}
	h, err := ParseEntryHeader(buf[:n])
	if err != nil {
		return EntryHeader{}, fmt.Errorf("%w: %s at %d: %w", ErrCorrupt, filepath.Base(p.path), off, err)
	}
	return h, nil
}

// inflate streams the zlib data of the entry at off, whose header is h:
// exactly h.size bytes, then the stream's end (its checksum checked).
func (p *packFile) inflate(off uint64, h EntryHeader) (*exactReader, error) {
	f, size, err := p.file()
	if err != nil {
		return nil, err
	}
	start := int64(off) + int64(h.Len)
	end := size - 20
	if start >= end {
		return nil, fmt.Errorf("%w: %s: entry at %d cut short", ErrCorrupt, filepath.Base(p.path), off)
	}
	return newExactReader(f, start, end-start, h.Size, nil)
}

// exactReader inflates a zlib stream that must hold exactly size bytes:
// it reports ErrCorrupt for a stream ending early, one running past its
// size, and zlib's own complaints (the Adler-32 included). Its buffer
// and inflater are pooled: a walk reads many small objects, and each
// inflater costs tens of kilobytes.
type exactReader struct {
	src    chunkReader
	zr     io.ReadCloser // a zlib reader, which is a zlib.Resetter
	left   int64
	closer io.Closer // the underlying file, if owned
	done   bool
	live   bool // taken from the pool and not yet returned
}

var inflaters sync.Pool // of *exactReader

// newExactReader inflates the n bytes of src from off (all of it when n
// is negative), expecting size bytes; closer, if set, is closed with it.
func newExactReader(src io.ReaderAt, off, n, size int64, closer io.Closer) (*exactReader, error) {
	end := int64(1<<63 - 1)
	if n >= 0 {
		end = off + n
	}
	e := getExactReader()
	// The first read asks for what zlib needs at most for size bytes
	// (its deflateBound, with room to spare), so that a small object
	// costs a small read; the stream goes on past it if it must.
	e.src.reset(src, off, end, size+size>>12+size>>14+64)
	e.closer = closer
	if err := e.start(size); err != nil {
		return nil, err
	}
	return e, nil
}

func getExactReader() *exactReader {
	e, _ := inflaters.Get().(*exactReader)
	if e == nil {
		e = &exactReader{src: chunkReader{buf: make([]byte, chunkSize)}}
	}
	e.live = true
	return e
}

// start starts inflating what is left of src, expecting size bytes. On
// an error it closes e.
func (e *exactReader) start(size int64) error {
	if left, ok := e.src.left(); ok && !inflatable(size, left) {
		e.Close()
		return fmt.Errorf("%w: %d bytes declared, more than the %d compressed bytes left can hold", ErrCorrupt, size, left)
	}
	var err error
	if e.zr == nil {
		e.zr, err = zlib.NewReader(&e.src)
	} else {
		err = e.zr.(zlib.Resetter).Reset(&e.src, nil)
	}
	e.left, e.done = size, false
	if err != nil {
		e.Close()
		return zlibErr(err)
	}
	return nil
}

// entryPeek is how much entry reads of an entry at once: its header and,
// for most commits, trees and deltas, all of its data.
const entryPeek = 2 << 10

// entry reads the header of the entry at off and, in the same read, the
// start of its data, for an exactReader to inflate once started
// (exactReader.start). The caller closes it.
func (p *packFile) entry(off uint64) (EntryHeader, *exactReader, error) {
	f, size, err := p.file()
	if err != nil {
		return EntryHeader{}, nil, err
	}
	end := size - 20
	if off < 12 || int64(off) >= end {
		return EntryHeader{}, nil, fmt.Errorf("%w: %s: entry offset %d outside the pack", ErrCorrupt, filepath.Base(p.path), off)
	}
	e := getExactReader()
	e.src.reset(f, int64(off), end, entryPeek)
	if err := e.src.fill(); err != nil {
		e.Close()
		return EntryHeader{}, nil, fmt.Errorf("read %s: %w", filepath.Base(p.path), err)
	}
	h, err := ParseEntryHeader(e.src.buf[e.src.r:e.src.w])
	if err != nil {
		e.Close()
		return EntryHeader{}, nil, fmt.Errorf("%w: %s at %d: %w", ErrCorrupt, filepath.Base(p.path), off, err)
	}
	e.src.r += h.Len
	return h, e, nil
}

// maxDeflateRatio is the most zlib inflates one byte to: deflate's best
// case codes a 258-byte match in under two bits.
const maxDeflateRatio = 1032

// inflatable reports whether compressed bytes of zlib data can hold size
// bytes. A declared size is checked with it before anything of that size
// is allocated, so that a damaged header cannot ask for more memory than
// its data could ever fill.
func inflatable(size, compressed int64) bool {
	return size <= compressed*maxDeflateRatio+64
}

// chunkSize is how much an exactReader reads at once.
const chunkSize = 16 << 10

// chunkReader reads a range of a file by ReadAt, buffered, with a first
// read of a size of its caller's choosing. It is a flate.Reader, so that
// the inflater reads it directly.
type chunkReader struct {
	src      io.ReaderAt
	off, end int64 // the next byte to read from src, and the range's end
	first    int64 // the size of the next read, if smaller than buf
	buf      []byte
	r, w     int // the unread bytes of buf
	err      error
}

// left returns how many bytes of the range are still unread, and false
// when the range has no known end.
func (c *chunkReader) left() (int64, bool) {
	if c.end == 1<<63-1 {
		return 0, false
	}
	return c.end - c.off + int64(c.w-c.r), true
}

func (c *chunkReader) reset(src io.ReaderAt, off, end, first int64) {
	*c = chunkReader{src: src, off: off, end: end, first: first, buf: c.buf}
}

func (c *chunkReader) fill() error {
	if c.err != nil {
		return c.err
	}
	n := int64(len(c.buf))
	if c.first > 0 && c.first < n {
		n = c.first
	}
	c.first = 0
	n = min(n, c.end-c.off)
	if n <= 0 {
		c.err = io.EOF
		return c.err
	}
	k, err := c.src.ReadAt(c.buf[:n], c.off)
	c.off += int64(k)
	c.r, c.w = 0, k
	if k > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	c.err = err
	return err
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.r == c.w {
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.buf[c.r:c.w])
	c.r += n
	return n, nil
}

func (c *chunkReader) ReadByte() (byte, error) {
	if c.r == c.w {
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
	b := c.buf[c.r]
	c.r++
	return b, nil
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

// Close closes the underlying file, if owned, and returns the reader to
// the pool; it must not be used after.
func (e *exactReader) Close() error {
	if !e.live {
		return nil
	}
	e.live = false
	var err error
	if e.closer != nil {
		err = e.closer.Close()
	}
	if e.zr != nil {
		e.zr.Close()
	}
	e.closer = nil
	e.src.reset(nil, 0, 0, 0)
	inflaters.Put(e)
	return err
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
