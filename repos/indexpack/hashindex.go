package indexpack

import (
	"hash/maphash"

	"github.com/go-git/go-git/v5/plumbing"
)

// hashIndex finds a pack entry by object id. It is an open-addressing
// table of entry indexes; the ids themselves are read from the entries.
// At most half full, it takes 8 to 16 bytes an object, where a Go map
// from id to index takes about 50: a mirror's pack has hundreds of
// thousands. Its hash is seeded per pack (hash/maphash), so a client
// that chooses its objects' ids cannot make them collide.
//
// It is not safe for concurrent use; it follows the discipline of
// Incoming.objs (see resolver.mu).
type hashIndex struct {
	seed  maphash.Seed
	slots []int32 // an entry's index + 1; 0 is an empty slot
	n     int
}

func newHashIndex() hashIndex {
	return hashIndex{seed: maphash.MakeSeed(), slots: make([]int32, 1<<10)}
}

// find returns the slot of h in the index over objs: the one holding its
// entry, or the empty one where it would go.
func (x *hashIndex) find(objs []object, h plumbing.Hash) int {
	mask := len(x.slots) - 1
	for s := int(maphash.Bytes(x.seed, h[:])) & mask; ; s = (s + 1) & mask {
		if v := x.slots[s]; v == 0 || objs[v-1].hash == h {
			return s
		}
	}
}

// get returns the index of h's entry.
func (x *hashIndex) get(objs []object, h plumbing.Hash) (int32, bool) {
	if x.slots == nil {
		return 0, false
	}
	v := x.slots[x.find(objs, h)]
	return v - 1, v != 0
}

// add records entry i, whose id is objs[i].hash; false if the id is
// there already.
func (x *hashIndex) add(objs []object, i int32) bool {
	if 2*(x.n+1) > len(x.slots) {
		x.grow(objs)
	}
	s := x.find(objs, objs[i].hash)
	if x.slots[s] != 0 {
		return false
	}
	x.slots[s] = i + 1
	x.n++
	return true
}

func (x *hashIndex) grow(objs []object) {
	old := x.slots
	x.slots = make([]int32, 2*len(old))
	for _, v := range old {
		if v != 0 {
			x.slots[x.find(objs, objs[v-1].hash)] = v
		}
	}
}
