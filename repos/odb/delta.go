package odb

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// deltaReader applies a git delta to its base as the result is read, so
// the result is never held: two sizes (base, result) in little-endian
// base-128, then instructions that copy a run of the base or insert
// literal bytes. Every bound is checked against the declared sizes.
type deltaReader struct {
	base    []byte
	src     *bufio.Reader // the delta's instructions
	closer  io.Closer     // of the delta stream
	size    int64         // of the result
	left    int64         // result bytes not yet decoded into an instruction
	pending []byte        // the rest of a copy from base
	insert  int           // bytes of an insert still to pass on from src
	err     error         // sticky
}

// newDeltaReader reads the delta's sizes from src and checks them: the
// base size must be len(base), the result at most max (ErrTooLarge).
// Closing the reader closes src.
func newDeltaReader(base []byte, src io.ReadCloser, max int64) (*deltaReader, error) {
	d := &deltaReader{base: base, src: bufio.NewReaderSize(src, 4<<10), closer: src}
	baseSize, err := readVarint(d.src)
	if err != nil {
		return nil, err
	}
	if baseSize != int64(len(base)) {
		return nil, fmt.Errorf("%w: delta for a base of %d bytes applied to one of %d", ErrCorrupt, baseSize, len(base))
	}
	if d.size, err = readVarint(d.src); err != nil {
		return nil, err
	}
	if d.size > max {
		return nil, fmt.Errorf("%w: delta result of %d bytes, the limit is %d", ErrTooLarge, d.size, max)
	}
	d.left = d.size
	return d, nil
}

func (d *deltaReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && d.err == nil {
		switch {
		case len(d.pending) > 0:
			c := copy(p[n:], d.pending)
			d.pending = d.pending[c:]
			n += c
		case d.insert > 0:
			k := min(d.insert, len(p)-n)
			if _, err := io.ReadFull(d.src, p[n:n+k]); err != nil {
				d.err = shortRead(err)
				break
			}
			d.insert -= k
			n += k
		case d.left == 0:
			// The result is complete: the instructions must end too.
			if _, err := d.src.ReadByte(); err == nil {
				d.err = fmt.Errorf("%w: delta longer than its result", ErrCorrupt)
			} else if errors.Is(err, io.EOF) {
				d.err = io.EOF
			} else {
				d.err = err
			}
		default:
			d.err = d.next()
		}
	}
	if n > 0 {
		return n, nil
	}
	return 0, d.err
}

// next decodes one instruction.
func (d *deltaReader) next() error {
	cmd, err := d.src.ReadByte()
	if err != nil {
		return fmt.Errorf("%w: delta ends before its result", ErrCorrupt)
	}
	switch {
	case cmd&0x80 != 0:
		// Copy from base: the low seven bits say which bytes of the
		// offset (four) and size (three) follow.
		var off, size int64
		for bit := range 7 {
			if cmd&(1<<bit) == 0 {
				continue
			}
			c, err := d.src.ReadByte()
			if err != nil {
				return fmt.Errorf("%w: delta cut short", ErrCorrupt)
			}
			if bit < 4 {
				off |= int64(c) << (8 * bit)
			} else {
				size |= int64(c) << (8 * (bit - 4))
			}
		}
		if size == 0 {
			size = 0x10000
		}
		if off+size > int64(len(d.base)) || size > d.left {
			return fmt.Errorf("%w: delta copies out of bounds", ErrCorrupt)
		}
		d.pending = d.base[off : off+size]
		d.left -= size
	case cmd != 0:
		if int64(cmd) > d.left {
			return fmt.Errorf("%w: delta inserts out of bounds", ErrCorrupt)
		}
		d.insert = int(cmd)
		d.left -= int64(cmd)
	default:
		return fmt.Errorf("%w: delta has reserved instruction 0", ErrCorrupt)
	}
	return nil
}

func (d *deltaReader) Close() error { return d.closer.Close() }
