package odb_test

import (
	"bytes"
	"errors"
	"strconv"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

type refEntry struct {
	mode uint32
	name string
	id   plumbing.Hash
}

// refTree parses a tree the plain way: "MODE NAME\x00" and 20 bytes of
// id per entry, the mode of 1 to 7 octal digits, the name not empty.
func refTree(data []byte) ([]refEntry, bool) {
	var out []refEntry
	for len(data) > 0 {
		mode, rest, ok := bytes.Cut(data, []byte{' '})
		if !ok || len(mode) == 0 || len(mode) > 7 {
			return out, false
		}
		for _, c := range mode {
			if c < '0' || c > '7' {
				return out, false
			}
		}
		m, _ := strconv.ParseUint(string(mode), 8, 32)
		name, rest, ok := bytes.Cut(rest, []byte{0})
		if !ok || len(name) == 0 || len(rest) < 20 {
			return out, false
		}
		out = append(out, refEntry{uint32(m), string(name), plumbing.Hash(rest[:20])})
		data = rest[20:]
	}
	return out, true
}

func tree(entries ...string) []byte {
	var b []byte
	for i, e := range entries {
		b = append(b, e...)
		b = append(b, 0)
		b = append(b, bytes.Repeat([]byte{byte(i + 1)}, 20)...)
	}
	return b
}

func TestTreeIter(t *testing.T) {
	good := tree("100644 a.txt", "40000 dir", "160000 sub", "120000 link")
	it := odb.NewTreeIter(good)
	var e odb.TreeEntry
	var got []refEntry
	for it.Next(&e) {
		got = append(got, refEntry{e.Mode, string(e.Name), e.ID})
	}
	want, _ := refTree(good)
	if it.Err() != nil || len(got) != 4 || got[1].mode != odb.ModeDir || got[2].mode != odb.ModeGitlink {
		t.Fatalf("entries %v, err %v", got, it.Err())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: %v, want %v", i, got[i], want[i])
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		it := odb.NewTreeIter(good)
		var e odb.TreeEntry
		for it.Next(&e) {
		}
	}); n != 0 {
		t.Errorf("%v allocations per walk", n)
	}
	for _, bad := range [][]byte{
		tree(" a"), tree("100644"), tree("10064x a"), tree("10000644 a"), tree("100644 "),
		good[:len(good)-1], append(tree("100644 a"), "100644 b"...),
	} {
		it := odb.NewTreeIter(bad)
		for it.Next(&e) {
		}
		if !errors.Is(it.Err(), odb.ErrCorrupt) {
			t.Errorf("%q: %v, want ErrCorrupt", bad, it.Err())
		}
	}
}

// FuzzTreeIter checks the iterator against refTree: the same entries,
// and an error exactly where refTree stops.
func FuzzTreeIter(f *testing.F) {
	f.Add(tree("100644 a.txt", "40000 dir"))
	f.Add(tree("160000 sub"))
	f.Add(tree("0 x", "7777777 y"))
	f.Add([]byte("100644 a\x00short"))
	f.Add([]byte(" \x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		want, ok := refTree(data)
		it := odb.NewTreeIter(data)
		var e odb.TreeEntry
		i := 0
		for it.Next(&e) {
			if i >= len(want) {
				t.Fatalf("entry %d beyond the reference's %d", i, len(want))
			}
			if got := (refEntry{e.Mode, string(e.Name), e.ID}); got != want[i] {
				t.Fatalf("entry %d: %v, want %v", i, got, want[i])
			}
			i++
		}
		if i != len(want) || (it.Err() == nil) != ok {
			t.Fatalf("%d entries, err %v; reference %d, ok=%v", i, it.Err(), len(want), ok)
		}
		if it.Err() != nil && !errors.Is(it.Err(), odb.ErrCorrupt) {
			t.Fatalf("%v, want ErrCorrupt", it.Err())
		}
	})
}

// TestTreeIterLen: Len is what follows the last entry read, and stays
// at the start of an entry Next cannot read.
func TestTreeIterLen(t *testing.T) {
	var id plumbing.Hash
	one := append([]byte("100644 a\x00"), id[:]...)
	data := append(append(bytes.Clone(one), one...), "100644 cut\x00"...)
	it := odb.NewTreeIter(data)
	var e odb.TreeEntry
	for want := len(data) - len(one); it.Next(&e); want -= len(one) {
		if it.Len() != want {
			t.Fatalf("Len after an entry = %d, want %d", it.Len(), want)
		}
	}
	if it.Err() == nil || it.Len() != len("100644 cut\x00") {
		t.Errorf("at a cut entry: Len %d, Err %v", it.Len(), it.Err())
	}
}
