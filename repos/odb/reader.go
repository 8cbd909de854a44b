package odb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// Defaults for the zero Limits fields.
const (
	// DefaultMaxObjectSize bounds one object's size, as its header or its
	// delta declares it, like repos/indexpack's bound on delta objects.
	DefaultMaxObjectSize = 512 << 20
	// DefaultBaseCacheSize bounds the delta bases a Reader keeps, like
	// git's core.deltaBaseCacheLimit.
	DefaultBaseCacheSize = 96 << 20
	// MaxDeltaDepth bounds a delta chain, counted from the object down
	// to its undeltified base. It is git's own hard bound (pack-objects
	// caps --depth at 4095) and what a push may bring (repos/indexpack); a
	// deeper chain, or a cycle of REF_DELTAs, is reported as ErrCorrupt.
	MaxDeltaDepth = 4095
)

// Errors, wrapped with detail. An object that is not there wraps
// plumbing.ErrObjectNotFound, as go-git's stores report it.
var (
	// ErrTooLarge: the object is larger than Limits.MaxObjectSize.
	ErrTooLarge = errors.New("object too large")
	// ErrCorrupt: a pack, its index or a loose object does not decode,
	// or a delta chain is deeper than MaxDeltaDepth.
	ErrCorrupt = errors.New("corrupt object database")
)

// Limits bound what a Reader holds in memory.
type Limits struct {
	// MaxObjectSize bounds every object read, checked against its header
	// (or its delta's declared result) before anything is allocated;
	// 0 means DefaultMaxObjectSize.
	MaxObjectSize int64
	// BaseCacheSize bounds, in bytes, the delta bases kept between
	// reads; 0 means DefaultBaseCacheSize, negative none.
	BaseCacheSize int64
}

// Reader reads a bare repository's objects: packed ones through their
// mapped .idx (OpenIndex) and loose ones. Reading an object is linear
// in the depth of its delta chain: the chain is followed down to its base
// by headers alone, then the deltas are applied outward, each result
// replacing its base, so memory is about twice the largest object of the
// chain plus the base cache, never the chain's depth times its size.
// Undeltified objects are streamed from disk without being held.
//
// The pack list of OpenReader's Reader is read on first use and read
// again, once, when an object is not found or a pack has vanished (a
// concurrent repack), before the object is believed missing; that of
// OpenSnapshot's only when told to (Refresh). Files appearing and
// disappearing while the directory is listed are tolerated.
//
// A Reader is safe for concurrent use.
type Reader struct {
	objDir string
	max    int64
	cache  *BaseCache[cacheKey]
	pinned bool // OpenSnapshot's: pack files opened when listed, lists again only when stale

	mu      sync.Mutex // guards the fields below
	scanned bool
	stale   bool        // pinned: objects may have come since the listing
	packs   []*packFile // the current listing
	retired []*packFile // dropped from the listing, closed on Close
	closed  bool
}

// OpenReader returns a Reader of the repository at gitDir. Nothing is
// read until the first object is asked for. The caller closes it.
func OpenReader(gitDir string, lim Limits) *Reader {
	if lim.MaxObjectSize <= 0 {
		lim.MaxObjectSize = DefaultMaxObjectSize
	}
	if lim.BaseCacheSize == 0 {
		lim.BaseCacheSize = DefaultBaseCacheSize
	}
	return &Reader{
		objDir: filepath.Join(gitDir, "objects"),
		max:    lim.MaxObjectSize,
		cache:  NewBaseCache[cacheKey](max(lim.BaseCacheSize, 0)),
	}
}

// OpenSnapshot returns a Reader of the repository at gitDir for one
// conversation: the packs listed now, each with its pack file opened at
// once, so that a repack removing them later does not take them from it
// (a pack vanishing before it is opened is left out). It lists the pack
// directory again only after Refresh, on the first object then not
// found, or when asked (Rescan); packs open stay open, listed or not,
// until Close. Errors: ListPacks', or a pack that does not open
// (ErrCorrupt, I/O).
func OpenSnapshot(gitDir string, lim Limits) (*Reader, error) {
	r := OpenReader(gitDir, lim)
	r.pinned = true
	if err := r.rescan(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Refresh tells the Reader that objects may have come since it listed
// the packs: refs were read, and a ref is written after the objects it
// names (a push installs its pack, then its index, then moves the ref).
// The next object not found lists the pack directory again, once. Only
// OpenSnapshot's Reader needs it; OpenReader's lists again on every miss.
func (r *Reader) Refresh() {
	r.mu.Lock()
	r.stale = true
	r.mu.Unlock()
}

// Rescan lists the pack directory again and opens the packs that came.
func (r *Reader) Rescan() error { return r.rescan() }

// Packs returns the packs the Reader has open, newest first: those of
// its last listing, and those listed before and gone since whose files
// are still open (a repack removed them; what is read from them is still
// there). They stay the Reader's: the caller reads them (repos/bitmap,
// repos/packobjects) until the Reader is closed, and does not close them.
func (r *Reader) Packs() []*Pack {
	r.mu.Lock()
	defer r.mu.Unlock()
	packs := slices.Clone(r.packs)
	for _, p := range r.retired {
		if p.opened() {
			packs = append(packs, p)
		}
	}
	slices.SortStableFunc(packs, func(a, b *Pack) int { return b.Info.ModTime.Compare(a.Info.ModTime) })
	return packs
}

// Close releases the packs. Streams returned by Read must be closed
// first.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range append(r.packs, r.retired...) {
		p.close()
	}
	r.packs, r.retired, r.closed = nil, nil, true
	r.cache.Clear()
	return nil
}

// Header returns an object's type and size without reading its content
// (for a delta, only the start of the delta and the headers of the
// chain below it). Errors: not found (wraps plumbing.ErrObjectNotFound),
// ErrTooLarge, ErrCorrupt, or an I/O error.
func (r *Reader) Header(id plumbing.Hash) (plumbing.ObjectType, int64, error) {
	var typ plumbing.ObjectType
	var size int64
	err := r.retry(func() (err error) {
		loc, err := r.find(id)
		if err != nil {
			return err
		}
		typ, size, err = r.header(loc)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("odb: object %s: %w", id, err)
	}
	return typ, size, nil
}

// Read returns an object's type, size and content. The content is
// streamed: an undeltified object straight from the pack or loose file,
// a delta by applying it to its (held) base as it is read. The stream
// reports ErrCorrupt if the content does not match its header. The
// caller closes it. Errors are Header's.
func (r *Reader) Read(id plumbing.Hash) (plumbing.ObjectType, int64, io.ReadCloser, error) {
	var o stream
	err := r.retry(func() (err error) {
		loc, err := r.find(id)
		if err != nil {
			return err
		}
		o, err = r.open(loc)
		return err
	})
	if err != nil {
		return 0, 0, nil, fmt.Errorf("odb: object %s: %w", id, err)
	}
	return o.typ, o.size, o.rc, nil
}

// ReadWhole reads an object whole into buf, grown when it is too small,
// and returns its type and content (buf's prefix, or a new slice). For
// small objects read one after another (the commits and trees of a
// walk), with one buffer: nothing is allocated for an undeltified object
// that fits. An object of another type than want (unless want is
// plumbing.AnyObject) is reported as not found, as go-git's stores do,
// its content unread. Errors are Header's.
func (r *Reader) ReadWhole(id plumbing.Hash, want plumbing.ObjectType, buf []byte) (plumbing.ObjectType, []byte, error) {
	var typ plumbing.ObjectType
	var data []byte
	err := r.retry(func() (err error) {
		loc, err := r.find(id)
		if err != nil {
			return err
		}
		typ, data, err = r.whole(loc, want, buf)
		return err
	})
	if errors.Is(err, errWrongType) {
		return 0, nil, fmt.Errorf("odb: object %s: %w: %w %s", id, plumbing.ErrObjectNotFound, err, want)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("odb: object %s: %w", id, err)
	}
	return typ, data, nil
}

// errWrongType: ReadWhole found the object, of another type.
var errWrongType = errors.New("not a")

// whole is ReadWhole for an object found at loc.
func (r *Reader) whole(loc location, want plumbing.ObjectType, buf []byte) (plumbing.ObjectType, []byte, error) {
	wrong := func(t plumbing.ObjectType) bool { return want != plumbing.AnyObject && t != want }
	if loc.pack == nil {
		o, err := r.openLoose(loc.loose)
		if err != nil {
			return 0, nil, err
		}
		if wrong(o.typ) {
			o.rc.Close()
			return 0, nil, errWrongType
		}
		buf = grow(buf, o.size)
		return o.typ, buf, readWhole(o.rc, buf)
	}
	// One read for the header and, for a small object, the data.
	h, e, err := loc.pack.entry(loc.off)
	if err != nil {
		return 0, nil, err
	}
	if !h.Delta() {
		if wrong(h.Type) {
			e.Close()
			return 0, nil, errWrongType
		}
		if h.Size > r.max {
			e.Close()
			return 0, nil, r.tooLarge(h.Size)
		}
		if err := e.start(h.Size); err != nil {
			return 0, nil, err
		}
		buf = grow(buf, h.Size)
		return h.Type, buf, readWhole(e, buf)
	}
	baseLoc, err := r.base(loc, h)
	if err != nil {
		e.Close()
		return 0, nil, err
	}
	typ, base, err := r.materialize(baseLoc, 1)
	if err != nil {
		e.Close()
		return 0, nil, err
	}
	if wrong(typ) {
		e.Close()
		return 0, nil, errWrongType
	}
	if err := e.start(h.Size); err != nil {
		return 0, nil, err
	}
	buf, err = r.deltaFrom(e, h, base, buf)
	return typ, buf, err
}

// applyDelta applies the delta at loc, whose header is h, to base, into
// out if it is large enough, and returns the result. A delta of up to
// maxScratch bytes is inflated whole into a pooled buffer and applied
// from memory, its instructions read without a stream under them; a
// larger one is applied as it is inflated, so that it is never held.
func (r *Reader) applyDelta(loc location, h EntryHeader, base, out []byte) ([]byte, error) {
	rc, err := loc.pack.inflate(loc.off, h)
	if err != nil {
		return nil, err
	}
	return r.deltaFrom(rc, h, base, out)
}

// deltaFrom is applyDelta with the delta's data being inflated by rc,
// which it closes.
func (r *Reader) deltaFrom(rc *exactReader, h EntryHeader, base, out []byte) ([]byte, error) {
	if h.Size > maxScratch {
		d, err := NewDeltaReader(base, rc, r.max)
		if err != nil {
			rc.Close()
			return nil, err
		}
		out = grow(out, d.size)
		return out, readWhole(d, out)
	}
	sc, _ := deltaScratches.Get().(*deltaScratch)
	if sc == nil {
		sc = new(deltaScratch)
	}
	defer sc.release()
	sc.raw = grow(sc.raw, h.Size)
	if err := readWhole(rc, sc.raw); err != nil {
		return nil, err
	}
	sc.br.Reset(sc.raw)
	if err := sc.d.Reset(base, &sc.br, r.max); err != nil {
		return nil, err
	}
	out = grow(out, sc.d.size)
	return out, sc.d.ReadAll(out)
}

// deltaScratch is what ReadWhole applies a delta with.
type deltaScratch struct {
	raw []byte
	br  bytes.Reader
	d   DeltaReader
}

var deltaScratches sync.Pool // of *deltaScratch

// maxScratch bounds the deltas applied from memory, and so the buffer a
// deltaScratch keeps for the next.
const maxScratch = 1 << 20

func (sc *deltaScratch) release() {
	sc.br.Reset(nil)
	sc.d = DeltaReader{}
	if cap(sc.raw) > maxScratch {
		sc.raw = nil
	}
	deltaScratches.Put(sc)
}

// grow returns buf resized to n bytes, reallocated when too small.
func grow(buf []byte, n int64) []byte {
	if int64(cap(buf)) < n {
		return make([]byte, n)
	}
	return buf[:n]
}

// errStale reports a pack or loose file that vanished after it was
// listed: the listing is out of date.
var errStale = errors.New("object file vanished")

// retry runs f, and once more after listing the packs again if it did
// not find an object or found a file gone: a concurrent repack moves
// objects between packs and loose files.
func (r *Reader) retry(f func() error) error {
	err := f()
	if (errors.Is(err, plumbing.ErrObjectNotFound) || errors.Is(err, errStale)) && r.mayRescan() {
		if err := r.rescan(); err != nil {
			return err
		}
		err = f()
	}
	if errors.Is(err, errStale) {
		return fmt.Errorf("%w: %w", plumbing.ErrObjectNotFound, err)
	}
	return err
}

// mayRescan says whether a miss may list the packs again: always for
// OpenReader's Reader, once after Refresh for OpenSnapshot's.
func (r *Reader) mayRescan() bool {
	if !r.pinned {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	stale := r.stale
	r.stale = false
	return stale
}

// location is where an object is: in a pack at an offset, or loose.
type location struct {
	pack  *packFile
	off   uint64
	loose plumbing.Hash // set when pack is nil
}

// find locates an object in the listed packs or as a loose object.
func (r *Reader) find(id plumbing.Hash) (location, error) {
	packs, err := r.listing()
	if err != nil {
		return location{}, err
	}
	var stale error
	for _, p := range packs {
		i, ok := p.idx.Find(id)
		if !ok {
			continue
		}
		off, err := p.idx.Offset(i)
		if err != nil {
			return location{}, fmt.Errorf("%w: %s: %w", ErrCorrupt, filepath.Base(p.path), err)
		}
		// Open the pack now, so that it cannot vanish before it is read;
		// one already gone is passed over, as git does, for the others.
		if _, _, err := p.file(); errors.Is(err, errStale) {
			stale = err
			continue
		} else if err != nil {
			return location{}, err
		}
		return location{pack: p, off: off}, nil
	}
	if _, err := os.Lstat(r.loosePath(id)); err == nil {
		return location{loose: id}, nil
	}
	if stale != nil {
		return location{}, stale
	}
	return location{}, plumbing.ErrObjectNotFound
}

// listing returns the packs, listing them on first use.
func (r *Reader) listing() ([]*packFile, error) {
	r.mu.Lock()
	scanned, packs := r.scanned, r.packs
	r.mu.Unlock()
	if scanned {
		return packs, nil
	}
	if err := r.rescan(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.packs, nil
}

// rescan lists the packs again (ListPacks). Packs already open are
// kept; those gone from the listing leave it but stay open until Close,
// for streams still reading them. An index that vanishes between the
// listing and its opening is skipped.
func (r *Reader) rescan() error {
	infos, err := ListPacks(filepath.Dir(r.objDir))
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("odb: reader closed")
	}
	// Packs open already are kept, those a listing dropped included,
	// should they be listed again.
	old := make(map[string]*packFile, len(r.packs)+len(r.retired))
	for _, p := range append(r.retired, r.packs...) {
		old[p.path] = p
	}
	var packs, opened []*packFile
	fail := func(err error) error {
		ClosePacks(opened)
		return fmt.Errorf("odb: %w", err)
	}
	for _, info := range infos {
		if p := old[info.Path]; p != nil {
			delete(old, info.Path)
			packs = append(packs, p)
			continue
		}
		p, err := OpenPack(info)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fail(err)
		}
		if r.pinned {
			// Opened now, so that a repack cannot take it away.
			if _, _, err := p.file(); errors.Is(err, errStale) {
				p.close()
				continue
			} else if err != nil {
				p.close()
				return fail(err)
			}
		}
		packs = append(packs, p)
		opened = append(opened, p)
	}
	r.retired = r.retired[:0]
	for _, p := range old {
		r.retired = append(r.retired, p)
	}
	r.packs, r.scanned = packs, true
	return nil
}

// stream is an object being read.
type stream struct {
	typ  plumbing.ObjectType
	size int64
	rc   io.ReadCloser
}

// open starts reading the object at loc.
func (r *Reader) open(loc location) (stream, error) {
	if loc.pack == nil {
		return r.openLoose(loc.loose)
	}
	h, err := loc.pack.header(loc.off)
	if err != nil {
		return stream{}, err
	}
	if !h.Delta() {
		if h.Size > r.max {
			return stream{}, r.tooLarge(h.Size)
		}
		rc, err := loc.pack.inflate(loc.off, h)
		return stream{h.Type, h.Size, rc}, err
	}
	// The delta itself is applied as it is read; only its base is held.
	baseLoc, err := r.base(loc, h)
	if err != nil {
		return stream{}, err
	}
	typ, base, err := r.materialize(baseLoc, 1)
	if err != nil {
		return stream{}, err
	}
	rc, err := loc.pack.inflate(loc.off, h)
	if err != nil {
		return stream{}, err
	}
	d, err := NewDeltaReader(base, rc, r.max)
	if err != nil {
		rc.Close()
		return stream{}, err
	}
	return stream{typ, d.size, d}, nil
}

// link is one delta of a chain being resolved.
type link struct {
	loc location
	h   EntryHeader
}

// materialize returns the whole content of the object at loc, which is
// depth deltas above the object first asked for. It follows the chain
// down by headers to a base it has (cached) or can read whole, then
// applies the deltas outward, caching each result the cache can take.
// A result the cache does not keep becomes the buffer of the next but
// one, so that a chain of large objects costs two buffers, not one per
// level for the garbage collector to catch up with.
func (r *Reader) materialize(loc location, depth int) (plumbing.ObjectType, []byte, error) {
	var chain []link
	var typ plumbing.ObjectType
	var data []byte
	shared := false // whether data is in the cache
	for {
		if loc.pack == nil {
			// A loose object is never a delta, and is not cached: it is
			// one file away.
			o, err := r.openLoose(loc.loose)
			if err != nil {
				return 0, nil, err
			}
			typ = o.typ
			data = make([]byte, o.size)
			if err := readWhole(o.rc, data); err != nil {
				return 0, nil, err
			}
			break
		}
		if t, b, ok := r.cache.Get(cacheKey{loc.pack, loc.off}); ok {
			typ, data, shared = t, b, true
			break
		}
		h, e, err := loc.pack.entry(loc.off)
		if err != nil {
			return 0, nil, err
		}
		if !h.Delta() {
			if h.Size > r.max {
				e.Close()
				return 0, nil, r.tooLarge(h.Size)
			}
			if err := e.start(h.Size); err != nil {
				return 0, nil, err
			}
			typ, data = h.Type, make([]byte, h.Size)
			if err := readWhole(e, data); err != nil {
				return 0, nil, err
			}
			shared = r.cache.Put(cacheKey{loc.pack, loc.off}, typ, data)
			break
		}
		e.Close() // the delta is inflated once its base is resolved
		if depth+len(chain) >= MaxDeltaDepth {
			return 0, nil, fmt.Errorf("%w: delta chain deeper than %d", ErrCorrupt, MaxDeltaDepth)
		}
		chain = append(chain, link{loc, h})
		if loc, err = r.base(loc, h); err != nil {
			return 0, nil, err
		}
	}
	var spare []byte // a buffer no one else holds
	for i := len(chain) - 1; i >= 0; i-- {
		l := chain[i]
		out, err := r.applyDelta(l.loc, l.h, data, spare)
		if err != nil {
			return 0, nil, err
		}
		spare = nil
		if !shared {
			spare = data
		}
		data = out
		shared = r.cache.Put(cacheKey{l.loc.pack, l.loc.off}, typ, data)
	}
	return typ, data, nil
}

// header returns the type and size of the object at loc, following a
// delta chain down by headers for the type.
func (r *Reader) header(loc location) (plumbing.ObjectType, int64, error) {
	if loc.pack == nil {
		o, err := r.openLoose(loc.loose)
		if err != nil {
			return 0, 0, err
		}
		o.rc.Close()
		return o.typ, o.size, nil
	}
	h, err := loc.pack.header(loc.off)
	if err != nil {
		return 0, 0, err
	}
	if !h.Delta() {
		if h.Size > r.max {
			return 0, 0, r.tooLarge(h.Size)
		}
		return h.Type, h.Size, nil
	}
	size, err := r.deltaSize(loc, h)
	if err != nil {
		return 0, 0, err
	}
	for depth := 1; ; depth++ {
		if depth >= MaxDeltaDepth {
			return 0, 0, fmt.Errorf("%w: delta chain deeper than %d", ErrCorrupt, MaxDeltaDepth)
		}
		if loc, err = r.base(loc, h); err != nil {
			return 0, 0, err
		}
		if loc.pack == nil {
			o, err := r.openLoose(loc.loose)
			if err != nil {
				return 0, 0, err
			}
			o.rc.Close()
			return o.typ, size, nil
		}
		if t, _, ok := r.cache.Get(cacheKey{loc.pack, loc.off}); ok {
			return t, size, nil
		}
		if h, err = loc.pack.header(loc.off); err != nil {
			return 0, 0, err
		}
		if !h.Delta() {
			return h.Type, size, nil
		}
	}
}

// deltaSize reads the result size a delta declares, checked against the
// bound.
func (r *Reader) deltaSize(loc location, h EntryHeader) (int64, error) {
	rc, err := loc.pack.inflate(loc.off, h)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	br := byteReader{r: rc}
	if _, err := readVarint(&br); err != nil {
		return 0, err
	}
	size, err := readVarint(&br)
	if err != nil {
		return 0, err
	}
	if size > r.max {
		return 0, r.tooLarge(size)
	}
	return size, nil
}

// base locates the base of the delta at loc: an earlier entry of the
// same pack (OFS_DELTA), or an object named by id (REF_DELTA), looked
// for in the same pack first.
func (r *Reader) base(loc location, h EntryHeader) (location, error) {
	if h.Type == plumbing.OFSDeltaObject {
		if h.BaseRel == 0 || h.BaseRel > loc.off {
			return location{}, fmt.Errorf("%w: %s: delta at %d points outside the pack", ErrCorrupt, filepath.Base(loc.pack.path), loc.off)
		}
		return location{pack: loc.pack, off: loc.off - h.BaseRel}, nil
	}
	if i, ok := loc.pack.idx.Find(h.BaseID); ok {
		off, err := loc.pack.idx.Offset(i)
		if err != nil {
			return location{}, fmt.Errorf("%w: %s: %w", ErrCorrupt, filepath.Base(loc.pack.path), err)
		}
		return location{pack: loc.pack, off: off}, nil
	}
	return r.find(h.BaseID)
}

func (r *Reader) tooLarge(size int64) error {
	return fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, size, r.max)
}

// readWhole fills data from rc, checks that rc ends there, and closes
// it.
func readWhole(rc io.ReadCloser, data []byte) error {
	defer rc.Close()
	if _, err := io.ReadFull(rc, data); err != nil {
		return shortRead(err)
	}
	var one [1]byte
	if n, err := rc.Read(one[:]); n != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = fmt.Errorf("%w: object longer than its header says", ErrCorrupt)
		}
		return err
	}
	return nil
}

// shortRead reports a stream ending before its declared size as
// corruption.
func shortRead(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: object shorter than its header says", ErrCorrupt)
	}
	return err
}
