package pack

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"container/list"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// resolve is the second pass: it applies every delta, depth first from
// each whole object so a base is usually still cached when its deltas
// need it. The trees of deltas hanging from different whole objects are
// independent, so they are shared out among GOMAXPROCS workers, each with
// its own inflater and its own share of the base cache (the cache's total
// budget stays baseCacheSize). REF_DELTAs whose base is not in the pack
// are then resolved against the repository (a thin pack); those bases
// become "external" objects, appended to the pack later.
func (in *Incoming) resolve(ctx context.Context) error {
	if in.ndeltas == 0 {
		return nil
	}
	// Who waits on whom: OFS children by base index, REF children by base
	// id. The OFS children of x are ofsKids[ofsStart[x]:ofsStart[x+1]],
	// two flat arrays rather than a slice per object; they are only read
	// once the workers start. refKids is taken from under mu, so what is
	// left at the end waits on other objects.
	n := len(in.objs)
	ofsStart := make([]int32, n+1)
	refKids := make(map[plumbing.Hash][]int32)
	var roots []int32
	for i := range in.objs {
		o := &in.objs[i]
		switch o.kind {
		case plumbing.OFSDeltaObject:
			ofsStart[o.base+1]++
		case plumbing.REFDeltaObject:
			refKids[o.ref] = append(refKids[o.ref], int32(i))
		default:
			roots = append(roots, int32(i))
		}
	}
	for i := 1; i <= n; i++ {
		ofsStart[i] += ofsStart[i-1]
	}
	ofsKids := make([]int32, ofsStart[n])
	fill := slices.Clone(ofsStart[:n])
	for i := range in.objs {
		if o := &in.objs[i]; o.kind == plumbing.OFSDeltaObject {
			ofsKids[fill[o.base]] = int32(i)
			fill[o.base]++
		}
	}
	kidsOf := func(x int32) []int32 {
		if int(x) >= n {
			return nil // a thin pack's base, appended since
		}
		return ofsKids[ofsStart[x]:ofsStart[x+1]:ofsStart[x+1]]
	}
	p := newProgress(in.opts.Progress, "Resolving deltas", in.ndeltas)
	var (
		mu     sync.Mutex // guards refKids, in.byHash, p, failed
		done   atomic.Int64
		failed error
		stop   atomic.Bool
	)
	// descend resolves everything that waits, directly or not, on root.
	descend := func(w *worker, root int32, stack []int32) ([]int32, error) {
		stack = append(stack[:0], root)
		for len(stack) > 0 {
			if stop.Load() {
				return stack, nil
			}
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			kids := kidsOf(x)
			mu.Lock()
			if rk, ok := refKids[in.objs[x].hash]; ok {
				kids = append(kids[:len(kids):len(kids)], rk...)
				delete(refKids, in.objs[x].hash)
			}
			mu.Unlock()
			for _, k := range kids {
				if err := in.resolveDelta(w, &mu, k, x); err != nil {
					return stack, err
				}
				if n := done.Add(1); n&255 == 0 {
					if err := ctx.Err(); err != nil {
						return stack, err
					}
					mu.Lock()
					p.update(int(n))
					mu.Unlock()
				}
				stack = append(stack, k)
			}
		}
		return stack, nil
	}
	nw := min(runtime.GOMAXPROCS(0), max(1, in.ndeltas/256), max(1, len(roots)))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range nw {
		w := &worker{cache: in.cache, links: new(linkFilter)}
		if nw > 1 {
			w.cache = newBaseCache(baseCacheSize / int64(nw))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var stack []int32
			for !stop.Load() {
				r := next.Add(1) - 1
				if r >= int64(len(roots)) {
					return
				}
				var err error
				if stack, err = descend(w, roots[r], stack); err != nil {
					mu.Lock()
					if failed == nil {
						failed = err
					}
					mu.Unlock()
					stop.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	if failed != nil {
		return failed
	}
	// What is left waits on objects outside the pack. Sorted, so the
	// completed pack does not depend on map order.
	main := &worker{cache: in.cache, links: new(linkFilter)}
	in.main = main
	var stack []int32
	for len(refKids) > 0 {
		missing := make([]plumbing.Hash, 0, len(refKids))
		for h := range refKids {
			missing = append(missing, h)
		}
		slices.SortFunc(missing, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
		for _, h := range missing {
			if _, ok := refKids[h]; !ok {
				continue
			}
			if _, ok := in.byHash[h]; ok {
				// Would mean an object resolved without its waiters; a bug.
				return fmt.Errorf("pack: internal error: unresolved deltas on %s", h)
			}
			i, err := in.addExternal(h)
			if err != nil {
				return err
			}
			if stack, err = descend(main, i, stack); err != nil {
				return err
			}
		}
	}
	for i := range in.objs {
		if in.objs[i].typ == 0 {
			return fmt.Errorf("%w: object at %d: delta never resolved", ErrCorrupt, in.objs[i].offset)
		}
	}
	p.finish(int(done.Load()), in.local)
	return nil
}

// worker is what one resolving goroutine has of its own: its share of
// the base cache and an inflater it resets for every entry.
type worker struct {
	cache *baseCache
	links *linkFilter
	br    *bufio.Reader
	zr    io.ReadCloser
}

// addExternal takes a thin pack's base from the repository.
func (in *Incoming) addExternal(h plumbing.Hash) (int32, error) {
	eo, err := in.lookup(plumbing.AnyObject, h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return 0, fmt.Errorf("%w: delta base %s is neither in the pack nor in the repository", ErrMissingObject, h)
	}
	if err != nil {
		return 0, fmt.Errorf("pack: read base %s: %w", h, err)
	}
	if eo.Size() > in.opts.MaxDeltaSize {
		return 0, fmt.Errorf("%w: delta base %s of %d bytes", ErrTooLarge, h, eo.Size())
	}
	i := int32(len(in.objs))
	in.objs = append(in.objs, object{
		offset: -1, base: -1, size: eo.Size(), hash: h,
		kind: eo.Type(), typ: eo.Type(), external: true,
	})
	in.byHash[h] = i
	in.local++
	return i, nil
}

// resolveDelta applies delta object k to base b, which is resolved, on
// worker w. Only the worker that resolved b resolves b's deltas, so the
// entries of in.objs it touches are its own; mu guards in.byHash.
func (in *Incoming) resolveDelta(w *worker, mu *sync.Mutex, k, b int32) error {
	base, err := in.contentIn(w, b)
	if err != nil {
		return err
	}
	o := &in.objs[k]
	delta, err := in.inflateAt(w, o)
	if err != nil {
		return err
	}
	data, err := applyDelta(base, delta, in.opts.MaxDeltaSize)
	if err != nil {
		return fmt.Errorf("%w: delta at %d: %v", ErrCorrupt, o.offset, err)
	}
	bo := &in.objs[b]
	if bo.depth >= maxDeltaDepth {
		return fmt.Errorf("%w: delta chain longer than %d", ErrCorrupt, maxDeltaDepth)
	}
	o.base, o.typ, o.depth = b, bo.typ, bo.depth+1
	o.hash = plumbing.ComputeHash(o.typ, data)
	if err := in.links.record(w.links, o.typ, data); err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrCorrupt, o.typ, o.hash, err)
	}
	mu.Lock()
	err = in.addHash(o.hash, k)
	mu.Unlock()
	if err != nil {
		return err
	}
	w.cache.put(k, data)
	return nil
}

// content returns an object's data: from the cache, by inflating it,
// by reapplying its delta chain, or from the repository for a thin
// pack's base.
func (in *Incoming) content(i int32) ([]byte, error) {
	if in.main == nil || in.main.cache != in.cache {
		in.main = &worker{cache: in.cache}
	}
	return in.contentIn(in.main, i)
}

// contentIn is content on worker w.
func (in *Incoming) contentIn(w *worker, i int32) ([]byte, error) {
	if b, ok := w.cache.get(i); ok {
		return b, nil
	}
	o := &in.objs[i]
	var data []byte
	switch {
	case o.external && !o.appended:
		eo, err := in.lookup(plumbing.AnyObject, o.hash)
		if err != nil {
			return nil, fmt.Errorf("pack: read base %s: %w", o.hash, err)
		}
		r, err := eo.Reader()
		if err != nil {
			return nil, fmt.Errorf("pack: read base %s: %w", o.hash, err)
		}
		data, err = io.ReadAll(io.LimitReader(r, o.size+1))
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("pack: read base %s: %w", o.hash, err)
		}
		// The repository's copy is trusted only as far as its id.
		if int64(len(data)) != o.size || plumbing.ComputeHash(o.typ, data) != o.hash {
			return nil, fmt.Errorf("pack: repository object %s is corrupt", o.hash)
		}
	case o.isDelta():
		if o.base < 0 {
			return nil, fmt.Errorf("pack: internal error: object at %d unresolved", o.offset)
		}
		base, err := in.contentIn(w, o.base)
		if err != nil {
			return nil, err
		}
		delta, err := in.inflateAt(w, o)
		if err != nil {
			return nil, err
		}
		if data, err = applyDelta(base, delta, in.opts.MaxDeltaSize); err != nil {
			return nil, fmt.Errorf("%w: delta at %d: %v", ErrCorrupt, o.offset, err)
		}
	default:
		if o.size > in.opts.MaxDeltaSize {
			return nil, fmt.Errorf("%w: object %s of %d bytes is too large to load", ErrTooLarge, o.hash, o.size)
		}
		var err error
		if data, err = in.inflateAt(w, o); err != nil {
			return nil, err
		}
	}
	w.cache.put(i, data)
	return data, nil
}

// inflateAt reads an entry's data back from the quarantined pack, with
// w's inflater (ReadAt on the file is safe from several workers).
func (in *Incoming) inflateAt(w *worker, o *object) ([]byte, error) {
	if in.pack == nil {
		return nil, errors.New("pack: already closed")
	}
	sr := io.NewSectionReader(in.pack, o.dataOff, in.packSize-o.dataOff)
	if w.br == nil {
		w.br = bufio.NewReaderSize(sr, 16<<10)
	} else {
		w.br.Reset(sr)
	}
	var err error
	if w.zr == nil {
		w.zr, err = zlib.NewReader(w.br)
	} else {
		err = w.zr.(zlib.Resetter).Reset(w.br, nil)
	}
	if err != nil {
		w.zr = nil
		return nil, inflateErr(err, o.offset)
	}
	var buf bytes.Buffer
	buf.Grow(int(min(o.size, 64<<20)) + bytes.MinRead)
	if err := inflateExactly(&buf, w.zr, o.size, o.offset); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// applyDelta rebuilds an object from its base and a git delta: two sizes
// (base, result) in little-endian base-128, then instructions that copy a
// run of the base or insert literal bytes. Every bound is checked; max
// caps the result.
func applyDelta(base, delta []byte, max int64) ([]byte, error) {
	p := 0
	varint := func() (int64, error) {
		var n int64
		for shift := 0; ; shift += 7 {
			if p >= len(delta) || shift > 56 {
				return 0, errors.New("bad size")
			}
			c := delta[p]
			p++
			n |= int64(c&0x7f) << shift
			if c&0x80 == 0 {
				return n, nil
			}
		}
	}
	srcSize, err := varint()
	if err != nil {
		return nil, err
	}
	if srcSize != int64(len(base)) {
		return nil, fmt.Errorf("base is %d bytes, delta wants %d", len(base), srcSize)
	}
	dstSize, err := varint()
	if err != nil {
		return nil, err
	}
	if dstSize > max {
		return nil, fmt.Errorf("%w: delta result of %d bytes", ErrTooLarge, dstSize)
	}
	out := make([]byte, 0, dstSize)
	for p < len(delta) {
		cmd := delta[p]
		p++
		switch {
		case cmd&0x80 != 0:
			// Copy from base: which offset and size bytes follow is
			// given by the low seven bits.
			var off, n int64
			for bit := 0; bit < 4; bit++ {
				if cmd&(1<<bit) != 0 {
					if p >= len(delta) {
						return nil, errors.New("truncated copy")
					}
					off |= int64(delta[p]) << (8 * bit)
					p++
				}
			}
			for bit := 0; bit < 3; bit++ {
				if cmd&(0x10<<bit) != 0 {
					if p >= len(delta) {
						return nil, errors.New("truncated copy")
					}
					n |= int64(delta[p]) << (8 * bit)
					p++
				}
			}
			if n == 0 {
				n = 0x10000
			}
			if off+n > int64(len(base)) || int64(len(out))+n > dstSize {
				return nil, errors.New("copy out of bounds")
			}
			out = append(out, base[off:off+n]...)
		case cmd != 0:
			n := int(cmd)
			if p+n > len(delta) || int64(len(out)+n) > dstSize {
				return nil, errors.New("insert out of bounds")
			}
			out = append(out, delta[p:p+n]...)
			p += n
		default:
			return nil, errors.New("reserved instruction 0")
		}
	}
	if int64(len(out)) != dstSize {
		return nil, fmt.Errorf("result is %d bytes, delta promised %d", len(out), dstSize)
	}
	return out, nil
}

// completeThin appends the thin pack's bases to the pack, whole and
// compressed, then fixes the object count and the trailing checksum, as
// `index-pack --fix-thin` does, so the installed pack needs nothing else.
func (in *Incoming) completeThin() error {
	if in.local == 0 {
		return nil
	}
	end := in.packSize - 20
	if err := in.pack.Truncate(end); err != nil {
		return fmt.Errorf("pack: fix thin pack: %w", err)
	}
	bw := bufio.NewWriterSize(io.NewOffsetWriter(in.pack, end), 64<<10)
	cw := &countingWriter{w: bw, off: end, crc: crc32.NewIEEE()}
	zw := zlib.NewWriter(cw)
	for i := range in.objs {
		o := &in.objs[i]
		if !o.external {
			continue
		}
		data, err := in.content(int32(i))
		if err != nil {
			return err
		}
		o.offset = cw.off
		cw.crc.Reset()
		if _, err := cw.Write(entryHeader(o.typ, int64(len(data)))); err != nil {
			return err
		}
		o.dataOff = cw.off
		zw.Reset(cw)
		if _, err := zw.Write(data); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		o.crc = cw.crc.Sum32()
		o.size = int64(len(data))
		o.kind = o.typ
		o.appended = true
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("pack: fix thin pack: %w", err)
	}
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(in.objs)))
	if _, err := in.pack.WriteAt(n[:], 8); err != nil {
		return fmt.Errorf("pack: fix thin pack: %w", err)
	}
	// The whole file is read once more for the new checksum.
	sum := sha1.New()
	if _, err := io.Copy(sum, io.NewSectionReader(in.pack, 0, cw.off)); err != nil {
		return fmt.Errorf("pack: fix thin pack: %w", err)
	}
	copy(in.checksum[:], sum.Sum(nil))
	if _, err := in.pack.WriteAt(in.checksum[:], cw.off); err != nil {
		return fmt.Errorf("pack: fix thin pack: %w", err)
	}
	in.packSize = cw.off + 20
	return nil
}

// countingWriter tracks the pack offset and the current entry's CRC-32.
type countingWriter struct {
	w   io.Writer
	off int64
	crc hash.Hash32
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.off += int64(n)
	c.crc.Write(p[:n])
	if err != nil {
		return n, fmt.Errorf("pack: fix thin pack: %w", err)
	}
	return n, nil
}

// entryHeader encodes an entry's type and size (see readEntryHeader).
func entryHeader(t plumbing.ObjectType, size int64) []byte {
	b := []byte{byte(t)<<4 | byte(size&15)}
	size >>= 4
	for size > 0 {
		b[len(b)-1] |= 0x80
		b = append(b, byte(size&0x7f))
		size >>= 7
	}
	return b
}

// baseCache keeps recently resolved objects for the deltas built on them,
// least recently used out first, within a byte budget.
type baseCache struct {
	// mu, when set, guards the rest: the cache is shared by workers.
	mu          *sync.Mutex
	limit, used int64
	order       *list.List // of *cached, most recent at the front
	byIndex     map[int32]*list.Element
}

type cached struct {
	i    int32
	data []byte
}

func newBaseCache(limit int64) *baseCache {
	return &baseCache{limit: limit, order: list.New(), byIndex: make(map[int32]*list.Element)}
}

func (c *baseCache) get(i int32) ([]byte, bool) {
	if c.mu != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
	}
	e, ok := c.byIndex[i]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cached).data, true
}

func (c *baseCache) put(i int32, data []byte) {
	if c.mu != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
	}
	if int64(len(data)) > c.limit {
		return
	}
	if _, ok := c.byIndex[i]; ok {
		return
	}
	c.byIndex[i] = c.order.PushFront(&cached{i: i, data: data})
	c.used += int64(len(data))
	for c.used > c.limit {
		e := c.order.Back()
		v := e.Value.(*cached)
		c.order.Remove(e)
		delete(c.byIndex, v.i)
		c.used -= int64(len(v.data))
	}
}

// progress writes git-style progress lines, at most a few per second.
type progress struct {
	w     io.Writer
	title string
	total int
	last  time.Time
}

func newProgress(w io.Writer, title string, total int) *progress {
	return &progress{w: w, title: title, total: total, last: time.Now()}
}

func (p *progress) update(n int) {
	if p.w == nil || time.Since(p.last) < 250*time.Millisecond {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "%s: %3d%% (%d/%d)\r", p.title, n*100/max(p.total, 1), n, p.total)
}

func (p *progress) finish(n, local int) {
	if p.w == nil {
		return
	}
	tail := "done."
	if local > 0 {
		tail = fmt.Sprintf("completed with %d local object%s.", local, plural(local))
	}
	fmt.Fprintf(p.w, "%s: %3d%% (%d/%d), %s\n", p.title, n*100/max(p.total, 1), n, p.total, tail)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
