package odb_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// Headers written by PutEntryHeader and PutOfsDistance read back the
// same, from a slice and from a stream, which is left right after them.
func TestEntryHeaderRoundTrip(t *testing.T) {
	id := plumbing.NewHash("0123456789abcdef0123456789abcdef01234567")
	for _, size := range []uint64{0, 15, 16, 127, 128, 1 << 20, 1<<60 - 1} {
		for _, rel := range []uint64{1, 127, 128, 16511, 16512, 1 << 40, 1<<63 - 1} {
			for _, typ := range []plumbing.ObjectType{plumbing.BlobObject, plumbing.OFSDeltaObject, plumbing.REFDeltaObject} {
				var b [odb.MaxEntryHeader + 1]byte
				n := odb.PutEntryHeader(b[:], typ, size)
				switch typ {
				case plumbing.OFSDeltaObject:
					n += odb.PutOfsDistance(b[n:], rel)
				case plumbing.REFDeltaObject:
					n += copy(b[n:], id[:])
				}
				b[n] = 0xee // what follows the header
				want := odb.EntryHeader{Type: typ, Size: int64(size), Len: n}
				if typ == plumbing.OFSDeltaObject {
					want.BaseRel = rel
				}
				if typ == plumbing.REFDeltaObject {
					want.BaseID = id
				}
				got, err := odb.ParseEntryHeader(b[:n])
				if err != nil || got != want {
					t.Fatalf("ParseEntryHeader(% x) = %+v, %v; want %+v", b[:n], got, err, want)
				}
				r := bytes.NewReader(b[:n+1])
				got, err = odb.ReadEntryHeader(r)
				if err != nil || got != want {
					t.Fatalf("ReadEntryHeader(% x) = %+v, %v; want %+v", b[:n], got, err, want)
				}
				if c, _ := r.ReadByte(); c != 0xee {
					t.Fatalf("ReadEntryHeader(% x) read past the header", b[:n])
				}
				if _, err := odb.ParseEntryHeader(b[:n-1]); !errors.Is(err, odb.ErrCorrupt) {
					t.Fatalf("ParseEntryHeader of a cut header: %v, want ErrCorrupt", err)
				}
				if _, err := odb.ReadEntryHeader(bytes.NewReader(b[:n-1])); err != io.EOF {
					t.Fatalf("ReadEntryHeader of a cut stream: %v, want the stream's io.EOF", err)
				}
			}
		}
	}
}

// Unknown types and overflowing sizes are corrupt.
func TestEntryHeaderBad(t *testing.T) {
	for _, b := range [][]byte{
		{0x50},
		{0x00},
		{0xb5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		{0x65, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	} {
		if h, err := odb.ParseEntryHeader(b); !errors.Is(err, odb.ErrCorrupt) {
			t.Errorf("ParseEntryHeader(% x) = %+v, %v; want ErrCorrupt", b, h, err)
		}
	}
}
