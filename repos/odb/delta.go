package odb

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// A git delta rebuilds an object from a base: two sizes (base, result)
// in little-endian base-128, then instructions that copy a run of the
// base or insert literal bytes. Every bound is checked against the
// declared sizes. Errors about the delta itself match ErrCorrupt and read
// as their detail alone ("delta copies out of bounds"), for the caller to
// say which delta it was; a result over the bound is ErrTooLarge.

// DeltaReader applies a delta to its base as the result is read, so the
// result need not be held.
type DeltaReader struct {
	base    []byte
	src     deltaSource   // the delta's instructions
	closer  io.Closer     // of the delta stream, if it has one
	own     *bufio.Reader // src, when d made it: given back to deltaBufs on Close
	size    int64         // of the result
	left    int64         // result bytes not yet decoded into an instruction
	pending []byte        // the rest of a copy from base
	insert  int           // bytes of an insert still to pass on from src
	err     error         // sticky
}

// deltaSource is what DeltaReader reads a delta through.
type deltaSource interface {
	io.Reader
	io.ByteReader
}

// NewDeltaReader reads the delta's sizes from delta and checks them: the
// base size must be len(base), the result at most max (ErrTooLarge). A
// delta that reads single bytes itself (a *bytes.Reader, a
// *bufio.Reader) is read directly, any other through a buffer. Closing
// the DeltaReader closes delta if it is an io.Closer.
func NewDeltaReader(base []byte, delta io.Reader, max int64) (*DeltaReader, error) {
	d := new(DeltaReader)
	if err := d.Reset(base, delta, max); err != nil {
		return nil, err
	}
	return d, nil
}

// Reset makes d apply delta to base, as NewDeltaReader does, so a
// DeltaReader can be used again. It does not close what d read before.
func (d *DeltaReader) Reset(base []byte, delta io.Reader, max int64) error {
	*d = DeltaReader{base: base, own: d.own}
	if s, ok := delta.(deltaSource); ok {
		d.src = s
	} else {
		if d.own == nil {
			d.own, _ = deltaBufs.Get().(*bufio.Reader)
		}
		if d.own == nil {
			d.own = bufio.NewReaderSize(delta, 4<<10)
		} else {
			d.own.Reset(delta)
		}
		d.src = d.own
	}
	d.closer, _ = delta.(io.Closer)
	baseSize, size, err := readDeltaSizes(d.src)
	if err != nil {
		return err
	}
	if baseSize != int64(len(base)) {
		return corruptf("delta for a base of %d bytes applied to one of %d", baseSize, len(base))
	}
	if size > max {
		return fmt.Errorf("%w: delta result of %d bytes, the limit is %d", ErrTooLarge, size, max)
	}
	d.size, d.left = size, size
	return nil
}

// Size is the result's size, as the delta declares it.
func (d *DeltaReader) Size() int64 { return d.size }

func (d *DeltaReader) Read(p []byte) (int, error) {
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
				d.err = cutShort(err)
				break
			}
			d.insert -= k
			n += k
		case d.left == 0:
			d.err = d.end()
		default:
			d.err = d.next()
		}
	}
	if n > 0 {
		return n, nil
	}
	return 0, d.err
}

// end checks, once the result is complete, that the instructions end
// too: io.EOF if they do.
func (d *DeltaReader) end() error {
	_, err := d.src.ReadByte()
	switch {
	case err == nil:
		return corruptf("delta longer than its result")
	case errors.Is(err, io.EOF):
		return io.EOF
	}
	return err
}

// next decodes one instruction.
func (d *DeltaReader) next() error {
	cmd, err := d.src.ReadByte()
	if err != nil {
		return cutShort(err)
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
				return cutShort(err)
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
			return corruptf("delta copies out of bounds")
		}
		d.pending = d.base[off : off+size]
		d.left -= size
	case cmd != 0:
		if int64(cmd) > d.left {
			return corruptf("delta inserts out of bounds")
		}
		d.insert = int(cmd)
		d.left -= int64(cmd)
	default:
		return corruptf("delta has reserved instruction 0")
	}
	return nil
}

// Close closes the delta stream, if it has a Close, and gives back the
// buffer d read it through; d is not read after, but may be Reset.
func (d *DeltaReader) Close() error {
	if d.own != nil {
		d.own.Reset(nil) // not to keep the delta stream
		deltaBufs.Put(d.own)
		d.own, d.src = nil, nil
		d.err = errClosed
	}
	if d.closer == nil {
		return nil
	}
	c := d.closer
	d.closer = nil
	return c.Close()
}

// deltaBufs keeps the buffers DeltaReaders read unbuffered delta
// streams through, between deltas.
var deltaBufs sync.Pool // of *bufio.Reader

// errClosed: a DeltaReader read after Close.
var errClosed = errors.New("odb: delta reader closed")

// ApplyDelta rebuilds an object from its base and a whole delta. The
// result's size is checked against max (ErrTooLarge) before anything is
// allocated.
func ApplyDelta(base, delta []byte, max int64) ([]byte, error) {
	d, err := NewDeltaReader(base, bytes.NewReader(delta), max)
	if err != nil {
		return nil, err
	}
	out := make([]byte, d.size)
	if err := d.ReadAll(out); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadAll reads the whole result into buf, of exactly Size bytes, and
// checks that the delta ends with it.
func (d *DeltaReader) ReadAll(buf []byte) error {
	if int64(len(buf)) != d.size {
		return fmt.Errorf("odb: a buffer of %d bytes for a delta result of %d", len(buf), d.size)
	}
	if _, err := io.ReadFull(d, buf); err != nil {
		return cutShort(err)
	}
	return d.Done()
}

// Done checks, once Size bytes are read, that the delta ends there.
func (d *DeltaReader) Done() error {
	if d.err == nil && len(d.pending) == 0 && d.insert == 0 && d.left == 0 {
		d.err = d.end()
	}
	switch {
	case d.err == io.EOF:
		return nil
	case d.err != nil:
		return d.err
	}
	return corruptf("delta result not read to its end")
}

// DeltaSizes reads a whole delta's header: the sizes of its base and of
// its result, and where its instructions begin. A delta ending inside
// its header is ErrCorrupt wrapping io.ErrUnexpectedEOF (more bytes may
// yet complete it).
func DeltaSizes(delta []byte) (base, result int64, n int, err error) {
	var sizes [2]int64
	for k := range sizes {
		var v varint
		done := false
		for !done {
			if n == len(delta) {
				return 0, 0, 0, cutShort(io.ErrUnexpectedEOF)
			}
			if done, err = v.add(delta[n]); err != nil {
				return 0, 0, 0, err
			}
			n++
		}
		sizes[k] = int64(v.n)
	}
	return sizes[0], sizes[1], n, nil
}

// readDeltaSizes reads a delta's two sizes from r.
func readDeltaSizes(r io.ByteReader) (base, result int64, err error) {
	if base, err = readVarint(r); err != nil {
		return 0, 0, err
	}
	if result, err = readVarint(r); err != nil {
		return 0, 0, err
	}
	return base, result, nil
}

// readVarint reads one of a delta's two sizes from r. Errors:
// ErrCorrupt, or r's.
func readVarint(r io.ByteReader) (int64, error) {
	var v varint
	for {
		c, err := r.ReadByte()
		if err != nil {
			return 0, cutShort(err)
		}
		if done, err := v.add(c); done || err != nil {
			return int64(v.n), err
		}
	}
}

// varint decodes one of a delta's sizes a byte at a time: little-endian
// groups of 7 bits while the high bit is set.
type varint struct {
	n     uint64
	shift int
}

// add takes the next byte and says whether the size is complete.
func (v *varint) add(c byte) (bool, error) {
	v.n |= uint64(c&0x7f) << v.shift
	v.shift += 7
	if c&0x80 == 0 {
		return true, nil
	}
	if v.shift > 56 {
		return false, corruptf("delta size overflows")
	}
	return false, nil
}

// cutShort reports a delta ending early as corruption (wrapping
// io.ErrUnexpectedEOF) and passes other errors through.
func cutShort(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", corruptf("delta cut short"), io.ErrUnexpectedEOF)
	}
	return err
}

// corruptf is ErrCorrupt in the words of its detail.
func corruptf(format string, args ...any) error {
	return &corruption{fmt.Sprintf(format, args...)}
}
