package uploadpack

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"

	"gatehouse/repos/odb"
)

// objectStore reads the objects one conversation looks at: commits,
// trees and tags for the negotiation and the walks, blob sizes for
// filters. Packed objects are decoded by go-git's pack reader, but over
// the packs as odb opens them (odb.Pack: the index mapped, not decoded):
// go-git's own storage decodes every index into slices and, on the first
// object read, builds a map from offset to id of every object of every
// pack, some 70 bytes an object, which for a large repository is most of
// the memory of a clone. Here an id is found by binary search in the
// mapped file, and the offset-to-id table a delta base needs is the
// pack's reverse index, 4 bytes an object, built only for packs a delta
// is read from. Loose objects are read by odb.OpenLoose. The same packs
// are handed to the bitmap reader and to packobjects (Packs), so one
// conversation opens each pack once.
//
// It sees the packs present when it is opened, and those that appear
// later once refsRead has been called: refs are written after the
// objects they name (a push installs its pack, then its index, then
// moves the ref; a repack adds its pack before old ones go), so an
// object a ref read names but no open pack holds is in a pack that came
// since. The first lookup that misses after refsRead lists the pack
// directory again and opens the new packs (git's reprepare_packed_git);
// packs already open stay open, whether or not a repack has removed
// their files since, so reads in flight go on. A miss costs a directory
// listing at most once per refs read; a hit costs nothing more.
//
// It is used from one goroutine at a time.
type objectStore struct {
	dir   string
	fs    billy.Filesystem
	packs []*storePack
	open  map[string]bool // base names of the packs in packs
	cache cache.Object
	// stale: refs were read since the pack directory was last listed.
	stale bool
}

type storePack struct {
	pack *odb.Pack
	idx  *packIndex
	pf   *packfile.Packfile
}

// largeObject is the size from which a packed object is streamed from
// the pack when read instead of held (odb.Open's threshold).
const largeObject = 1 << 20

// openStore opens the packs of gitDir as odb lists them (a .pack without
// its .idx is being installed, an .idx without its .pack is being
// removed). A pack whose index cannot be read, or that does not match
// it, is an error; one removed since it was listed is skipped.
func openStore(gitDir string) (*objectStore, error) {
	s := &objectStore{dir: gitDir, fs: osfs.New(gitDir, osfs.WithBoundOS()),
		open: make(map[string]bool), cache: cache.NewObjectLRU(16 * cache.MiByte)}
	if err := s.scan(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// scan opens the packs odb.ListPacks lists that are not open yet.
func (s *objectStore) scan() error {
	infos, err := odb.ListPacks(s.dir)
	if err != nil {
		return err
	}
	for _, info := range infos {
		if s.open[info.Name] {
			continue
		}
		p, err := odb.OpenPack(info)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		f, _, err := p.File()
		if errors.Is(err, os.ErrNotExist) {
			p.Close()
			continue
		}
		if err != nil {
			p.Close()
			return err
		}
		idx := &packIndex{p: p, ix: p.Index(), n: uint32(p.Index().Len())}
		s.packs = append(s.packs, &storePack{pack: p, idx: idx,
			pf: packfile.NewPackfileWithCache(idx, s.fs, packFile{f, filepath.Join("objects", "pack", info.Name+".pack")}, s.cache, largeObject)})
		s.open[info.Name] = true
	}
	return nil
}

// packFile lends go-git's pack reader the pack file odb opened, which
// it reads by Seek and Read from one goroutine at a time; the others
// read it only by ReadAt. go-git never locks it, and reopens it by name
// in the store's bound filesystem to stream a large object.
type packFile struct {
	*os.File
	name string
}

func (f packFile) Name() string { return f.name }

func (packFile) Lock() error   { return nil }
func (packFile) Unlock() error { return nil }

// Packs returns the packs, newest first, listing the pack directory
// again first for packs installed since (a repack may have moved loose
// objects into one). They stay the store's: the caller reads them
// (repos/packobjects, repos/bitmap) but does not close them.
func (s *objectStore) Packs() ([]*odb.Pack, error) {
	if err := s.scan(); err != nil {
		return nil, fmt.Errorf("list packs: %w", err)
	}
	packs := make([]*odb.Pack, len(s.packs))
	for i, p := range s.packs {
		packs[i] = p.pack
	}
	// Newest first, as odb lists them: those found by a later scan
	// were appended.
	slices.SortStableFunc(packs, func(a, b *odb.Pack) int { return b.Info.ModTime.Compare(a.Info.ModTime) })
	return packs, nil
}

// refsRead tells the store that refs have just been read: objects they
// name may be in packs installed since the store last listed them.
func (s *objectStore) refsRead() { s.stale = true }

// Close releases the packs and their indexes.
func (s *objectStore) Close() error {
	for _, p := range s.packs {
		p.pack.Close()
	}
	s.packs = nil
	clear(s.open)
	return nil
}

// find returns the pack holding h and its position in the index. On a
// miss after refsRead it lists the pack directory again and looks in the
// packs that came since. ok is false when no pack holds h (it may be
// loose).
func (s *objectStore) find(h plumbing.Hash) (p *storePack, pos uint32, ok bool, err error) {
	for _, p := range s.packs {
		if pos, ok := p.idx.find(h); ok {
			return p, pos, true, nil
		}
	}
	if !s.stale {
		return nil, 0, false, nil
	}
	s.stale = false
	n := len(s.packs)
	if err := s.scan(); err != nil {
		return nil, 0, false, fmt.Errorf("list packs: %w", err)
	}
	for _, p := range s.packs[n:] {
		if pos, ok := p.idx.find(h); ok {
			return p, pos, true, nil
		}
	}
	return nil, 0, false, nil
}

// EncodedObject returns object h, failing with plumbing.ErrObjectNotFound
// when it is missing or is not of type t (unless t is AnyObject).
func (s *objectStore) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	obj, err := s.object(h)
	if err != nil {
		return nil, err
	}
	if t != plumbing.AnyObject && obj.Type() != t {
		return nil, plumbing.ErrObjectNotFound
	}
	return obj, nil
}

func (s *objectStore) object(h plumbing.Hash) (plumbing.EncodedObject, error) {
	p, _, ok, err := s.find(h)
	if err != nil {
		return nil, err
	}
	if ok {
		return p.pf.Get(h)
	}
	return s.loose(h)
}

// EncodedObjectSize returns the size of object h without reading it
// whole.
func (s *objectStore) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	p, pos, ok, err := s.find(h)
	if err != nil {
		return 0, err
	}
	if ok {
		off, err := p.idx.offset(pos)
		if err != nil {
			return 0, err
		}
		return p.pf.GetSizeByOffset(int64(off))
	}
	_, size, rc, err := s.openLoose(h)
	if err != nil {
		return 0, err
	}
	rc.Close()
	return size, nil
}

// openLoose starts reading a loose object (odb.OpenLoose), unbounded
// (the walks bound what they read) and checked against its id as it
// ends. A missing one is plumbing.ErrObjectNotFound itself, as go-git's
// callers compare it.
func (s *objectStore) openLoose(h plumbing.Hash) (plumbing.ObjectType, int64, io.ReadCloser, error) {
	t, size, rc, err := odb.OpenLoose(s.dir, h, math.MaxInt64)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return 0, 0, nil, plumbing.ErrObjectNotFound
	}
	return t, size, rc, err
}

// loose reads a loose object whole, checking its id; a large one is
// read again from its file when its content is asked for, so that it is
// never held.
func (s *objectStore) loose(h plumbing.Hash) (plumbing.EncodedObject, error) {
	t, size, rc, err := s.openLoose(h)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > largeObject {
		return &looseObject{s: s, h: h, t: t, size: size}, nil
	}
	obj := &plumbing.MemoryObject{}
	obj.SetType(t)
	obj.SetSize(size)
	w, _ := obj.Writer()
	if _, err := io.Copy(w, rc); err != nil {
		return nil, fmt.Errorf("loose object %s: %w", h, err)
	}
	return obj, nil
}

// looseObject is a large loose object, read from its file on demand.
type looseObject struct {
	s    *objectStore
	h    plumbing.Hash
	t    plumbing.ObjectType
	size int64
}

func (o *looseObject) Hash() plumbing.Hash           { return o.h }
func (o *looseObject) Type() plumbing.ObjectType     { return o.t }
func (o *looseObject) SetType(t plumbing.ObjectType) { o.t = t }
func (o *looseObject) Size() int64                   { return o.size }
func (o *looseObject) SetSize(n int64)               { o.size = n }
func (o *looseObject) Writer() (io.WriteCloser, error) {
	return nil, errors.New("uploadpack: objects are read-only")
}

func (o *looseObject) Reader() (io.ReadCloser, error) {
	_, _, rc, err := o.s.openLoose(o.h)
	return rc, err
}

// packIndex answers go-git's idxfile.Index from an odb.Pack's mapped
// index and, for lookups by offset, its reverse index.
type packIndex struct {
	p  *odb.Pack
	ix *odb.Index
	n  uint32
}

func (x *packIndex) find(h plumbing.Hash) (uint32, bool) {
	pos, ok := x.ix.Find(h)
	return uint32(pos), ok
}

func (x *packIndex) name(pos uint32) []byte { return x.ix.Name(int(pos)) }

func (x *packIndex) offset(pos uint32) (uint64, error) { return x.ix.Offset(int(pos)) }

func (x *packIndex) Contains(h plumbing.Hash) (bool, error) {
	_, ok := x.find(h)
	return ok, nil
}

func (x *packIndex) FindOffset(h plumbing.Hash) (int64, error) {
	pos, ok := x.find(h)
	if !ok {
		return 0, plumbing.ErrObjectNotFound
	}
	off, err := x.offset(pos)
	return int64(off), err
}

func (x *packIndex) FindCRC32(h plumbing.Hash) (uint32, error) {
	pos, ok := x.find(h)
	if !ok {
		return 0, plumbing.ErrObjectNotFound
	}
	return x.ix.CRC(int(pos)), nil
}

func (x *packIndex) FindHash(o int64) (plumbing.Hash, error) {
	rev, err := x.p.RevIndex()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	rank, ok := rev.Find(uint64(o))
	if o < 0 || !ok {
		return plumbing.ZeroHash, plumbing.ErrObjectNotFound
	}
	var h plumbing.Hash
	copy(h[:], x.name(rev.Pos(rank)))
	return h, nil
}

func (x *packIndex) Count() (int64, error) { return int64(x.n), nil }

func (x *packIndex) Entries() (idxfile.EntryIter, error) {
	return &indexIter{x: x}, nil
}

func (x *packIndex) EntriesByOffset() (idxfile.EntryIter, error) {
	rev, err := x.p.RevIndex()
	if err != nil {
		return nil, err
	}
	return &indexIter{x: x, rev: rev}, nil
}

// indexIter lists the entries of a packIndex, by id, or by offset when
// rev is set.
type indexIter struct {
	x   *packIndex
	i   uint32
	rev *odb.RevIndex
}

func (it *indexIter) Next() (*idxfile.Entry, error) {
	x := it.x
	if it.i >= x.n {
		return nil, io.EOF
	}
	pos := it.i
	if it.rev != nil {
		pos = it.rev.Pos(int(it.i))
	}
	it.i++
	off, err := x.offset(pos)
	if err != nil {
		return nil, err
	}
	e := &idxfile.Entry{Offset: off, CRC32: x.ix.CRC(int(pos))}
	copy(e.Hash[:], x.name(pos))
	return e, nil
}

func (it *indexIter) Close() error { return nil }
