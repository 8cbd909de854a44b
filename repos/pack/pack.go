// Package pack takes in the pack a client sends with a push, the way
// `git index-pack --stdin --fix-thin --strict` does, and keeps it out of
// sight until the caller decides to keep it.
//
// Receive streams the pack into a quarantine directory inside the
// repository ("objects/tmp_objdir-incoming-XXXX", the name git uses, so
// `git gc` removes one left behind by a crash), checks its framing and
// checksum, resolves its deltas, including deltas against objects the
// repository already has (a thin pack), appends those bases so the pack
// stands alone, checks that commits, trees and tags are well formed, and
// writes a version 2 index. Nothing under objects/pack changes until
// Install; Abort removes the quarantine whatever happened.
//
// Memory is bounded by the number of objects (a small record each) and
// by the largest objects taking part in deltas, never by the pack's size:
// the pack itself goes to disk as it arrives.
package pack

import (
	"context"
	"errors"
	"fmt"
	"gatehouse/repos/lockfile"
	"gatehouse/repos/odb"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Defaults for the zero Options fields.
const (
	// DefaultMaxObjects bounds the object count a pack header may declare.
	DefaultMaxObjects = 1 << 24
	// DefaultMaxDeltaSize bounds an object that is a delta or a delta
	// base, since both ends of a delta are held in memory to apply it.
	DefaultMaxDeltaSize = 512 << 20
	// maxDeltaDepth matches the deepest chain git's pack-objects writes.
	maxDeltaDepth = 4095
	// baseCacheSize bounds the resolved objects kept for their deltas,
	// like git's core.deltaBaseCacheLimit.
	baseCacheSize = 96 << 20
)

// Options bound what Receive accepts.
type Options struct {
	// MaxSize bounds the pack's size in bytes; 0 means no bound.
	MaxSize int64
	// MaxObjects bounds the declared object count; 0 means DefaultMaxObjects.
	MaxObjects uint32
	// MaxDeltaSize bounds objects taking part in deltas; 0 means
	// DefaultMaxDeltaSize.
	MaxDeltaSize int64
	// Progress receives git-style progress lines ("Resolving deltas");
	// nil for none.
	Progress io.Writer
}

// Errors, wrapped with detail.
var (
	// ErrTooLarge: the pack is larger than Options.MaxSize or declares
	// more objects than Options.MaxObjects allows.
	ErrTooLarge = errors.New("pack too large")
	// ErrCorrupt: the pack is cut short, fails its checksum, or holds an
	// object that does not decode or is not well formed.
	ErrCorrupt = errors.New("corrupt pack")
	// ErrMissingObject: a delta base (thin pack) or an object a new tip
	// reaches is neither in the pack nor in the repository.
	ErrMissingObject = errors.New("missing object")
)

// object is what is remembered of one pack entry; it is kept small
// because there is one per object.
type object struct {
	offset  int64         // entry start in the pack
	dataOff int64         // start of the zlib stream
	size    int64         // inflated size of the entry's data (delta data for deltas)
	hash    plumbing.Hash // the object's id, once resolved
	ref     plumbing.Hash // REF_DELTA base id
	base    int32         // index of the delta base once known; -1 otherwise
	crc     uint32        // CRC-32 of the raw entry, for the index
	kind    plumbing.ObjectType
	typ     plumbing.ObjectType // resolved type; 0 while unresolved
	depth   uint16
	// external marks a thin pack's base, taken from the repository;
	// appended says it has since been written at the end of the pack.
	external, appended bool
}

func (o *object) isDelta() bool {
	return o.kind == plumbing.OFSDeltaObject || o.kind == plumbing.REFDeltaObject
}

// Incoming is a received pack waiting in quarantine. It is not safe for
// concurrent use. Always call Abort when done with it; after Install it
// only releases files.
type Incoming struct {
	gitDir string
	tmpDir string
	tmpLck *lockfile.Lock // held while tmpDir is in use (see quarantine.go)
	opts   Options

	pack     *os.File // the quarantined pack, open for reading and fixing
	packSize int64
	objs     []object
	byHash   map[plumbing.Hash]int32
	checksum plumbing.Hash
	ndeltas  int
	local    int // thin-pack bases completed from the repository

	repo  *filesystem.Storage // opened on first use
	cache *baseCache
	main  *worker // inflates for content outside resolve's workers
	// links is what the pack's objects name, checked once by checkLinks.
	links        linkSet
	linksChecked bool
	linksErr     error
	// reach is what the connectivity walks learned, made on first use;
	// scanRepo is the repository as the walks read it.
	reach    *reach
	scanRepo *filesystem.Storage

	installed bool
}

// Receive reads one pack from r into quarantine inside the repository at
// gitDir and indexes it. It asks r for more only while the pack needs
// more bytes, so it never waits for data beyond the pack's end (the client
// waits for our answer there); r may be the protocol's buffered reader.
//
// Errors: ErrTooLarge, ErrCorrupt (including a stream cut short),
// ErrMissingObject (a thin pack's base the repository lacks), ctx's error,
// or an I/O error. On error nothing is left in the repository.
//
// Cancelling ctx is noticed between reads of r; a caller that must
// unblock a stalled read closes the underlying connection.
func Receive(ctx context.Context, gitDir string, r io.Reader, opts Options) (_ *Incoming, err error) {
	if opts.MaxObjects == 0 {
		opts.MaxObjects = DefaultMaxObjects
	}
	if opts.MaxDeltaSize <= 0 {
		opts.MaxDeltaSize = DefaultMaxDeltaSize
	}
	objDir := filepath.Join(gitDir, "objects")
	if fi, err := os.Stat(objDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("pack: %s is not a repository", gitDir)
	}
	tmp, tmpLck, err := makeQuarantine(objDir)
	if err != nil {
		return nil, fmt.Errorf("pack: quarantine: %w", err)
	}
	in := &Incoming{
		gitDir: gitDir,
		tmpDir: tmp,
		tmpLck: tmpLck,
		opts:   opts,
		byHash: make(map[plumbing.Hash]int32),
		cache:  newBaseCache(baseCacheSize),
	}
	defer func() {
		if err != nil {
			in.Abort()
		}
	}()
	in.pack, err = os.OpenFile(filepath.Join(tmp, "incoming.pack"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return nil, fmt.Errorf("pack: quarantine: %w", err)
	}
	if err := in.scan(ctx, r); err != nil {
		return nil, err
	}
	if err := in.resolve(ctx); err != nil {
		return nil, err
	}
	if err := in.completeThin(); err != nil {
		return nil, err
	}
	if len(in.objs) > 0 {
		if err := in.writeIndex(filepath.Join(tmp, "incoming.idx")); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// Len returns the number of objects in the pack, thin-pack bases included.
func (in *Incoming) Len() int { return len(in.objs) }

// Checksum returns the pack's trailing SHA-1, which names it once installed.
func (in *Incoming) Checksum() string { return in.checksum.String() }

// Install moves the pack and then its index into objects/pack, so readers,
// which find packs through their index, never see half of it. A pack of
// no objects installs nothing; a pack of the same name already there is
// kept and ours dropped.
//
// Only a pack whose links all hold is installed (checkLinks, run here if
// CheckConnected has not): the repository never stores an object without
// what it names, even when the push's updates that need the pack are
// refused and others go ahead.
//
// Errors: those of CheckConnected when the links do not hold, or I/O
// errors; after one, nothing new is visible.
func (in *Incoming) Install() error {
	if in.installed {
		return nil
	}
	if len(in.objs) == 0 {
		in.installed = true
		return nil
	}
	// The result is cached; an Install without CheckConnected is for tests
	// and tools, with no cancellation to honour beyond the walk's bounds.
	if err := in.checkLinks(context.Background()); err != nil {
		return fmt.Errorf("pack: not installed: %w", err)
	}
	packDir := filepath.Join(in.gitDir, "objects", "pack")
	if err := os.MkdirAll(packDir, 0o755); err != nil {
		return fmt.Errorf("pack: install: %w", err)
	}
	base := filepath.Join(packDir, "pack-"+in.checksum.String())
	if _, err := os.Stat(base + ".idx"); err == nil {
		// Same checksum, same bytes: someone installed this pack already.
		in.installed = true
		return nil
	}
	if err := in.pack.Sync(); err != nil {
		return fmt.Errorf("pack: install: %w", err)
	}
	if err := os.Rename(filepath.Join(in.tmpDir, "incoming.pack"), base+".pack"); err != nil {
		return fmt.Errorf("pack: install: %w", err)
	}
	if err := os.Rename(filepath.Join(in.tmpDir, "incoming.idx"), base+".idx"); err != nil {
		os.Remove(base + ".pack")
		return fmt.Errorf("pack: install: %w", err)
	}
	in.installed = true
	if d, err := os.Open(packDir); err == nil {
		// The renames are durable only once the directory is synced.
		d.Sync()
		d.Close()
	}
	return nil
}

// Abort removes the quarantine and everything in it and releases files.
// It is safe to call more than once and after Install, whose result it
// leaves alone.
func (in *Incoming) Abort() {
	if in.pack != nil {
		in.pack.Close()
		in.pack = nil
	}
	if in.repo != nil {
		in.repo.Close()
		in.repo = nil
	}
	if in.scanRepo != nil {
		in.scanRepo.Close()
		in.scanRepo = nil
	}
	if in.tmpDir != "" {
		os.RemoveAll(in.tmpDir)
		in.tmpDir = ""
	}
	// Released once the quarantine is gone: a sweep never sees it unheld.
	in.tmpLck.Release()
	in.cache = newBaseCache(0)
}

// repository returns the repository's object store, opened on first use.
func (in *Incoming) repository() *filesystem.Storage {
	if in.repo == nil {
		in.repo = odb.Open(in.gitDir)
	}
	return in.repo
}

// retry runs a lookup in the repository again after a failure other than
// "not found": a pack removed by a concurrent repack between go-git's
// listing and its opening fails the whole lookup and leaves go-git's pack
// list half loaded until Reindex.
func (in *Incoming) retry(f func() error) error {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		if attempt > 0 {
			in.repository().Reindex()
			time.Sleep(time.Duration(attempt*attempt) * 20 * time.Millisecond)
		}
		err = f()
		if err == nil || errors.Is(err, plumbing.ErrObjectNotFound) {
			return err
		}
	}
	return err
}

// lookup reads an object's header from the repository (not the pack).
func (in *Incoming) lookup(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	var eo plumbing.EncodedObject
	err := in.retry(func() (err error) {
		eo, err = in.repository().EncodedObject(t, h)
		return err
	})
	return eo, err
}

// inRepo says whether the repository (not the pack) has the object.
func (in *Incoming) inRepo(h plumbing.Hash) (bool, error) {
	err := in.retry(func() error { return in.repository().HasEncodedObject(h) })
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, plumbing.ErrObjectNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("pack: look up %s: %w", h, err)
	}
}
