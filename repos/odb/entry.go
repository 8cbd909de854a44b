package odb

import (
	"bufio"
	"compress/flate"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"path/filepath"
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
func (p *packFile) inflate(off uint64, h EntryHeader) (io.ReadCloser, error) {
	f, size, err := p.file()
	if err != nil {
		return nil, err
	}
	start := int64(off) + int64(h.Len)
	end := size - 20
	if start >= end {
		return nil, fmt.Errorf("%w: %s: entry at %d cut short", ErrCorrupt, filepath.Base(p.path), off)
	}
	return newExactReader(io.NewSectionReader(f, start, end-start), h.Size, nil)
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
