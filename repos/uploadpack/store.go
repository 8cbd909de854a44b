package uploadpack

import (
	"errors"
	"io"
	"math"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// objectStore reads the objects one conversation looks at: commits,
// trees and tags for the negotiation and the walks, blob sizes for
// filters. It is an odb.Reader over the packs as they are when the
// conversation starts (odb.OpenSnapshot): each index mapped, not decoded,
// an id found by binary search in it, and the offset-to-id table a delta
// base needs is the pack's reverse index, built only for packs a delta
// is read from. The same packs are handed to the bitmap reader and to
// packobjects (Packs), so one conversation opens each pack once.
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
type objectStore struct {
	r *odb.Reader
}

// baseCacheSize bounds the delta bases a conversation keeps.
const baseCacheSize = 16 << 20

// openStore opens the packs of gitDir as odb lists them (a .pack without
// its .idx is being installed, an .idx without its .pack is being
// removed). A pack whose index cannot be read, or that does not match
// it, is an error; one removed since it was listed is skipped. Objects
// are not bounded in size: the walks read only commits, trees and tags
// whole, and blobs only by their headers.
func openStore(gitDir string) (*objectStore, error) {
	r, err := odb.OpenSnapshot(gitDir, odb.Limits{MaxObjectSize: math.MaxInt64, BaseCacheSize: baseCacheSize})
	if err != nil {
		return nil, err
	}
	return &objectStore{r: r}, nil
}

// Packs returns the packs, newest first, listing the pack directory
// again first for packs installed since (a repack may have moved loose
// objects into one). They stay the store's: the caller reads them
// (repos/packobjects, repos/bitmap) but does not close them.
func (s *objectStore) Packs() ([]*odb.Pack, error) {
	if err := s.r.Rescan(); err != nil {
		return nil, err
	}
	return s.r.Packs(), nil
}

// refsRead tells the store that refs have just been read: objects they
// name may be in packs installed since the store last listed them.
func (s *objectStore) refsRead() { s.r.Refresh() }

// Close releases the packs and their indexes.
func (s *objectStore) Close() error { return s.r.Close() }

// EncodedObject returns object h, failing with plumbing.ErrObjectNotFound
// when it is missing or is not of type t (unless t is AnyObject). Only
// its header is read; its content is read when asked for.
func (s *objectStore) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	typ, size, err := s.r.Header(h)
	if err != nil {
		return nil, err
	}
	if t != plumbing.AnyObject && typ != t {
		return nil, plumbing.ErrObjectNotFound
	}
	return &storeObject{r: s.r, h: h, t: typ, size: size}, nil
}

// readWhole reads object h, of type t, whole into buf (wholeReader).
func (s *objectStore) readWhole(t plumbing.ObjectType, h plumbing.Hash, buf []byte) ([]byte, error) {
	_, data, err := s.r.ReadWhole(h, t, buf)
	return data, err
}

// EncodedObjectSize returns the size of object h without reading it
// whole.
func (s *objectStore) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	_, size, err := s.r.Header(h)
	return size, err
}

var errReadOnly = errors.New("uploadpack: objects are read-only")

// storeObject is an object whose header has been read; its content is
// read from the store when asked for.
type storeObject struct {
	r    *odb.Reader
	h    plumbing.Hash
	t    plumbing.ObjectType
	size int64
}

func (o *storeObject) Hash() plumbing.Hash           { return o.h }
func (o *storeObject) Type() plumbing.ObjectType     { return o.t }
func (o *storeObject) SetType(t plumbing.ObjectType) { o.t = t }
func (o *storeObject) Size() int64                   { return o.size }
func (o *storeObject) SetSize(n int64)               { o.size = n }
func (o *storeObject) Writer() (io.WriteCloser, error) {
	return nil, errReadOnly
}

func (o *storeObject) Reader() (io.ReadCloser, error) {
	_, _, rc, err := o.r.Read(o.h)
	return rc, err
}
