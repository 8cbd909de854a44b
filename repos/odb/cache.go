package odb

import (
	"container/list"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// BaseCache keeps resolved objects for the deltas built on them (a
// Reader's by pack and offset, index-pack's by entry), least recently
// used out first, within a byte budget. An object larger than the whole
// budget is not kept. Kept data is never modified, so a reader may go on
// using data the cache has dropped. It is safe for concurrent use.
type BaseCache[K comparable] struct {
	mu          sync.Mutex // guards the fields below
	limit, used int64
	order       *list.List // of *cached[K], most recent at the front
	byKey       map[K]*list.Element
}

type cached[K comparable] struct {
	key  K
	typ  plumbing.ObjectType
	data []byte
}

// NewBaseCache returns a cache holding at most limit bytes.
func NewBaseCache[K comparable](limit int64) *BaseCache[K] {
	return &BaseCache[K]{limit: limit, order: list.New(), byKey: make(map[K]*list.Element)}
}

// Get returns what is kept under k, and counts it as used.
func (c *BaseCache[K]) Get(k K) (plumbing.ObjectType, []byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[k]
	if !ok {
		return 0, nil, false
	}
	c.order.MoveToFront(e)
	v := e.Value.(*cached[K])
	return v.typ, v.data, true
}

// Put keeps data under k, unless it is larger than the budget or k is
// kept already, and says whether it did; the least recently used go to
// make room. Kept data must not be modified.
func (c *BaseCache[K]) Put(k K, typ plumbing.ObjectType, data []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if int64(len(data)) > c.limit {
		return false
	}
	if _, ok := c.byKey[k]; ok {
		// Another reader resolved it meanwhile; ours is its own copy.
		return false
	}
	c.byKey[k] = c.order.PushFront(&cached[K]{key: k, typ: typ, data: data})
	c.used += int64(len(data))
	for c.used > c.limit {
		e := c.order.Back()
		v := e.Value.(*cached[K])
		c.order.Remove(e)
		delete(c.byKey, v.key)
		c.used -= int64(len(v.data))
	}
	return true
}

// Clear drops everything.
func (c *BaseCache[K]) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order.Init()
	clear(c.byKey)
	c.used = 0
}

// cacheKey is where a Reader found an object.
type cacheKey struct {
	pack *packFile
	off  uint64
}
