package indexpack

import (
	"bufio"
	"bytes"
	"compress/zlib"
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

	"gatehouse/repos/odb"
	"gatehouse/repos/pktline"
)

// resolve is the second pass: it applies every delta, depth first from
// each whole object, the way git's index-pack does: a delta is applied
// while its base is in hand, and the deltas on that result right after,
// so a chain of any length costs one application per link. The trees of
// deltas hanging from different whole objects are independent, so they
// are shared out among GOMAXPROCS workers, each with its own inflater and
// its share of the memory for bases (Options.DeltaBaseCacheLimit).
// REF_DELTAs whose base is not in the pack are then resolved against the
// repository (a thin pack); those bases become "external" objects,
// appended to the pack later.
//
// Cancelling ctx stops every worker within one delta application or
// inflation, each of which also looks at ctx every megabyte.
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
	r := &resolver{in: in, ctx: ctx, ofsStart: make([]int32, n+1), refKids: make(map[plumbing.Hash][]int32)}
	var roots []int32
	for i := range in.objs {
		o := &in.objs[i]
		switch o.kind {
		case plumbing.OFSDeltaObject:
			r.ofsStart[o.base+1]++
		case plumbing.REFDeltaObject:
			// Waits on its base by id: refKids, from in.refBases below.
		default:
			roots = append(roots, int32(i))
		}
	}
	for _, rb := range in.refBases {
		r.refKids[rb.id] = append(r.refKids[rb.id], rb.obj)
	}
	for i := 1; i <= n; i++ {
		r.ofsStart[i] += r.ofsStart[i-1]
	}
	r.ofsKids = make([]int32, r.ofsStart[n])
	fill := slices.Clone(r.ofsStart[:n])
	for i := range in.objs {
		if o := &in.objs[i]; o.kind == plumbing.OFSDeltaObject {
			r.ofsKids[fill[o.base]] = int32(i)
			fill[o.base]++
		}
	}
	r.p = pktline.NewProgress(in.opts.Progress, 250*time.Millisecond, nil)
	var failed error
	nw := min(runtime.GOMAXPROCS(0), max(1, in.ndeltas/256), max(1, len(roots)))
	r.budget = in.opts.DeltaBaseCacheLimit / int64(nw)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range nw {
		w := &worker{ctx: ctx, links: newLinkFilter(n)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !r.stop.Load() {
				i := next.Add(1) - 1
				if i >= int64(len(roots)) {
					return
				}
				if err := r.descend(w, roots[i]); err != nil {
					r.mu.Lock()
					if failed == nil {
						failed = err
					}
					r.mu.Unlock()
					r.stop.Store(true)
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
	w := &worker{ctx: ctx, links: newLinkFilter(len(r.refKids))}
	for len(r.refKids) > 0 {
		missing := make([]plumbing.Hash, 0, len(r.refKids))
		for h := range r.refKids {
			missing = append(missing, h)
		}
		slices.SortFunc(missing, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
		for _, h := range missing {
			if _, ok := r.refKids[h]; !ok {
				continue
			}
			if _, ok := in.lookup(h); ok {
				// Would mean an object resolved without its waiters; a bug.
				return fmt.Errorf("pack: internal error: unresolved deltas on %s", h)
			}
			i, err := in.addExternal(h)
			if err != nil {
				return err
			}
			if err := r.descend(w, i); err != nil {
				return err
			}
		}
	}
	for i := range in.objs {
		if in.objs[i].typ == 0 {
			return fmt.Errorf("%w: object at %d: delta never resolved", ErrCorrupt, in.objs[i].offset)
		}
	}
	tail := "done."
	if in.local > 0 {
		tail = fmt.Sprintf("completed with %d local object%s.", in.local, plural(in.local))
	}
	r.p.PercentDone("Resolving deltas", int(r.done.Load()), in.ndeltas, tail)
	return nil
}

// resolver is what resolve's workers share.
type resolver struct {
	in                *Incoming
	ctx               context.Context
	ofsStart, ofsKids []int32 // see resolve; read only
	budget            int64   // bytes of bases each worker may keep

	mu      sync.Mutex // guards refKids, in.byHash, p
	refKids map[plumbing.Hash][]int32
	p       *pktline.Progress

	done atomic.Int64
	stop atomic.Bool // set when a worker failed
}

// kids returns the OFS deltas on x.
func (r *resolver) kids(x int32) []int32 {
	if int(x) >= len(r.ofsStart)-1 {
		return nil // a thin pack's base, appended since
	}
	return r.ofsKids[r.ofsStart[x]:r.ofsStart[x+1]:r.ofsStart[x+1]]
}

// frame is one base on the way down from a whole object: the deltas on
// it, how many of them are done, and its content while it is kept.
type frame struct {
	i    int32
	data []byte // nil once dropped to stay within the budget
	kids []int32
	next int
}

// descend resolves everything that waits, directly or not, on root. The
// stack holds the chain of bases from root to the delta being applied;
// the newest base is always kept, older ones only while their total is
// within r.budget (a base dropped is rebuilt from the nearest one kept
// below it if it has more deltas waiting, as git's index-pack does).
func (r *resolver) descend(w *worker, root int32) error {
	in := r.in
	kids := r.takeKids(root)
	if len(kids) == 0 {
		return nil
	}
	data, err := in.load(w, root)
	if err != nil {
		return err
	}
	stack := []frame{{i: root, data: data, kids: kids}}
	held := int64(len(data))
	for len(stack) > 0 {
		if r.stop.Load() {
			return nil // another worker failed; its error is reported
		}
		if err := r.ctx.Err(); err != nil {
			return err
		}
		top := &stack[len(stack)-1]
		if top.next == len(top.kids) {
			held -= int64(len(top.data))
			stack = stack[:len(stack)-1]
			continue
		}
		if top.data == nil {
			if held, err = r.rebuild(w, stack, held); err != nil {
				return err
			}
		}
		k := top.kids[top.next]
		top.next++
		data, err := r.apply(w, k, top.i, top.data, len(r.kids(k)) > 0)
		if err != nil {
			return err
		}
		if n := r.done.Add(1); n&255 == 0 {
			r.mu.Lock()
			r.p.Percent("Resolving deltas", int(n), in.ndeltas)
			r.mu.Unlock()
		}
		kids := r.takeKids(k)
		if len(kids) == 0 {
			continue
		}
		if data == nil {
			// A blob streamed through the hasher, or a tree or tag
			// parsed in w's buffer, turned out to be a REF_DELTA base
			// too: build it once more, kept this time.
			if data, err = r.apply(w, k, top.i, top.data, true); err != nil {
				return err
			}
		}
		stack = append(stack, frame{i: k, data: data, kids: kids})
		held += int64(len(data))
		// Drop the oldest bases kept, never the one just pushed.
		for j := 0; held > r.budget && j < len(stack)-1; j++ {
			held -= int64(len(stack[j].data))
			stack[j].data = nil
		}
	}
	return nil
}

// takeKids returns the deltas waiting on x, resolved, and takes its REF
// children from r.refKids.
func (r *resolver) takeKids(x int32) []int32 {
	kids := r.kids(x)
	h := r.in.objs[x].hash
	r.mu.Lock()
	if rk, ok := r.refKids[h]; ok {
		kids = append(kids[:len(kids):len(kids)], rk...)
		delete(r.refKids, h)
	}
	r.mu.Unlock()
	return kids
}

// rebuild restores the top frame's dropped content from the nearest
// frame below it that kept its own, and returns the bytes now held.
func (r *resolver) rebuild(w *worker, stack []frame, held int64) (int64, error) {
	j := len(stack) - 1
	for j > 0 && stack[j].data == nil {
		j--
	}
	if stack[j].data == nil {
		data, err := r.in.load(w, stack[j].i)
		if err != nil {
			return held, err
		}
		stack[j].data = data
		held += int64(len(data))
	}
	for j++; j < len(stack); j++ {
		data, err := r.apply(w, stack[j].i, stack[j-1].i, stack[j-1].data, true)
		if err != nil {
			return held, err
		}
		stack[j].data = data
		held += int64(len(data))
		if held > r.budget && j < len(stack)-1 {
			held -= int64(len(stack[j-1].data))
			stack[j-1].data = nil
		}
	}
	return held, nil
}

// apply resolves delta object k on base b, whose content is base: it
// checks the result's size against the limit for b's type before making
// anything, hashes the result and records what a commit, tree or tag
// names. The result is returned when keep is set or it is not a blob
// (which are checked whole); a blob nobody builds on only goes through
// the hasher. Only the worker that resolved b resolves b's deltas, so the
// entries of in.objs it touches are its own.
func (r *resolver) apply(w *worker, k, b int32, base []byte, keep bool) ([]byte, error) {
	in := r.in
	o, bo := &in.objs[k], &in.objs[b]
	if bo.depth >= maxDeltaDepth {
		return nil, fmt.Errorf("%w: delta at %d: chain of deltas deeper than %d", ErrCorrupt, o.offset, maxDeltaDepth)
	}
	delta, err := in.inflateDelta(w, o)
	if err != nil {
		return nil, err
	}
	d, err := w.openDelta(in, base, delta, bo.typ, o.offset)
	if err != nil {
		return nil, err
	}
	var buf []byte
	first := o.typ == 0 // not being built again for its deltas
	var h plumbing.Hasher
	if first {
		h = plumbing.NewHasher(bo.typ, d.Size())
	}
	// A tree or tag nothing builds on is only parsed: it goes into w's
	// own buffer and is not returned (descend builds it again, kept, in
	// the rare case a REF_DELTA turns out to wait on it).
	scratch := first && !keep && (bo.typ == plumbing.TreeObject || bo.typ == plumbing.TagObject)
	switch {
	case scratch:
		buf = reuse(&w.result, d.Size())
		err = w.readDelta(d, buf, o.offset)
		if err == nil {
			h.Write(buf)
		}
	case keep || bo.typ != plumbing.BlobObject:
		buf = make([]byte, d.Size())
		err = w.readDelta(d, buf, o.offset)
		if first && err == nil {
			// One large write hashes faster than many small ones.
			h.Write(buf)
		}
	case first:
		// A blob nobody builds on only goes through the hasher.
		err = w.hashDelta(d, h, o.offset)
	}
	if err != nil {
		return nil, err
	}
	if !first {
		return buf, nil
	}
	o.typ, o.depth, o.hash = bo.typ, bo.depth+1, h.Sum()
	if o.typ != plumbing.BlobObject {
		if err := in.links.record(w.links, o.typ, buf); err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", ErrCorrupt, o.typ, o.hash, err)
		}
	}
	if o.typ == plumbing.CommitObject {
		// Kept for the ancestry walks, which read commits only.
		in.cache.Put(k, o.typ, buf)
	}
	r.mu.Lock()
	err = in.addHash(k)
	r.mu.Unlock()
	if err != nil || scratch {
		return nil, err
	}
	return buf, nil
}

// openDelta starts applying delta to base with w's applier, once the
// delta's header is checked against the base and the size limit for
// objects of type t, before anything is made.
func (w *worker) openDelta(in *Incoming, base, delta []byte, t plumbing.ObjectType, at int64) (*odb.DeltaReader, error) {
	src, dst, _, err := odb.DeltaSizes(delta)
	if err != nil {
		return nil, fmt.Errorf("%w: delta at %d: %v", ErrCorrupt, at, err)
	}
	if src != int64(len(base)) {
		return nil, fmt.Errorf("%w: delta at %d: base is %d bytes, delta wants %d", ErrCorrupt, at, len(base), src)
	}
	if limit := in.limit(t); dst > limit {
		return nil, fmt.Errorf("%w: %s rebuilt from the delta at offset %d is %s, over the %s limit", ErrObjectTooLarge, t, at, sizeText(dst), sizeText(limit))
	}
	w.src.Reset(delta)
	if err := w.delta.Reset(base, &w.src, dst); err != nil {
		return nil, deltaErr(err, at)
	}
	return &w.delta, nil
}

// readDelta reads d's whole result into buf, a megabyte at a time so
// that a long application stops soon after a cancel.
func (w *worker) readDelta(d *odb.DeltaReader, buf []byte, at int64) error {
	for n := 0; n < len(buf); {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		m, err := io.ReadFull(d, buf[n:min(len(buf), n+1<<20)])
		n += m
		if err != nil {
			return deltaErr(err, at)
		}
	}
	if err := d.Done(); err != nil {
		return deltaErr(err, at)
	}
	return nil
}

// hashDelta passes d's result to h without holding it.
func (w *worker) hashDelta(d *odb.DeltaReader, h plumbing.Hasher, at int64) error {
	if w.scratch == nil {
		w.scratch = make([]byte, 64<<10)
	}
	var n int
	for {
		m, err := d.Read(w.scratch)
		h.Write(w.scratch[:m])
		if n += m; n >= 1<<20 {
			n = 0
			if err := w.ctx.Err(); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return deltaErr(err, at)
		}
	}
}

// worker is what one resolving goroutine has of its own: the context it
// checks and an inflater it resets for every entry.
type worker struct {
	ctx     context.Context
	links   *linkFilter
	br      *bufio.Reader
	zr      io.ReadCloser
	delta   odb.DeltaReader
	src     bytes.Reader // of delta
	scratch []byte       // for a delta's result passed on unheld
	// deltaBuf and result are reused for a delta's data and for a tree
	// or tag result that is not kept (see reuse).
	deltaBuf, result []byte
}

// addExternal takes a thin pack's base from the repository.
func (in *Incoming) addExternal(h plumbing.Hash) (int32, error) {
	typ, size, err := in.repository().Header(h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return 0, fmt.Errorf("%w: delta base %s is neither in the pack nor in the repository", ErrMissingObject, h)
	}
	if errors.Is(err, odb.ErrTooLarge) {
		return 0, fmt.Errorf("%w: delta base %s in the repository is over the %s limit: %v", ErrObjectTooLarge, h, sizeText(in.opts.MaxObjectSize), err)
	}
	if err != nil {
		return 0, fmt.Errorf("pack: read base %s: %w", h, err)
	}
	if limit := in.limit(typ); size > limit {
		return 0, fmt.Errorf("%w: delta base %s in the repository is %s, over the %s limit", ErrObjectTooLarge, h, sizeText(size), sizeText(limit))
	}
	i := int32(len(in.objs))
	in.objs = append(in.objs, object{
		offset: -1, base: -1, size: size, hash: h,
		kind: typ, typ: typ, external: true,
	})
	in.byHash.add(in.objs, i) // not there: h was looked for first
	in.local++
	return i, nil
}

// content returns an object's data once resolve is done: from the cache,
// by inflating it, by reapplying its delta chain, or from the repository
// for a thin pack's base.
func (in *Incoming) content(i int32) ([]byte, error) {
	if in.main == nil {
		in.main = &worker{ctx: context.Background()}
	}
	if _, b, ok := in.cache.Get(i); ok {
		return b, nil
	}
	o := &in.objs[i]
	if !o.isDelta() || o.appended {
		data, err := in.load(in.main, i)
		if err == nil {
			in.cache.Put(i, in.objs[i].typ, data)
		}
		return data, err
	}
	if o.base < 0 {
		return nil, fmt.Errorf("pack: internal error: object at %d unresolved", o.offset)
	}
	base, err := in.content(o.base)
	if err != nil {
		return nil, err
	}
	delta, err := in.inflateDelta(in.main, o)
	if err != nil {
		return nil, err
	}
	d, err := in.main.openDelta(in, base, delta, o.typ, o.offset)
	if err != nil {
		return nil, err
	}
	data := make([]byte, d.Size())
	if err := in.main.readDelta(d, data, o.offset); err != nil {
		return nil, err
	}
	in.cache.Put(i, in.objs[i].typ, data)
	return data, nil
}

// load returns the content of an object that is not a delta: inflated
// from the pack, or read from the repository for a thin pack's base not
// yet appended. Its size was checked against its limit when it was found.
func (in *Incoming) load(w *worker, i int32) ([]byte, error) {
	o := &in.objs[i]
	if !o.external || o.appended {
		return in.inflateAt(w, o)
	}
	typ, size, rc, err := in.repository().Read(o.hash)
	if err != nil {
		return nil, fmt.Errorf("pack: read base %s: %w", o.hash, err)
	}
	defer rc.Close()
	if typ != o.typ || size != o.size {
		return nil, fmt.Errorf("pack: repository object %s is corrupt", o.hash)
	}
	data, err := readWhole(rc, size)
	if err != nil {
		return nil, fmt.Errorf("pack: read base %s: %w", o.hash, err)
	}
	// The repository's copy is trusted only as far as its id.
	if plumbing.ComputeHash(o.typ, data) != o.hash {
		return nil, fmt.Errorf("pack: repository object %s is corrupt", o.hash)
	}
	return data, nil
}

// inflateAt reads an entry's data back from the quarantined pack into a
// buffer of exactly its size, with w's inflater (ReadAt on the file is
// safe from several workers).
func (in *Incoming) inflateAt(w *worker, o *object) ([]byte, error) {
	return in.inflate(w, o, nil)
}

// maxReused bounds the buffers a worker keeps from one object to the
// next (a delta's data, a tree nothing builds on); larger ones are made
// for their object and dropped.
const maxReused = 256 << 10

// reuse returns a buffer of n bytes from *buf, growing it within
// maxReused, or a new one past that.
func reuse(buf *[]byte, n int64) []byte {
	if n > maxReused {
		return make([]byte, n)
	}
	if int64(cap(*buf)) < n {
		*buf = make([]byte, min(max(n, 2*int64(cap(*buf))), maxReused))
	}
	return (*buf)[:n]
}

// inflateDelta is inflateAt for a delta's data, which is read once and
// dropped: into w's own buffer, valid until w inflates again.
func (in *Incoming) inflateDelta(w *worker, o *object) ([]byte, error) {
	return in.inflate(w, o, &w.deltaBuf)
}

// inflate is inflateAt into a buffer from reuse(reused), or a new one
// when reused is nil.
func (in *Incoming) inflate(w *worker, o *object, reused *[]byte) ([]byte, error) {
	if in.pack == nil {
		return nil, errors.New("pack: already closed")
	}
	sr := io.NewSectionReader(in.pack, o.dataOff(), in.packSize-o.dataOff())
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
	var data []byte
	if reused != nil {
		data = reuse(reused, o.size)
	} else {
		data = make([]byte, o.size)
	}
	if err := readExactly(w.ctx, w.zr, data, o.offset); err != nil {
		return nil, err
	}
	return data, nil
}

// readExactly fills buf from zr and insists on a clean end of the zlib
// stream right after (its Adler-32 included). It looks at ctx every
// megabyte.
func readExactly(ctx context.Context, zr io.Reader, buf []byte, at int64) error {
	for n := 0; n < len(buf); {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := zr.Read(buf[n:min(len(buf), n+1<<20)])
		n += m
		switch {
		case err == io.EOF && n < len(buf):
			return fmt.Errorf("%w: object at %d inflates to %d bytes, header says %d", ErrCorrupt, at, n, len(buf))
		case err == io.EOF:
			return nil
		case err != nil:
			return inflateErr(err, at)
		}
	}
	var one [1]byte
	for {
		m, err := zr.Read(one[:])
		if m > 0 {
			return fmt.Errorf("%w: object at %d inflates to more than %d bytes, header says %d", ErrCorrupt, at, len(buf), len(buf))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return inflateErr(err, at)
		}
	}
}

// deltaErr reports a bad delta as corruption and passes the context's
// error on.
func deltaErr(err error, at int64) error {
	if errors.Is(err, odb.ErrCorrupt) {
		return fmt.Errorf("%w: delta at %d: %v", ErrCorrupt, at, err)
	}
	return err
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
	var hdr [odb.MaxEntryHeader]byte
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
		if _, err := cw.Write(hdr[:odb.PutEntryHeader(hdr[:], o.typ, uint64(len(data)))]); err != nil {
			return err
		}
		o.hdrLen = uint8(cw.off - o.offset)
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

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
