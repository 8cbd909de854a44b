package odb_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"gatehouse/repos/odb"
)

// A delta's header read from bytes: its sizes and where its instructions
// start, or, cut short, an error saying more bytes may complete it.
func TestDeltaSizes(t *testing.T) {
	delta := []byte{0x80 | 36, 1, 0x80 | 10, 2, 0x91}
	base, result, n, err := odb.DeltaSizes(delta)
	if err != nil || base != 36+128 || result != 10+256 || n != 4 {
		t.Fatalf("DeltaSizes = %d, %d, %d, %v", base, result, n, err)
	}
	for i := range 4 {
		_, _, _, err := odb.DeltaSizes(delta[:i])
		if !errors.Is(err, odb.ErrCorrupt) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("DeltaSizes of %d bytes: %v, want ErrCorrupt and io.ErrUnexpectedEOF", i, err)
		}
	}
}

// One DeltaReader applies delta after delta; Done insists that the delta
// ends with its result.
func TestDeltaReaderReset(t *testing.T) {
	base := []byte("0123456789")
	var d odb.DeltaReader
	for _, c := range []struct {
		delta []byte
		want  string
		ok    bool
	}{
		{[]byte{10, 5, 0x91, 2, 3, 2, 'h', 'i'}, "234hi", true},
		{[]byte{10, 3, 0x90, 3}, "012", true},
		{[]byte{10, 3, 0x90, 3, 1, 'x'}, "012", false},
	} {
		if err := d.Reset(base, bytes.NewReader(c.delta), 100); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, d.Size())
		if _, err := io.ReadFull(&d, got); err != nil || string(got) != c.want {
			t.Fatalf("%q, %v; want %q", got, err, c.want)
		}
		if err := d.Done(); (err == nil) != c.ok || (err != nil && !errors.Is(err, odb.ErrCorrupt)) {
			t.Errorf("Done after %x: %v, want ok=%v", c.delta, err, c.ok)
		}
	}
	if err := d.Reset(base, bytes.NewReader([]byte{10, 200, 1}), 100); !errors.Is(err, odb.ErrTooLarge) {
		t.Errorf("a result over the bound: %v, want ErrTooLarge", err)
	}
	if err := d.Reset(base, bytes.NewReader([]byte{9, 1}), 100); !errors.Is(err, odb.ErrCorrupt) {
		t.Errorf("a delta for another base: %v, want ErrCorrupt", err)
	}
}

// The cache keeps what fits its budget, dropping the least recently used.
func TestBaseCache(t *testing.T) {
	c := odb.NewBaseCache[int](10)
	if !c.Put(1, 3, make([]byte, 4)) || !c.Put(2, 3, make([]byte, 4)) {
		t.Fatal("not kept")
	}
	c.Get(1)
	if c.Put(1, 3, make([]byte, 4)) || c.Put(9, 3, make([]byte, 11)) {
		t.Fatal("kept twice, or over the budget")
	}
	c.Put(3, 1, make([]byte, 4))
	if _, _, ok := c.Get(2); ok {
		t.Error("the least recently used stayed")
	}
	if typ, b, ok := c.Get(1); !ok || typ != 3 || len(b) != 4 {
		t.Error("the recently used went")
	}
	c.Clear()
	if _, _, ok := c.Get(3); ok {
		t.Error("kept after Clear")
	}
}
