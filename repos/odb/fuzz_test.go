package odb_test

import (
	"bytes"
	"errors"
	"testing"

	"gatehouse/repos/odb"
)

// refApply is a plain reading of git's patch-delta.c, the oracle for
// FuzzApplyDelta.
func refApply(base, delta []byte) ([]byte, bool) {
	p := 0
	varint := func() (uint64, bool) {
		var n uint64
		for shift := 0; shift < 64; shift += 7 {
			if p >= len(delta) {
				return 0, false
			}
			c := delta[p]
			p++
			n |= uint64(c&0x7f) << shift
			if c&0x80 == 0 {
				return n, true
			}
		}
		return 0, false
	}
	src, ok1 := varint()
	dst, ok2 := varint()
	if !ok1 || !ok2 || src != uint64(len(base)) || dst > 1<<20 {
		return nil, false
	}
	var out []byte
	for p < len(delta) {
		cmd := delta[p]
		p++
		switch {
		case cmd&0x80 != 0:
			var off, n uint64
			for bit := range 7 {
				if cmd&(1<<bit) != 0 {
					if p >= len(delta) {
						return nil, false
					}
					if bit < 4 {
						off |= uint64(delta[p]) << (8 * bit)
					} else {
						n |= uint64(delta[p]) << (8 * (bit - 4))
					}
					p++
				}
			}
			if n == 0 {
				n = 0x10000
			}
			if off+n > uint64(len(base)) || uint64(len(out))+n > dst {
				return nil, false
			}
			out = append(out, base[off:off+n]...)
		case cmd != 0:
			n := int(cmd)
			if p+n > len(delta) || uint64(len(out)+n) > dst {
				return nil, false
			}
			out = append(out, delta[p:p+n]...)
			p += n
		default:
			return nil, false
		}
	}
	if uint64(len(out)) != dst {
		return nil, false
	}
	return out, true
}

// FuzzApplyDelta checks the streaming delta applier against refApply:
// the same result for a good delta, ErrCorrupt or ErrTooLarge for a bad
// one, never a panic or more than the declared size.
func FuzzApplyDelta(f *testing.F) {
	base := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	f.Add(base, []byte{36, 10, 0x91, 2, 5, 5, 'H', 'E', 'L', 'L', 'O'})
	f.Add(base, []byte{36, 36, 0x90, 36})
	f.Add(base, []byte{36, 4, 0x80 | 0x10 | 0x01, 40, 4})
	f.Add([]byte{}, []byte{0, 3, 3, 'a', 'b', 'c'})
	f.Add(base, []byte{36, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		got, err := odb.ApplyDelta(base, delta, 1<<20)
		want, ok := refApply(base, delta)
		if ok != (err == nil) {
			t.Fatalf("ApplyDelta: %v; reference ok=%v", err, ok)
		}
		if err != nil && !errors.Is(err, odb.ErrCorrupt) && !errors.Is(err, odb.ErrTooLarge) {
			t.Fatalf("ApplyDelta: %v, want ErrCorrupt or ErrTooLarge", err)
		}
		if ok && !bytes.Equal(got, want) {
			t.Fatalf("ApplyDelta = %q, want %q", got, want)
		}
	})
}

// FuzzEntryHeader: any bytes parse to a header within them or to
// ErrCorrupt.
func FuzzEntryHeader(f *testing.F) {
	f.Add([]byte{0x35})
	f.Add([]byte{0xb5, 0x80, 0x01})
	f.Add([]byte{0x65, 0x81, 0x00})
	f.Add(append([]byte{0x7f}, make([]byte, 20)...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := odb.ParseEntryHeader(b)
		typ, size, n := int64(h.Type), h.Size, h.Len
		if err != nil {
			if !errors.Is(err, odb.ErrCorrupt) {
				t.Fatalf("%v, want ErrCorrupt", err)
			}
			return
		}
		if n <= 0 || n > len(b) || size < 0 || typ < 1 || typ > 7 || typ == 5 {
			t.Fatalf("type %d size %d length %d of %d bytes", typ, size, n, len(b))
		}
	})
}
