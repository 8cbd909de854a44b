// Package maintain keeps a repository's object store fast to serve: it
// repacks every pack (and loose object) into one, with a reachability
// bitmap, so full clones take repos/uploadpack's bitmap path again after
// many pushes have each added a pack, and packs the loose refs into
// packed-refs, so that advertisements read one file.
//
// A repack never removes an object and never blocks readers or pushes:
// the new pack is installed beside the old ones, which stay until they
// have been superseded for GracePeriod (a reader that opened them before
// may still be using them) and are deleted by a later run.
package maintain

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/bitmap"
	"gatehouse/repos/commitgraph"
	"gatehouse/repos/lockfile"
	"gatehouse/repos/odb"
	"gatehouse/repos/refs"
)

// GracePeriod is how long a superseded pack is kept for the readers that
// opened it before the repack. A variable for tests.
var GracePeriod = 15 * time.Minute

// ErrBusy reports that a repack of the repository is already running.
var ErrBusy = errors.New("another repack is running")

// Files of ours in objects/pack (none matches pack-*, which is all git
// and the rest of the server look at there).
const (
	// lockName is locked (repos/lockfile) by the repack running in the
	// repository, in this process or another, and removed when it ends;
	// one left by a killed repack is taken over at once.
	lockName       = "gatehouse-maintain.lock" // in the repository
	supersededName = "gatehouse-superseded"
	tmpPrefix      = ".tmp-repack-"
)

// What the repack's walk holds in memory.
const (
	// maxHeld bounds a commit, tag or tree read whole; real ones are far
	// smaller, so it only refuses a damaged size before it is allocated.
	maxHeld = odb.DefaultMaxObjectSize
	// scanCacheSize bounds the delta bases kept between the walk's reads.
	scanCacheSize = 64 << 20
)

// Stats says what a repack did.
type Stats struct {
	Pack    string `json:"pack,omitempty"` // "pack-<checksum>", "" if nothing was written
	PacksIn int    `json:"packs_in"`       // packs repacked
	LooseIn int    `json:"loose_in"`       // loose objects packed
	Objects int    `json:"objects"`        // in the new pack
	Bytes   int64  `json:"bytes"`          // size of the new pack
	Commits int    `json:"commits"`        // reachable from the refs
	Bitmaps int    `json:"bitmaps"`        // commits given a bitmap
	// CommitGraph says objects/info/commit-graph was written.
	CommitGraph bool `json:"commit_graph"`
	RefsPacked  int  `json:"refs_packed"`   // loose refs moved into packed-refs
	Reused      int  `json:"reused"`        // entries copied whole
	Deltas      int  `json:"reused_deltas"` // deltas copied
	Recompress  int  `json:"recompressed"`  // objects compressed again
	Removed     int  `json:"removed"`       // old packs deleted (superseded long enough)
	// Swept counts what dead pushes left and this run removed (see Sweep).
	Swept    int           `json:"swept"`
	Duration time.Duration `json:"duration_ns"`
}

// testHookListed, when set, runs after the packs to repack are listed.
var testHookListed func(gitDir string)

// Repack writes one pack holding every object of gitDir's packs and
// loose objects, with its index and a bitmap, and installs it (pack, then
// index, then bitmap; the other bitmaps are removed as it arrives). Old
// packs are recorded as superseded and deleted by a run at least
// GracePeriod later; this run deletes those superseded long enough.
//
// Refs are read at the start and only guide the order of the pack and
// the choice of bitmapped commits; pushes may go on meanwhile, and their
// packs are left alone. Packs with a .keep file are not repacked.
//
// Errors: ErrBusy when another Repack of gitDir runs (in this process or
// another: the lock file is held); ctx.Err(); I/O errors; errors of a
// damaged repository. After an error nothing changed but the deletion of
// expired packs and of what dead pushes and repacks left (see Sweep);
// temporary files are removed.
func Repack(ctx context.Context, gitDir string) (Stats, error) {
	start := time.Now()
	lock, err := lockfile.TryLockFile(filepath.Join(gitDir, lockName))
	if errors.Is(err, lockfile.ErrBusy) {
		return Stats{}, ErrBusy
	}
	if err != nil {
		return Stats{}, fmt.Errorf("maintain: %w", err)
	}
	defer lock.Release()

	r := &repack{ctx: ctx, gitDir: gitDir, packDir: filepath.Join(gitDir, "objects", "pack")}
	defer r.cleanup()
	swept, err := sweepPushes(gitDir)
	r.stats.Swept = len(swept)
	if err != nil {
		return r.stats, err
	}
	removed, err := r.expire()
	r.stats.Removed = removed
	if err != nil {
		return r.stats, err
	}
	err = r.run()
	r.stats.Duration = time.Since(start)
	return r.stats, err
}

type repack struct {
	ctx     context.Context
	gitDir  string
	packDir string
	stats   Stats
	tmp     []string    // temporary files to remove at the end
	objects *odb.Reader // the repository's objects, for the walk
}

func (r *repack) cleanup() {
	for _, p := range r.tmp {
		os.Remove(p)
	}
	if r.objects != nil {
		r.objects.Close()
	}
}

// packFile is one pack being repacked.
type packFile struct {
	name string // "pack-<checksum>"
	size int64  // of the .pack file
	idx  *odb.Index
}

func (r *repack) run() error {
	// Refs first: every object they reach was installed before they
	// were updated, so it is in the packs listed next.
	tips, err := readTips(r.gitDir)
	if err != nil {
		return err
	}
	recs, err := readSuperseded(r.packDir)
	if err != nil {
		return err
	}
	packs, err := listPacks(r.gitDir, replaced(r.packDir, recs))
	if err != nil {
		return err
	}
	loose, err := listLoose(r.gitDir)
	if err != nil {
		return err
	}
	r.stats.PacksIn, r.stats.LooseIn = len(packs), len(loose)
	if testHookListed != nil {
		testHookListed(r.gitDir)
	}
	total := len(loose)
	for _, p := range packs {
		total += p.idx.Len()
	}
	if total == 0 {
		return nil
	}

	// Sizes are bounded by readHeld where objects are held; the tips
	// are only typed, whatever their size.
	r.objects = odb.OpenReader(r.gitDir, odb.Limits{MaxObjectSize: math.MaxInt64, BaseCacheSize: scanCacheSize})
	commits, tags, tipCommits, err := r.history(tips)
	if err != nil {
		return err
	}
	r.stats.Commits = len(commits)
	order, err := writeOrder(commits, tags, packs, loose)
	if err != nil {
		return err
	}

	packPath, placed, err := r.writePack(order)
	if err != nil {
		return err
	}
	order = nil
	objs, crcs, sum, err := scanPack(packPath, placed)
	if err != nil {
		return err
	}
	idxPath, err := r.writeIndex(placed, crcs, sum)
	if err != nil {
		return err
	}
	placed, crcs = nil, nil
	bmPath, err := r.writeBitmap(objs, sum, commits, tipCommits)
	if err != nil {
		return err
	}
	if err := r.install(sum, packPath, idxPath, bmPath, packs); err != nil {
		return err
	}
	if err := r.writeCommitGraph(commits); err != nil {
		return err
	}
	return r.packRefs()
}

// packRefs moves the loose refs into packed-refs, as git's gc does with
// pack-refs --all --prune, so that advertisements read one file. Pushes
// go on meanwhile (see refs.Pack); if packed-refs stays locked by one,
// the refs are left loose for the next repack.
func (r *repack) packRefs() error {
	n, err := refs.Pack(r.gitDir, func(id string) (string, error) {
		t, err := r.objects.Peel(plumbing.NewHash(id))
		if err != nil || t.IsZero() {
			return "", err
		}
		return t.String(), nil
	})
	r.stats.RefsPacked = n
	if err != nil && !errors.Is(err, refs.ErrLocked) {
		return fmt.Errorf("maintain: %w", err)
	}
	return nil
}

// writeCommitGraph replaces the commit-graph with one of the commits the
// refs reach (closed under parents, as the file must be), so walks over
// history read commits' parents, trees and dates without inflating them.
func (r *repack) writeCommitGraph(commits []bitmap.Commit) error {
	if len(commits) == 0 {
		return nil
	}
	cg := make([]commitgraph.Commit, len(commits))
	for i, c := range commits {
		cg[i] = commitgraph.Commit{ID: c.ID, Tree: c.Tree, Parents: c.Parents, When: c.Time}
	}
	if err := commitgraph.Write(r.gitDir, cg); err != nil {
		return fmt.Errorf("maintain: %w", err)
	}
	r.stats.CommitGraph = true
	return nil
}
