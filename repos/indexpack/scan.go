package indexpack

import (
	"bytes"
	"cmp"
	"compress/flate"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// streamReader is the pack as it arrives (from the spool). It hands bytes
// to the parser one at a time or in runs (it is a flate.Reader, so zlib
// never reads past a stream's end) and, lazily and in batches, feeds what
// was consumed to the pack checksum and the current entry's CRC-32.
type streamReader struct {
	ctx  context.Context
	src  io.Reader
	buf  []byte
	pos  int   // next byte to hand out
	end  int   // end of valid data in buf
	mark int   // start of consumed bytes not yet passed to the sinks
	off  int64 // pack offset of buf[pos]
	sum  hash.Hash
	crc  hash.Hash32
}

// fill passes what was consumed to the sinks and refills the buffer.
func (s *streamReader) fill() error {
	s.sync()
	if err := s.ctx.Err(); err != nil {
		return err
	}
	for {
		n, err := s.src.Read(s.buf)
		if n > 0 {
			s.pos, s.end, s.mark = 0, n, 0
			return nil
		}
		if err == io.EOF {
			return fmt.Errorf("%w: cut short at %d bytes", ErrCorrupt, s.off)
		}
		if err != nil {
			return err
		}
	}
}

// sync passes consumed bytes to the checksum and the CRC.
func (s *streamReader) sync() {
	b := s.buf[s.mark:s.pos]
	s.mark = s.pos
	s.sum.Write(b)
	s.crc.Write(b)
}

func (s *streamReader) ReadByte() (byte, error) {
	if s.pos == s.end {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	c := s.buf[s.pos]
	s.pos++
	s.off++
	return c, nil
}

func (s *streamReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.pos == s.end {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.buf[s.pos:s.end])
	s.pos += n
	s.off += int64(n)
	return n, nil
}

// scan is the first pass: it walks the pack's entries as the spool
// copies them to the quarantine file, which is the only way to know where
// the pack ends. Whole objects are hashed on the way; deltas are only
// measured here.
func (in *Incoming) scan(ctx context.Context, r io.Reader) error {
	sp := startSpool(in.pack, r, in.opts.MaxSize)
	defer sp.stop()
	s := &streamReader{
		ctx: ctx, src: &spoolReader{ctx: ctx, s: sp}, buf: make([]byte, 64<<10),
		sum: sha1.New(), crc: crc32.NewIEEE(),
	}
	var hdr [12]byte
	if _, err := io.ReadFull(s, hdr[:]); err != nil {
		return err
	}
	if !bytes.Equal(hdr[:4], []byte("PACK")) {
		return fmt.Errorf("%w: no PACK signature", ErrCorrupt)
	}
	if v := binary.BigEndian.Uint32(hdr[4:8]); v != 2 && v != 3 {
		return fmt.Errorf("%w: unsupported version %d", ErrCorrupt, v)
	}
	count := binary.BigEndian.Uint32(hdr[8:12])
	if count > in.opts.MaxObjects {
		return fmt.Errorf("%w: %d objects declared, at most %d allowed", ErrTooLarge, count, in.opts.MaxObjects)
	}
	// The declared count is the client's word; grow as objects arrive.
	in.objs = make([]object, 0, min(count, 1<<16))

	var zr io.ReadCloser
	var body bytes.Buffer
	filter := newLinkFilter(int(min(count, maxLinkSlots)))
	for i := uint32(0); i < count; i++ {
		s.sync()
		s.crc.Reset()
		o := object{offset: s.off, base: -1}
		h, err := odb.ReadEntryHeader(s)
		if err != nil {
			if errors.Is(err, odb.ErrCorrupt) && !errors.Is(err, ErrCorrupt) {
				return fmt.Errorf("%w: object at %d: %v", ErrCorrupt, o.offset, err)
			}
			return err
		}
		typ, size := h.Type, h.Size
		o.kind, o.size = typ, size
		switch typ {
		case plumbing.OFSDeltaObject:
			bi, ok := int32(0), false
			if h.BaseRel > 0 && h.BaseRel <= uint64(o.offset) {
				bi, ok = in.atOffset(o.offset - int64(h.BaseRel))
			}
			if !ok {
				return fmt.Errorf("%w: object at %d: delta base offset points at no object", ErrCorrupt, o.offset)
			}
			o.base = bi
			in.ndeltas++
		case plumbing.REFDeltaObject:
			in.refBases = append(in.refBases, refBase{obj: int32(len(in.objs)), id: h.BaseID})
			in.ndeltas++
		default:
			o.typ = typ
		}
		// Sizes are checked from the header, before anything is made.
		if limit := in.limit(o.typ); size > limit {
			what := "delta"
			if !o.isDelta() {
				what = typ.String()
			}
			return fmt.Errorf("%w: %s at offset %d is %s, over the %s limit", ErrObjectTooLarge, what, o.offset, sizeText(size), sizeText(limit))
		}
		o.hdrLen = uint8(s.off - o.offset) // at most odb.MaxEntryHeader

		// Whole objects are hashed as they inflate, never held; commits,
		// trees and tags, whose bounds are small, are also kept long
		// enough to check their form. A delta is only measured, and
		// refused as soon as its header announces too large a result.
		var sink io.Writer
		var hasher plumbing.Hasher
		structured := typ == plumbing.CommitObject || typ == plumbing.TreeObject || typ == plumbing.TagObject
		switch {
		case o.isDelta():
			sink = &deltaHeader{in: in, at: o.offset}
		case structured:
			hasher = plumbing.NewHasher(typ, size)
			body.Reset()
			body.Grow(int(size))
			sink = io.MultiWriter(hasher, &body)
		default:
			hasher = plumbing.NewHasher(typ, size)
			sink = hasher
		}
		if zr == nil {
			zr, err = zlib.NewReader(s)
		} else {
			err = zr.(zlib.Resetter).Reset(s, nil)
		}
		if err != nil {
			return inflateErr(err, o.offset)
		}
		if err := inflateExactly(sink, zr, size, o.offset); err != nil {
			return err
		}
		s.sync()
		o.crc = s.crc.Sum32()
		if !o.isDelta() {
			o.hash = hasher.Sum()
			if structured {
				if err := in.links.record(filter, typ, body.Bytes()); err != nil {
					return fmt.Errorf("%w: %s %s: %v", ErrCorrupt, typ, o.hash, err)
				}
			}
		}
		in.objs = append(in.objs, o)
		if !o.isDelta() {
			if err := in.addHash(int32(len(in.objs) - 1)); err != nil {
				return err
			}
		}
	}
	s.sync()
	want := s.sum.Sum(nil)
	var got plumbing.Hash
	if _, err := io.ReadFull(s, got[:]); err != nil {
		return err
	}
	if !bytes.Equal(want, got[:]) {
		return fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	if wrote := sp.stop(); wrote > s.off {
		// Bytes after the pack are not the pack's, and not kept.
		if err := in.pack.Truncate(s.off); err != nil {
			return fmt.Errorf("pack: write quarantine: %w", err)
		}
	}
	in.checksum = got
	in.packSize = s.off
	return nil
}

// deltaHeader reads a delta's header as the delta inflates in scan and
// fails the inflation as soon as the header announces a result larger
// than any object may be, so a small pack cannot have a large one built.
// The result's type is not known yet; resolve checks its own limit.
type deltaHeader struct {
	in   *Incoming
	at   int64
	head [20]byte // two sizes of at most 10 bytes each
	n    int
	done bool
}

func (d *deltaHeader) Write(p []byte) (int, error) {
	if d.done {
		return len(p), nil
	}
	d.n += copy(d.head[d.n:], p)
	_, dst, _, err := odb.DeltaSizes(d.head[:d.n])
	if errors.Is(err, io.ErrUnexpectedEOF) && d.n < len(d.head) {
		return len(p), nil
	}
	// A bad header is resolve's to report, with the base at hand.
	d.done = true
	if limit := d.in.opts.MaxObjectSize; err == nil && dst > limit {
		return 0, fmt.Errorf("%w: delta at offset %d builds an object of %s, over the %s limit", ErrObjectTooLarge, d.at, sizeText(dst), sizeText(limit))
	}
	return len(p), nil
}

// atOffset finds the entry starting at pack offset off. Entries are
// appended in pack order, so a binary search does it without a table.
func (in *Incoming) atOffset(off int64) (int32, bool) {
	i, ok := slices.BinarySearchFunc(in.objs, off, func(o object, off int64) int { return cmp.Compare(o.offset, off) })
	return int32(i), ok
}

// addHash records where entry i's object lives. A pack holding one
// object twice is refused: its index could not name both.
func (in *Incoming) addHash(i int32) error {
	if !in.byHash.add(in.objs, i) {
		return fmt.Errorf("%w: object %s appears twice", ErrCorrupt, in.objs[i].hash)
	}
	return nil
}

// lookup returns the entry of the object h, if the pack has it.
func (in *Incoming) lookup(h plumbing.Hash) (int32, bool) {
	return in.byHash.get(in.objs, h)
}

// index returns the entry of h, which the pack has (see inPack).
func (in *Incoming) index(h plumbing.Hash) int32 {
	i, _ := in.lookup(h)
	return i
}

// inflateExactly copies zr to w and insists on exactly size bytes and a
// clean end of the zlib stream (its Adler-32 included).
func inflateExactly(w io.Writer, zr io.Reader, size, at int64) error {
	n, err := io.Copy(w, io.LimitReader(zr, size+1))
	if err != nil {
		return inflateErr(err, at)
	}
	if n != size {
		return fmt.Errorf("%w: object at %d inflates to %s bytes, header says %d", ErrCorrupt, at, sizeWord(n, size), size)
	}
	return nil
}

func sizeWord(n, size int64) string {
	if n > size {
		return "more than " + fmt.Sprint(size)
	}
	return fmt.Sprint(n)
}

// inflateErr reports zlib's complaints as corruption and passes our own
// errors (too large, cut short, cancelled, I/O) through.
func inflateErr(err error, at int64) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, zlib.ErrChecksum), errors.Is(err, zlib.ErrHeader), errors.Is(err, zlib.ErrDictionary),
		errors.As(err, &corrupt), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: object at %d: %v", ErrCorrupt, at, err)
	}
	return err
}
