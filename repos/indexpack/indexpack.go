// Package indexpack takes in the pack a client sends with a push, the way
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
// Memory is bounded by the number of objects (a small record each), by
// Options.DeltaBaseCacheLimit and by a few objects of at most
// Options.MaxObjectSize per resolving goroutine, never by the pack's size
// or by what its headers claim: the pack itself goes to disk as it
// arrives, blobs are hashed as they stream, and every size is checked
// before memory is allocated for it.
package indexpack

import (
	"context"
	"errors"
	"fmt"
	"gatehouse/repos/lockfile"
	"gatehouse/repos/odb"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// Defaults for the zero Options fields.
const (
	// DefaultMaxObjects bounds the object count a pack header may declare.
	DefaultMaxObjects = 1 << 24
	// DefaultMaxObjectSize bounds one object, blobs included: a file of
	// more than 100 MiB belongs in Git LFS or a release, not in history
	// every clone must carry (GitHub refuses them too).
	DefaultMaxObjectSize = 100 << 20
	// DefaultDeltaBaseCacheLimit bounds the delta bases kept in memory
	// while resolving, like git's core.deltaBaseCacheLimit.
	DefaultDeltaBaseCacheLimit = 96 << 20
)

// Fixed bounds on the objects that are parsed whole (and so held whole),
// whatever Options.MaxObjectSize allows above them.
const (
	// MaxCommitSize bounds a commit or tag. Real ones are kilobytes, a
	// signature adds a few; 4 MiB leaves room for the longest generated
	// messages (squashed histories, changelogs).
	MaxCommitSize = 4 << 20
	// MaxTreeSize bounds a tree, that is one directory listing. An entry
	// takes about 30 bytes plus its name, so 32 MiB is around half a
	// million entries in one directory. It is generous on purpose: a
	// generated directory in a monorepo can hold tens of thousands of
	// files (a few MiB), and refusing a real tree would block a push for
	// good, while a tree of 32 MiB costs no more memory than a blob.
	MaxTreeSize = 32 << 20
	// maxDeltaDepth bounds a chain of deltas: the most git's pack-objects
	// writes (pack.depth is capped at 4095). A deeper chain is refused as
	// corrupt.
	maxDeltaDepth = 4095
	// commitCacheSize bounds the resolved commits kept for the ancestry
	// walks.
	commitCacheSize = 16 << 20
	// repoCacheSize bounds the repository's delta bases kept between
	// the reads of the connectivity walks.
	repoCacheSize = 64 << 20
)

// Options bound what Receive accepts.
type Options struct {
	// MaxSize bounds the pack's size in bytes; 0 means no bound.
	MaxSize int64
	// MaxObjects bounds the declared object count; 0 means DefaultMaxObjects.
	MaxObjects uint32
	// MaxObjectSize bounds the size of one object, whether whole in the
	// pack or rebuilt from a delta, and of a delta's own data; commits,
	// tags and trees are bounded further by MaxCommitSize and
	// MaxTreeSize. Sizes are checked from the entry's header and from the
	// delta's header before anything is allocated or computed. 0 means
	// DefaultMaxObjectSize.
	MaxObjectSize int64
	// DeltaBaseCacheLimit bounds the delta bases kept in memory while
	// resolving, in all (a base over it is still used, alone); 0 means
	// DefaultDeltaBaseCacheLimit.
	DeltaBaseCacheLimit int64
	// Progress receives git-style progress lines ("Resolving deltas");
	// nil for none.
	Progress io.Writer
}

// Errors, wrapped with detail.
var (
	// ErrTooLarge: the pack is larger than Options.MaxSize or declares
	// more objects than Options.MaxObjects allows.
	ErrTooLarge = errors.New("pack too large")
	// ErrObjectTooLarge: an object in the pack, or one a delta would
	// build, is over its size limit (see Options.MaxObjectSize).
	ErrObjectTooLarge = errors.New("object too large")
	// ErrCorrupt: the pack is cut short, fails its checksum, or holds an
	// object that does not decode or is not well formed. It matches
	// odb.ErrCorrupt too.
	ErrCorrupt = odb.CorruptKind("corrupt pack")
	// ErrMissingObject: a delta base (thin pack) or an object a new tip
	// reaches is neither in the pack nor in the repository.
	ErrMissingObject = errors.New("missing object")
)

// object is what is remembered of one pack entry; it is kept small
// because there is one per object (56 bytes).
type object struct {
	offset int64         // entry start in the pack
	size   int64         // inflated size of the entry's data (delta data for deltas)
	hash   plumbing.Hash // the object's id, once resolved
	base   int32         // index of the delta base once known; -1 otherwise
	crc    uint32        // CRC-32 of the raw entry, for the index
	depth  uint16
	kind   plumbing.ObjectType
	typ    plumbing.ObjectType // resolved type; 0 while unresolved
	hdrLen uint8               // the entry header's length: its zlib stream starts after
	// external marks a thin pack's base, taken from the repository;
	// appended says it has since been written at the end of the pack.
	external, appended bool
}

// refBase is a REF_DELTA entry's base, kept apart from object: a push's
// pack names bases by offset (OFS_DELTA) but for a thin pack's few.
type refBase struct {
	obj int32
	id  plumbing.Hash
}

// dataOff is where the entry's zlib stream starts.
func (o *object) dataOff() int64 { return o.offset + int64(o.hdrLen) }

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
	refBases []refBase // the REF_DELTA entries' bases
	byHash   hashIndex
	checksum plumbing.Hash
	ndeltas  int
	local    int // thin-pack bases completed from the repository

	// repo reads the repository's objects (thin-pack bases, the
	// connectivity walks), opened on first use under repoMu.
	repo   *odb.Reader
	repoMu sync.Mutex
	cache  *odb.BaseCache[int32] // by entry: resolved commits, and what content reads
	main   *worker               // inflates for content outside resolve's workers
	// links is what the pack's objects name, checked once by checkLinks.
	links        linkSet
	linksChecked bool
	linksErr     error
	// reach is what the connectivity walks learned, made on first use.
	reach *reach

	installed bool
}

// Receive reads one pack from r into quarantine inside the repository at
// gitDir and indexes it. It returns once the pack is complete, without
// waiting for data beyond its end (the client waits for our answer
// there). r is read in the background as fast as it delivers, up to its
// end (see spool): the caller must not read r again, and bytes after the
// pack are dropped.
//
// Errors: ErrTooLarge, ErrObjectTooLarge, ErrCorrupt (including a stream
// cut short or a delta chain deeper than git writes), ErrMissingObject (a
// thin pack's base the repository lacks), ctx's error, or an I/O error.
// On error nothing is left in the repository.
//
// Cancelling ctx is noticed as the pack is read and, once it is in,
// within about a megabyte of work by every resolving goroutine; a caller
// that must unblock a stalled read closes the underlying connection.
func Receive(ctx context.Context, gitDir string, r io.Reader, opts Options) (_ *Incoming, err error) {
	if opts.MaxObjects == 0 {
		opts.MaxObjects = DefaultMaxObjects
	}
	if opts.MaxObjectSize <= 0 {
		opts.MaxObjectSize = DefaultMaxObjectSize
	}
	if opts.DeltaBaseCacheLimit <= 0 {
		opts.DeltaBaseCacheLimit = DefaultDeltaBaseCacheLimit
	}
	objDir := filepath.Join(gitDir, "objects")
	if fi, err := os.Stat(objDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("pack: %s is not a repository", gitDir)
	}
	tmp, tmpLck, err := lockfile.MakeDir(objDir, quarantinePrefix)
	if err != nil {
		return nil, fmt.Errorf("pack: quarantine: %w", err)
	}
	in := &Incoming{
		gitDir: gitDir,
		tmpDir: tmp,
		tmpLck: tmpLck,
		opts:   opts,
		byHash: newHashIndex(),
		cache:  odb.NewBaseCache[int32](commitCacheSize),
	}
	defer func() {
		if err != nil {
			in.Abort()
		}
	}()
	in.pack, err = os.OpenFile(filepath.Join(tmp, incomingPack), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o444)
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
		base, err := in.placePack()
		if err != nil {
			return nil, err
		}
		if err := in.writeIndex(base + ".idx"); err != nil {
			return nil, err
		}
	}
	// A client gone while the pack was indexed gets nothing installed.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return in, nil
}

// limit returns the largest object of type t accepted; t is a delta's
// type while it is unknown.
func (in *Incoming) limit(t plumbing.ObjectType) int64 {
	switch t {
	case plumbing.CommitObject, plumbing.TagObject:
		return min(MaxCommitSize, in.opts.MaxObjectSize)
	case plumbing.TreeObject:
		return min(MaxTreeSize, in.opts.MaxObjectSize)
	}
	return in.opts.MaxObjectSize
}

// sizeText writes a size the way the limits are given: "512 MiB".
func sizeText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
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
	from := in.quarantinedPack()
	if err := os.Rename(from+".pack", base+".pack"); err != nil {
		return fmt.Errorf("pack: install: %w", err)
	}
	if err := os.Rename(from+".idx", base+".idx"); err != nil {
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

// Abort removes the quarantine and everything in it, releases files and
// drops what it holds in memory; the Incoming is not to be read after.
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
	if in.tmpDir != "" {
		os.RemoveAll(in.tmpDir)
		in.tmpDir = ""
	}
	// Released once the quarantine is gone: a sweep never sees it unheld.
	in.tmpLck.Release()
	in.cache = odb.NewBaseCache[int32](0)
	// What was learned of the objects goes too: a caller may keep the
	// Incoming until its push is over, and a mirror's is megabytes.
	in.objs, in.refBases, in.byHash, in.reach = nil, nil, hashIndex{}, nil
	for i := range in.links.shards {
		in.links.shards[i].m = nil
	}
}

// repository returns the reader of the repository's objects, opened on
// first use and bounded like the pack: no object over
// Options.MaxObjectSize is read. It lists the packs again before
// believing an object missing, since a concurrent repack moves objects
// into new packs and removes the old ones.
func (in *Incoming) repository() *odb.Reader {
	in.repoMu.Lock()
	defer in.repoMu.Unlock()
	if in.repo == nil {
		in.repo = odb.OpenReader(in.gitDir, odb.Limits{MaxObjectSize: in.opts.MaxObjectSize, BaseCacheSize: repoCacheSize})
	}
	return in.repo
}

// inRepo says whether the repository (not the pack) has the object.
func (in *Incoming) inRepo(h plumbing.Hash) (bool, error) {
	ok, err := in.repository().Has(h)
	if err != nil {
		return false, fmt.Errorf("pack: look up %s: %w", h, err)
	}
	return ok, nil
}
