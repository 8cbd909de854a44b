// Package maintain keeps a repository's object store fast to serve: it
// repacks every pack (and loose object) into one, with a reachability
// bitmap, so full clones take repos/uploadpack's bitmap path again after
// many pushes have each added a pack.
//
// A repack never removes an object and never blocks readers or pushes:
// the new pack is installed beside the old ones, which stay until they
// have been superseded for GracePeriod (a reader that opened them before
// may still be using them) and are deleted by a later run.
package maintain

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"gatehouse/repos/bitmap"
	"gatehouse/repos/commitgraph"
	"gatehouse/repos/lockfile"
	"gatehouse/repos/odb"
	"gatehouse/repos/packobjects"
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
	swept, err := sweepPushes(gitDir, true)
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
	tmp     []string // temporary files to remove at the end
	store   *filesystem.Storage
}

func (r *repack) cleanup() {
	for _, p := range r.tmp {
		os.Remove(p)
	}
	if r.store != nil {
		r.store.Close()
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

	r.store = odb.OpenForScan(r.gitDir)
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
	return r.writeCommitGraph(commits)
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

// readTips returns the ids the refs and HEAD point at.
func readTips(gitDir string) ([]plumbing.Hash, error) {
	rs, err := refs.List(gitDir)
	if err != nil {
		return nil, fmt.Errorf("maintain: refs: %w", err)
	}
	var tips []plumbing.Hash
	for _, ref := range rs {
		tips = append(tips, plumbing.NewHash(ref.ID))
	}
	if h, err := refs.ReadHead(gitDir); err == nil && h.ID != "" {
		tips = append(tips, plumbing.NewHash(h.ID))
	}
	return tips, nil
}

// listPacks reads the index of every pack odb.ListPacks lists that has
// no .keep and is not in skip, newest first.
func listPacks(gitDir string, skip map[string]bool) ([]packFile, error) {
	infos, err := odb.ListPacks(gitDir)
	if err != nil {
		return nil, fmt.Errorf("maintain: %w", err)
	}
	var packs []packFile
	for _, info := range infos {
		if info.Keep || skip[info.Name] {
			continue
		}
		x, err := odb.ReadIndex(info.Base() + ".idx")
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("maintain: %w", err)
		}
		packs = append(packs, packFile{name: info.Name, size: info.Size, idx: x})
	}
	return packs, nil
}

// listLoose returns the ids of the loose objects.
func listLoose(gitDir string) ([]plumbing.Hash, error) {
	var ids []plumbing.Hash
	for i := range 256 {
		dir := fmt.Sprintf("%02x", i)
		names, err := os.ReadDir(filepath.Join(gitDir, "objects", dir))
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("maintain: loose objects: %w", err)
		}
		for _, n := range names {
			if len(n.Name()) == 38 && isHex(n.Name()) && n.Type().IsRegular() {
				ids = append(ids, plumbing.NewHash(dir+n.Name()))
			}
		}
	}
	return ids, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// history reads the commits reachable from tips, newest first, the
// annotated tags on the way, and the tips that are (or peel to) commits.
func (r *repack) history(tips []plumbing.Hash) (commits []bitmap.Commit, tags []plumbing.Hash, tipCommits []plumbing.Hash, err error) {
	seen := make(map[plumbing.Hash]bool)
	var queue commitQueue
	push := func(id plumbing.Hash) error {
		if seen[id] {
			return nil
		}
		seen[id] = true
		o, err := r.store.EncodedObject(plumbing.CommitObject, id)
		if err != nil {
			return fmt.Errorf("maintain: commit %s: %w", id, err)
		}
		c, err := object.DecodeCommit(r.store, o)
		if err != nil {
			return fmt.Errorf("maintain: commit %s: %w", id, err)
		}
		queue.push(bitmap.Commit{ID: id, Tree: c.TreeHash, Parents: c.ParentHashes, Time: c.Committer.When.Unix()})
		return nil
	}
	tipSeen := make(map[plumbing.Hash]bool)
	for _, id := range tips {
		// Peel annotated tags down to what they name.
		for depth := 0; ; depth++ {
			o, err := r.store.EncodedObject(plumbing.AnyObject, id)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("maintain: ref tip %s: %w", id, err)
			}
			if o.Type() != plumbing.TagObject || depth > 16 {
				if o.Type() == plumbing.CommitObject {
					if !tipSeen[id] {
						tipSeen[id] = true
						tipCommits = append(tipCommits, id)
					}
					if err := push(id); err != nil {
						return nil, nil, nil, err
					}
				}
				break
			}
			if !seen[id] {
				seen[id] = true
				tags = append(tags, id)
			}
			t, err := object.DecodeTag(r.store, o)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("maintain: tag %s: %w", id, err)
			}
			id = t.Target
		}
	}
	for n := 0; queue.Len() > 0; n++ {
		if n%256 == 0 {
			if err := r.ctx.Err(); err != nil {
				return nil, nil, nil, err
			}
		}
		c := queue.pop()
		commits = append(commits, c)
		for _, p := range c.Parents {
			if err := push(p); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	return commits, tags, tipCommits, nil
}

// commitQueue pops the newest commit first.
type commitQueue []bitmap.Commit

func (q commitQueue) Len() int { return len(q) }

func (q *commitQueue) push(c bitmap.Commit) {
	*q = append(*q, c)
	s := *q
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].Time >= s[i].Time {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (q *commitQueue) pop() bitmap.Commit {
	s := *q
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(s) && s[l].Time > s[m].Time {
			m = l
		}
		if l+1 < len(s) && s[l+1].Time > s[m].Time {
			m = l + 1
		}
		if m == i {
			break
		}
		s[m], s[i] = s[i], s[m]
		i = m
	}
	*q = s
	return top
}

// writeOrder lists every object once in the order of the new pack: the
// commits newest first, the annotated tags, then the rest as the old
// packs hold it (newest pack first, by offset), then loose objects. A
// client cloning reads the recent history first and in one sweep.
//
// Errors: an object of the history in none of the listed packs (a pack
// removed under us by something else than this package).
func writeOrder(commits []bitmap.Commit, tags []plumbing.Hash, packs []packFile, loose []plumbing.Hash) ([]plumbing.Hash, error) {
	type keyed struct {
		id     plumbing.Hash
		key    uint64
		listed bool
	}
	total := len(commits) + len(tags) + len(loose)
	for _, p := range packs {
		total += p.idx.Len()
	}
	all := make([]keyed, 0, total)
	for i, c := range commits {
		all = append(all, keyed{id: c.ID, key: uint64(i)})
	}
	for i, t := range tags {
		all = append(all, keyed{id: t, key: uint64(len(commits) + i)})
	}
	seq := uint64(1) << 40
	for _, p := range packs {
		rev, err := odb.NewRevIndex(p.idx, uint64(p.size))
		if err != nil {
			return nil, fmt.Errorf("maintain: %s: %w", p.name, err)
		}
		for rank := range rev.Len() {
			all = append(all, keyed{id: p.idx.ID(int(rev.Pos(rank))), key: seq, listed: true})
			seq++
		}
	}
	for _, id := range loose {
		all = append(all, keyed{id: id, key: seq, listed: true})
		seq++
	}
	slices.SortFunc(all, func(a, b keyed) int {
		if c := bytes.Compare(a.id[:], b.id[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
	// Keep each id once, at its smallest key, if some pack has it.
	out := all[:0]
	for i := 0; i < len(all); {
		j, listed := i, false
		for ; j < len(all) && all[j].id == all[i].id; j++ {
			listed = listed || all[j].listed
		}
		if !listed {
			return nil, fmt.Errorf("maintain: object %s reachable from the refs is in none of the packs", all[i].id)
		}
		out = append(out, all[i])
		i = j
	}
	slices.SortFunc(out, func(a, b keyed) int { return cmp.Compare(a.key, b.key) })
	ids := make([]plumbing.Hash, len(out))
	for i, k := range out {
		ids[i] = k.id
	}
	return ids, nil
}

// tempFile creates a temporary file in objects/pack, removed at the end
// unless renamed into place.
func (r *repack) tempFile(suffix string) (*os.File, error) {
	f, err := os.CreateTemp(r.packDir, tmpPrefix+"*"+suffix)
	if err != nil {
		return nil, fmt.Errorf("maintain: %w", err)
	}
	r.tmp = append(r.tmp, f.Name())
	return f, nil
}

// writePack writes the new pack to a temporary file.
func (r *repack) writePack(order []plumbing.Hash) (string, []packobjects.Placed, error) {
	f, err := r.tempFile(".pack")
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	placed, ws, err := packobjects.WriteOrdered(r.ctx, r.gitDir, order, f)
	if err != nil {
		return "", nil, fmt.Errorf("maintain: write pack: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", nil, fmt.Errorf("maintain: write pack: %w", err)
	}
	r.stats.Objects, r.stats.Bytes = ws.Objects, ws.Bytes
	r.stats.Reused, r.stats.Deltas, r.stats.Recompress = ws.Reused, ws.ReusedDeltas, ws.Recompressed
	return f.Name(), placed, nil
}

// scanPack reads the pack just written once, front to back: the CRC-32
// of every entry for the index, and every object's type for the bitmap
// (a delta's is its base's, which comes before it). It returns the
// objects in pack order, their CRCs, and the pack's checksum.
func scanPack(path string, placed []packobjects.Placed) ([]bitmap.PackObject, []uint32, plumbing.Hash, error) {
	var sum plumbing.Hash
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, sum, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, sum, err
	}
	size := uint64(fi.Size())
	if size < 32 {
		return nil, nil, sum, fmt.Errorf("maintain: pack too short")
	}
	if _, err := f.ReadAt(sum[:], int64(size-20)); err != nil {
		return nil, nil, sum, err
	}
	bad := func(off uint64, what string) error {
		return fmt.Errorf("maintain: new pack: entry at %d: %s", off, what)
	}
	objs := make([]bitmap.PackObject, len(placed))
	crcs := make([]uint32, len(placed))
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, int64(size-20)), 1<<20)
	var hdr [12]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, nil, sum, err
	}
	if string(hdr[:4]) != "PACK" || binary.BigEndian.Uint32(hdr[8:]) != uint32(len(placed)) {
		return nil, nil, sum, fmt.Errorf("maintain: new pack: bad header")
	}
	pos := uint64(12)
	crc := crc32.NewIEEE()
	for i, p := range placed {
		end := size - 20
		if i+1 < len(placed) {
			end = placed[i+1].Offset
		}
		if p.Offset != pos || end <= pos {
			return nil, nil, sum, bad(p.Offset, "not where the writer said")
		}
		b, _ := br.Peek(int(min(end-pos, 32)))
		typ, rel, err := entryType(b)
		if err != nil {
			return nil, nil, sum, bad(p.Offset, err.Error())
		}
		if rel != 0 {
			j, ok := slices.BinarySearchFunc(placed[:i], p.Offset-rel, func(q packobjects.Placed, off uint64) int {
				return cmp.Compare(q.Offset, off)
			})
			if !ok || rel > p.Offset {
				return nil, nil, sum, bad(p.Offset, "delta base not found")
			}
			typ = objs[j].Type
		}
		objs[i] = bitmap.PackObject{ID: p.ID, Type: typ}
		crc.Reset()
		if _, err := io.CopyN(crc, br, int64(end-pos)); err != nil {
			return nil, nil, sum, err
		}
		crcs[i] = crc.Sum32()
		pos = end
	}
	return objs, crcs, sum, nil
}

// entryType parses an entry header: its type, or for an OFS_DELTA the
// distance back to its base.
func entryType(b []byte) (plumbing.ObjectType, uint64, error) {
	if len(b) == 0 {
		return 0, 0, errors.New("empty")
	}
	i := 0
	c := b[i]
	i++
	typ := plumbing.ObjectType((c >> 4) & 7)
	for c&0x80 != 0 {
		if i >= len(b) {
			return 0, 0, errors.New("bad size")
		}
		c = b[i]
		i++
	}
	switch typ {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
		return typ, 0, nil
	case plumbing.OFSDeltaObject:
		if i >= len(b) {
			return 0, 0, errors.New("cut short")
		}
		c = b[i]
		i++
		rel := uint64(c & 0x7f)
		for c&0x80 != 0 {
			if i >= len(b) || rel >= 1<<56 {
				return 0, 0, errors.New("bad base offset")
			}
			c = b[i]
			i++
			rel = (rel+1)<<7 | uint64(c&0x7f)
		}
		if rel == 0 {
			return 0, 0, errors.New("bad base offset")
		}
		return 0, rel, nil
	}
	return 0, 0, fmt.Errorf("unexpected entry type %d", typ)
}

func (r *repack) writeIndex(placed []packobjects.Placed, crcs []uint32, sum plumbing.Hash) (string, error) {
	f, err := r.tempFile(".idx")
	if err != nil {
		return "", err
	}
	defer f.Close()
	entry := func(i int) odb.IndexEntry {
		return odb.IndexEntry{ID: placed[i].ID, CRC: crcs[i], Offset: placed[i].Offset}
	}
	if err := odb.WriteIndex(f, len(placed), entry, sum); err != nil {
		return "", fmt.Errorf("maintain: write index: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("maintain: write index: %w", err)
	}
	return f.Name(), nil
}

func (r *repack) writeBitmap(objs []bitmap.PackObject, sum plumbing.Hash, commits []bitmap.Commit, tips []plumbing.Hash) (string, error) {
	f, err := r.tempFile(".bitmap")
	if err != nil {
		return "", err
	}
	defer f.Close()
	in := bitmap.Input{Objects: objs, Checksum: sum, Commits: commits, Tips: tips, ReadTree: r.readTree}
	bs, err := bitmap.Write(r.ctx, f, in)
	if err != nil {
		return "", fmt.Errorf("maintain: write bitmap: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("maintain: write bitmap: %w", err)
	}
	r.stats.Bitmaps = bs.Selected
	return f.Name(), nil
}

// readTree reads a tree's raw content from the old packs (the new one is
// not installed yet; they hold the same objects).
func (r *repack) readTree(id plumbing.Hash, buf []byte) ([]byte, error) {
	o, err := r.store.EncodedObject(plumbing.TreeObject, id)
	if err != nil {
		return nil, err
	}
	rd, err := o.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	buf = slices.Grow(buf[:0], int(o.Size()))[:o.Size()]
	if _, err := io.ReadFull(rd, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// install renames the new files into place, pack first and bitmap last,
// removes every other bitmap, and records the old packs as superseded.
func (r *repack) install(sum plumbing.Hash, packPath, idxPath, bmPath string, old []packFile) error {
	name := "pack-" + sum.String()
	base := filepath.Join(r.packDir, name)
	if _, err := os.Stat(base + ".idx"); err == nil {
		// The same pack is there already (nothing changed since the
		// last repack): only its bitmap is replaced.
		if err := os.Rename(bmPath, base+".bitmap"); err != nil {
			return fmt.Errorf("maintain: install: %w", err)
		}
	} else {
		if err := os.Rename(packPath, base+".pack"); err != nil {
			return fmt.Errorf("maintain: install: %w", err)
		}
		if err := os.Rename(idxPath, base+".idx"); err != nil {
			os.Remove(base + ".pack")
			return fmt.Errorf("maintain: install: %w", err)
		}
		if err := os.Rename(bmPath, base+".bitmap"); err != nil {
			return fmt.Errorf("maintain: install: %w", err)
		}
	}
	if infos, err := odb.ListPacks(r.gitDir); err == nil {
		for _, info := range infos {
			if info.Bitmap && info.Name != name {
				os.Remove(info.Base() + ".bitmap")
			}
		}
	}
	syncDir(r.packDir)
	r.stats.Pack = name

	var names []string
	for _, p := range old {
		if p.name != name {
			names = append(names, p.name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	recs, err := readSuperseded(r.packDir)
	if err != nil {
		return err
	}
	for i := range recs {
		// A pack written again is live again.
		recs[i].packs = slices.DeleteFunc(recs[i].packs, func(p string) bool { return p == name })
	}
	recs = append(recs, superseded{at: time.Now(), by: name, packs: names})
	return writeSuperseded(r.packDir, recs)
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// superseded records one repack: when, its pack, the packs it replaced.
// The file holds one line per record: "UNIX-TIME NEW OLD...".
type superseded struct {
	at    time.Time
	by    string
	packs []string
}

// replaced returns the superseded packs whose superseding pack is still
// there: it holds all their objects, so they need no repacking.
func replaced(packDir string, recs []superseded) map[string]bool {
	m := make(map[string]bool)
	for _, rec := range recs {
		if _, err := os.Stat(filepath.Join(packDir, rec.by+".idx")); err != nil {
			continue
		}
		for _, p := range rec.packs {
			m[p] = true
		}
	}
	return m
}

func readSuperseded(packDir string) ([]superseded, error) {
	data, err := os.ReadFile(filepath.Join(packDir, supersededName))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("maintain: %w", err)
	}
	var recs []superseded
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		t, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || !validPackName(f[1]) {
			continue
		}
		rec := superseded{at: time.Unix(t, 0), by: f[1]}
		for _, p := range f[2:] {
			if validPackName(p) {
				rec.packs = append(rec.packs, p)
			}
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// validPackName accepts "pack-" and 40 hex digits only, so a damaged
// record cannot name another file.
func validPackName(s string) bool {
	h, ok := strings.CutPrefix(s, "pack-")
	return ok && len(h) == 40 && isHex(h)
}

func writeSuperseded(packDir string, recs []superseded) error {
	path := filepath.Join(packDir, supersededName)
	if len(recs) == 0 {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("maintain: %w", err)
		}
		return nil
	}
	var b strings.Builder
	for _, rec := range recs {
		fmt.Fprintf(&b, "%d %s %s\n", rec.at.Unix(), rec.by, strings.Join(rec.packs, " "))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("maintain: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("maintain: %w", err)
	}
	return nil
}

// expire deletes the packs superseded more than GracePeriod ago, and the
// loose objects their superseding pack holds, and removes temporary
// files a killed run left. It returns how many packs it deleted.
func (r *repack) expire() (int, error) {
	// The lock is ours: no other run is writing these.
	for _, t := range repackTemps(r.gitDir) {
		os.Remove(t.Path)
	}
	recs, err := readSuperseded(r.packDir)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	now := time.Now()
	var keep []superseded
	removed := 0
	for _, rec := range recs {
		if now.Sub(rec.at) < GracePeriod {
			keep = append(keep, rec)
			continue
		}
		for _, p := range rec.packs {
			base := filepath.Join(r.packDir, p)
			if _, err := os.Stat(base + ".pack"); err == nil {
				removed++
			}
			// Index first: readers find packs through it.
			for _, ext := range []string{".idx", ".bitmap", ".rev", ".pack"} {
				if err := os.Remove(base + ext); err != nil && !os.IsNotExist(err) {
					return removed, fmt.Errorf("maintain: remove %s: %w", p+ext, err)
				}
			}
		}
		if err := r.pruneLoose(rec.by); err != nil {
			return removed, err
		}
	}
	if removed > 0 {
		syncDir(r.packDir)
	}
	return removed, writeSuperseded(r.packDir, keep)
}

// pruneLoose deletes the loose objects that pack holds (git's
// prune-packed), once that pack has been there for the grace period.
func (r *repack) pruneLoose(pack string) error {
	x, err := odb.ReadIndex(filepath.Join(r.packDir, pack+".idx"))
	if err != nil {
		return nil // superseded in turn and gone, or never installed
	}
	loose, err := listLoose(r.gitDir)
	if err != nil {
		return err
	}
	for _, id := range loose {
		if _, ok := x.Find(id); ok {
			s := id.String()
			os.Remove(filepath.Join(r.gitDir, "objects", s[:2], s[2:]))
		}
	}
	return nil
}
