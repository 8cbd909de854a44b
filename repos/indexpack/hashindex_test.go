package indexpack

import (
	"crypto/sha1"
	"encoding/binary"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// TestHashIndex finds every id added, through growth, refuses one added
// twice and finds none that was not added, including ids that share
// their low bytes (a client may choose those).
func TestHashIndex(t *testing.T) {
	const n = 50000
	var objs []object
	id := func(k int) plumbing.Hash {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(k))
		return plumbing.Hash(sha1.Sum(b[:]))
	}
	x := newHashIndex()
	for k := range n {
		h := id(k)
		if k%2 == 1 {
			prev := id(k - 1)
			copy(h[10:], prev[10:]) // same tail as the one before
		}
		objs = append(objs, object{hash: h})
		if !x.add(objs, int32(k)) {
			t.Fatalf("add %d refused", k)
		}
	}
	for k := range n {
		if i, ok := x.get(objs, objs[k].hash); !ok || i != int32(k) {
			t.Fatalf("get %d = %d, %v", k, i, ok)
		}
	}
	objs = append(objs, object{hash: objs[123].hash})
	if x.add(objs, n) {
		t.Fatal("an id added twice was taken")
	}
	for k := n; k < 2*n; k++ {
		if i, ok := x.get(objs, id(k)); ok {
			t.Fatalf("found %d, never added, at %d", k, i)
		}
	}
	if x.n != n || len(x.slots) < 2*n {
		t.Fatalf("%d ids in %d slots", x.n, len(x.slots))
	}
	var empty hashIndex
	if _, ok := empty.get(objs, id(1)); ok {
		t.Fatal("the zero index found something")
	}
}
