// Package packtest builds what a broken or hostile Git client sends, for
// tests: packs with any header, entries whose declared sizes lie, deltas
// written instruction by instruction, and push requests as raw pkt-lines.
// Nothing here checks that what it builds makes sense; that is the point.
package packtest

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// Entry is one object of a pack.
type Entry struct {
	// Type is the entry's type: a whole object's, or
	// plumbing.OFSDeltaObject or plumbing.REFDeltaObject.
	Type plumbing.ObjectType
	// Size is the inflated size the entry header declares.
	Size int64
	// Data is what is compressed into the entry; when Reader is set, it
	// is read from there instead, so a large entry is never held.
	Data   []byte
	Reader io.Reader
	// Base is the index in the pack of an OFS_DELTA's base entry.
	Base int
	// Ref is a REF_DELTA's base id.
	Ref plumbing.Hash
}

// Whole returns an entry for an object of type t holding data.
func Whole(t plumbing.ObjectType, data []byte) Entry {
	return Entry{Type: t, Size: int64(len(data)), Data: data}
}

// OFS returns an OFS_DELTA entry against the entry at index base.
func OFS(base int, delta []byte) Entry {
	return Entry{Type: plumbing.OFSDeltaObject, Size: int64(len(delta)), Data: delta, Base: base}
}

// REF returns a REF_DELTA entry against the object ref.
func REF(ref plumbing.Hash, delta []byte) Entry {
	return Entry{Type: plumbing.REFDeltaObject, Size: int64(len(delta)), Data: delta, Ref: ref}
}

// Pack is a pack to write.
type Pack struct {
	// Version and Count are what the header declares; New sets 2 and
	// the number of entries.
	Version, Count uint32
	Entries        []Entry
	// Level is the zlib level of every entry; New sets BestSpeed.
	Level int
	// BadChecksum flips a bit of the trailing checksum.
	BadChecksum bool
}

// New returns a version 2 pack of entries.
func New(entries ...Entry) *Pack {
	return &Pack{Version: 2, Count: uint32(len(entries)), Entries: entries, Level: zlib.BestSpeed}
}

// Bytes returns the whole pack.
func (p *Pack) Bytes() []byte {
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		panic(err) // a bytes.Buffer does not fail; an entry's Reader did
	}
	return b.Bytes()
}

// Reader streams the pack as it is read, so one with large entries is
// never held whole. Close it to stop the writing early.
func (p *Pack) Reader() io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(p.Write(pw)) }()
	return pr
}

// Write writes the pack: header, entries, then the SHA-1 of it all.
func (p *Pack) Write(w io.Writer) error {
	sum := sha1.New()
	cw := &countWriter{w: io.MultiWriter(w, sum)}
	var hdr [12]byte
	copy(hdr[:], "PACK")
	binary.BigEndian.PutUint32(hdr[4:], p.Version)
	binary.BigEndian.PutUint32(hdr[8:], p.Count)
	cw.Write(hdr[:])
	offsets := make([]int64, len(p.Entries))
	zw, err := zlib.NewWriterLevel(cw, p.Level)
	if err != nil {
		return err
	}
	for i, e := range p.Entries {
		offsets[i] = cw.n
		cw.Write(EntryHeader(e.Type, e.Size))
		switch e.Type {
		case plumbing.OFSDeltaObject:
			if e.Base < 0 || e.Base >= i {
				return fmt.Errorf("packtest: entry %d: OFS base %d is not an earlier entry", i, e.Base)
			}
			cw.Write(OfsDistance(offsets[i] - offsets[e.Base]))
		case plumbing.REFDeltaObject:
			cw.Write(e.Ref[:])
		}
		zw.Reset(cw)
		var src io.Reader = bytes.NewReader(e.Data)
		if e.Reader != nil {
			src = e.Reader
		}
		if _, err := io.Copy(zw, src); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		if cw.err != nil {
			return cw.err
		}
	}
	trailer := sum.Sum(nil)
	if p.BadChecksum {
		trailer[0] ^= 1
	}
	_, err = w.Write(trailer)
	return err
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// EntryHeader encodes an entry's type and declared size.
func EntryHeader(t plumbing.ObjectType, size int64) []byte {
	var b [odb.MaxEntryHeader]byte
	return b[:odb.PutEntryHeader(b[:], t, uint64(size))]
}

// OfsDistance encodes an OFS_DELTA's distance back to its base.
func OfsDistance(d int64) []byte {
	var b [odb.MaxEntryHeader]byte
	return b[:odb.PutOfsDistance(b[:], uint64(d))]
}

// Op is one delta instruction.
type Op struct {
	off, n int64
	insert []byte
}

// Copy copies n bytes of the base from off; n may be up to 2^24-1, and
// 0x10000 is written as git writes it, with no size bytes.
func Copy(off, n int64) Op { return Op{off: off, n: n} }

// Insert inserts data (split into runs of at most 127 bytes).
func Insert(data []byte) Op { return Op{insert: data} }

// Delta encodes a delta: the sizes its header declares, then ops.
func Delta(baseSize, resultSize int64, ops ...Op) []byte {
	b := appendVarint(nil, baseSize)
	b = appendVarint(b, resultSize)
	for _, op := range ops {
		b = AppendOp(b, op)
	}
	return b
}

// AppendOp appends one instruction's encoding to b.
func AppendOp(b []byte, op Op) []byte {
	if op.insert != nil {
		for d := op.insert; len(d) > 0; {
			n := min(len(d), 127)
			b = append(append(b, byte(n)), d[:n]...)
			d = d[n:]
		}
		return b
	}
	at := len(b)
	b = append(b, 0x80)
	for i := 0; i < 4; i++ {
		if c := byte(op.off >> (8 * i)); c != 0 {
			b[at] |= 1 << i
			b = append(b, c)
		}
	}
	if op.n != 0x10000 {
		for i := 0; i < 3; i++ {
			if c := byte(op.n >> (8 * i)); c != 0 {
				b[at] |= 0x10 << i
				b = append(b, c)
			}
		}
	}
	return b
}

func appendVarint(b []byte, n int64) []byte {
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(b, byte(n))
}

// ZeroID is the all-zero object id of a ref created or deleted.
const ZeroID = "0000000000000000000000000000000000000000"

// PktLine frames s as one pkt-line; "" is a flush.
func PktLine(s string) []byte {
	if s == "" {
		return []byte("0000")
	}
	return fmt.Appendf(nil, "%04x%s", len(s)+4, s)
}

// Command is one ref update of a push.
type Command struct{ Old, New, Ref string }

// PushRequest is what a client sends receive-pack after the
// advertisement: the commands, the first carrying caps, a flush, then
// the pack as is.
func PushRequest(caps string, cmds []Command, pack []byte) []byte {
	var b []byte
	for i, c := range cmds {
		line := c.Old + " " + c.New + " " + c.Ref
		if i == 0 {
			line += "\x00" + caps
		}
		b = append(b, PktLine(line)...)
	}
	b = append(b, PktLine("")...)
	return append(b, pack...)
}
