package odb

import (
	"container/list"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// baseCache keeps recently resolved pack entries for the deltas built on
// them, least recently used out first, within a byte budget. An entry
// larger than the whole budget is not kept. Entries are never modified,
// so a reader may go on using one the cache has dropped.
type baseCache struct {
	mu          sync.Mutex // guards the fields below
	limit, used int64
	order       *list.List // of *cached, most recent at the front
	byKey       map[cacheKey]*list.Element
}

type cacheKey struct {
	pack *packFile
	off  uint64
}

type cached struct {
	key  cacheKey
	typ  plumbing.ObjectType
	data []byte
}

func newBaseCache(limit int64) *baseCache {
	return &baseCache{limit: limit, order: list.New(), byKey: make(map[cacheKey]*list.Element)}
}

func (c *baseCache) get(p *packFile, off uint64) (*cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[cacheKey{p, off}]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cached), true
}

// put keeps data, unless it is larger than the budget, and says whether
// it did. Kept data must not be modified.
func (c *baseCache) put(p *packFile, off uint64, typ plumbing.ObjectType, data []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := cacheKey{p, off}
	if int64(len(data)) > c.limit {
		return false
	}
	if _, ok := c.byKey[k]; ok {
		// Another reader resolved it meanwhile; ours is its own copy.
		return false
	}
	c.byKey[k] = c.order.PushFront(&cached{key: k, typ: typ, data: data})
	c.used += int64(len(data))
	for c.used > c.limit {
		e := c.order.Back()
		v := e.Value.(*cached)
		c.order.Remove(e)
		delete(c.byKey, v.key)
		c.used -= int64(len(v.data))
	}
	return true
}

func (c *baseCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order.Init()
	clear(c.byKey)
	c.used = 0
}
