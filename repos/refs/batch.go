package refs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ErrAborted: an update of an atomic batch that was itself fine, not made
// because another update of the batch failed.
var ErrAborted = errors.New("atomic transaction aborted")

// packedCreates is how many refs a batch must create, at least, for them
// to go into packed-refs (when BatchOptions.Peel is set) rather than into
// a loose file each: one file written and synced instead of thousands,
// and nothing left for the next Pack to do.
var packedCreates = 100

// BatchOptions adjust ApplyBatch.
type BatchOptions struct {
	// Atomic: every update is made, or none (see ApplyBatch).
	Atomic bool
	// Peel, when set, lets a batch that creates at least packedCreates
	// refs (a mirror push) write the created refs straight into
	// packed-refs, each annotated tag with its peeled value, so the file
	// stays fully peeled.
	Peel Peeler
}

// ApplyBatch makes updates as one batch, in phases as git's ref
// transactions do. First each update, in name order, takes its
// "<ref>.lock" exclusively and, unless it deletes or goes to
// packed-refs, has its new value written to the lock file. Once every
// lock is held, the current values are checked against Old (packed-refs
// read again only if it changed on disk since the batch began). Then the
// lock files written are synced; packed-refs is rewritten once, holding
// packed-refs.lock, without the deleted refs and with the created ones
// that go there; the lock files are renamed into place; and the deleted
// loose refs and the locks of the packed ones are removed (the
// directories made for those locks are left for Pack).
//
// A created ref goes into packed-refs when opts.Peel is set and the batch
// creates at least packedCreates refs. Its own lock is held until
// packed-refs is in place, so a concurrent update of the same name (by
// this package or by git) either sees it or fails. If packed-refs stays
// locked longer than git would wait, they are written loose instead.
//
// In a repository with no ref at all, a batch that only creates refs
// and would write them into packed-refs takes no lock per ref (see
// initialBatch).
//
// The refs are listed and packed-refs read once per batch, so a batch of
// n updates costs O(n log n), not a listing per update.
//
// It returns one error per update, nil for those made. An update that
// fails changes nothing; the others go ahead, unless opts.Atomic: then
// the first failure releases every lock taken, the failing updates keep
// their errors, the rest get ErrAborted, and nothing changed. The errors
// are those of Apply, or an I/O error.
func ApplyBatch(gitDir string, us []Update, opts BatchOptions) []error {
	return ApplyBatchFunc(gitDir, len(us), func(i int) Update { return us[i] }, opts)
}

// ApplyBatchFunc is ApplyBatch of the n updates update(0) to
// update(n-1), which it asks for as it needs them, so that a caller
// holding its updates in another form (a push's commands) need not copy
// them all into a slice. update(i) must return the same update each time.
func ApplyBatchFunc(gitDir string, n int, update func(i int) Update, opts BatchOptions) []error {
	errs := make([]error, n)
	order := make([]int32, n)
	creates := 0
	for i := range n {
		order[i] = int32(i)
		if u := update(i); u.Old == ZeroID && u.New != ZeroID {
			creates++
		}
	}
	// One lock order for every batch, so that two atomic batches over the
	// same refs cannot each hold a lock the other waits for.
	slices.SortStableFunc(order, func(a, b int32) int { return strings.Compare(update(int(a)).Name, update(int(b)).Name) })
	toPacked := opts.Peel != nil && creates >= packedCreates

	snap, err := newSnapshot(gitDir)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	if toPacked && creates == n && len(snap.names) == 0 && len(snap.packed) == 0 {
		if initialBatch(gitDir, order, update, snap, opts, errs) {
			return errs
		}
		clear(errs)
		snap.created = nil
	}
	held := make([]heldRef, 0, n)
	lockPath := func(h *heldRef) string { return refPath(gitDir, update(int(h.index)).Name) + ".lock" }
	release := func() {
		for i := range held {
			os.Remove(lockPath(&held[i]))
		}
	}
	abort := func() []error {
		release()
		for i := range errs {
			if errs[i] == nil {
				errs[i] = ErrAborted
			}
		}
		return errs
	}
	// drop fails the held updates for which fail is true, releasing
	// their locks; atomic, it aborts the batch instead (done).
	drop := func(fail func(h *heldRef) error) (done bool) {
		kept := held[:0]
		for i := range held {
			h := &held[i]
			if err := fail(h); err != nil {
				errs[h.index] = err
				os.Remove(lockPath(h))
				continue
			}
			kept = append(kept, *h)
		}
		if opts.Atomic && len(kept) < len(held) {
			held = held[:len(kept)] // the others' locks are gone already
			return true
		}
		held = kept
		return false
	}

	for _, i := range order {
		u := update(int(i))
		h, err := snap.lock(u, toPacked && u.Old == ZeroID && u.New != ZeroID)
		if err != nil {
			errs[i] = err
			if opts.Atomic {
				return abort()
			}
			continue
		}
		h.index = i
		held = append(held, h)
	}

	// Every lock is held: the refs without a loose file are at their
	// packed-refs value as it is now.
	if err := snap.refreshPacked(); err != nil {
		if drop(func(*heldRef) error { return err }) {
			return abort()
		}
	}
	if drop(func(h *heldRef) error {
		u := update(int(h.index))
		cur := h.cur
		if cur == "" {
			cur = snap.packedID(u.Name)
		}
		if cur != u.Old {
			return fmt.Errorf("%w: %s is at %s, not %s", ErrStale, u.Name, short(cur), short(u.Old))
		}
		return nil
	}) {
		return abort()
	}

	// The new refs of packed-refs are peeled first, each distinct value
	// once; one whose value cannot be peeled is written loose. They are
	// not gathered into a list: created yields them, in name order, as
	// packed-refs is written.
	var deleted []string
	peeled := newPeelCache(opts.Peel)
	nCreated := 0
	for i := range held {
		h := &held[i]
		u := update(int(h.index))
		switch {
		case h.delete:
			deleted = append(deleted, u.Name)
		case h.packed:
			if peeled.add(u.New) != nil {
				h.packed = false
				continue
			}
			nCreated++
		}
	}
	created := func(yield func(Ref) bool) {
		for i := range held {
			if h := &held[i]; h.packed {
				if !yield(peeled.ref(update(int(h.index)))) {
					return
				}
			}
		}
	}

	// packed-refs is locked before anything moves, and stays locked until
	// the deleted loose files are gone too, as git keeps it, so that Pack
	// cannot put a ref being deleted back into it meanwhile.
	var pl *packedLock
	if len(deleted)+nCreated > 0 {
		pl, err = lockPacked(gitDir)
		if err == nil {
			defer pl.unlock()
		} else {
			// The created refs go loose; the deletes cannot be made.
			if drop(func(h *heldRef) error {
				if h.delete {
					return err
				}
				if h.packed {
					h.packed = false
				}
				return nil
			}) {
				return abort()
			}
		}
	}
	if drop(func(h *heldRef) error {
		if h.delete || h.packed || h.written {
			return nil
		}
		if err := writeLock(lockPath(h), update(int(h.index)).New); err != nil {
			return err
		}
		h.written = true
		return nil
	}) {
		return abort()
	}

	if err := syncWritten(gitDir, held, lockPath); err != nil {
		if drop(func(h *heldRef) error {
			if h.written {
				return fmt.Errorf("refs: sync: %w", err)
			}
			return nil
		}) {
			return abort()
		}
	}
	if pl != nil {
		if err := pl.update(deleted, created, opts.Peel); err != nil {
			if drop(func(h *heldRef) error {
				if h.delete || h.packed {
					return err
				}
				return nil
			}) {
				return abort()
			}
		}
	}

	for _, h := range held {
		u := update(int(h.index))
		path := refPath(gitDir, u.Name)
		lock := path + ".lock"
		switch {
		case h.delete:
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs[h.index] = fmt.Errorf("refs: delete %s: %w", u.Name, err)
			}
			os.Remove(lock)
			pruneDirs(gitDir, filepath.Dir(path))
		case h.packed:
			// The directories made for the locks stay, empty, for Pack to
			// remove: thousands of rmdirs (refs/pull/N/) would cost the
			// push more than the files did.
			os.Remove(lock)
		default:
			if err := os.Rename(lock, path); err != nil {
				os.Remove(lock)
				errs[h.index] = fmt.Errorf("refs: update %s: %w", u.Name, err)
			}
		}
	}
	return errs
}

// peelCache peels each distinct new value of a batch's packed creates
// once: a mirror's refs name far fewer objects than there are refs.
type peelCache struct {
	peel Peeler
	ids  map[string]string
}

func newPeelCache(peel Peeler) *peelCache {
	return &peelCache{peel: peel, ids: make(map[string]string)}
}

// add peels id, unless it was already.
func (c *peelCache) add(id string) error {
	if _, ok := c.ids[id]; ok {
		return nil
	}
	p, err := c.peel(id)
	if err != nil {
		return err
	}
	c.ids[id] = p
	return nil
}

// ref is u's entry in packed-refs; its new value was added.
func (c *peelCache) ref(u Update) Ref {
	return Ref{Name: u.Name, ID: u.New, Peeled: c.ids[u.New], KnowsPeeled: true}
}

// heldRef is an update whose lock is taken. Its name and paths come
// from the update when used, not held: a batch can have 100,000 of them.
type heldRef struct {
	index   int32 // of the update
	delete  bool
	packed  bool   // created into packed-refs: the lock file stays empty
	written bool   // the new value is in the lock file
	cur     string // the loose ref's value; "" when there is no loose file
}

// refPath is the loose file of the ref name.
func refPath(gitDir, name string) string {
	return filepath.Join(gitDir, filepath.FromSlash(name))
}

// snapshot is what a batch knows of the refs: their names when it
// started, and packed-refs as last read.
type snapshot struct {
	gitDir  string
	names   []string    // every ref at the start, sorted
	created []string    // the refs this batch creates, sorted (made in name order)
	packed  []Ref       // packed-refs, sorted
	stat    fs.FileInfo // packed-refs when read; nil if absent
}

func newSnapshot(gitDir string) (*snapshot, error) {
	s := &snapshot{gitDir: gitDir}
	for r, err := range Each(gitDir) {
		if err != nil {
			return nil, err
		}
		s.names = append(s.names, r.Name)
	}
	if err := s.loadPacked(); err != nil {
		return nil, err
	}
	return s, nil
}

// loadPacked (re)reads packed-refs, noting the file it read.
func (s *snapshot) loadPacked() error {
	path := filepath.Join(s.gitDir, "packed-refs")
	st, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("refs: packed-refs: %w", err)
	}
	rs, err := readPackedFile(s.gitDir)
	if err != nil {
		return err
	}
	s.stat, s.packed = st, rs
	return nil
}

// refreshPacked reads packed-refs again if it was replaced since it was
// read (another process packed or deleted refs).
func (s *snapshot) refreshPacked() error {
	st, err := os.Stat(filepath.Join(s.gitDir, "packed-refs"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("refs: packed-refs: %w", err)
	}
	if changed(s.stat, st) {
		return s.loadPacked()
	}
	return nil
}

// packedID returns a ref's id in packed-refs as last read, ZeroID if it
// is not there.
func (s *snapshot) packedID(name string) string {
	i, ok := slices.BinarySearchFunc(s.packed, name, func(r Ref, name string) int { return strings.Compare(r.Name, name) })
	if !ok {
		return ZeroID
	}
	return s.packed[i].ID
}

func changed(a, b fs.FileInfo) bool {
	if a == nil || b == nil {
		return (a == nil) != (b == nil)
	}
	return !os.SameFile(a, b) || a.Size() != b.Size() || !a.ModTime().Equal(b.ModTime())
}

func (s *snapshot) exists(name string) bool {
	if _, ok := slices.BinarySearch(s.names, name); ok {
		return true
	}
	_, ok := slices.BinarySearch(s.created, name)
	return ok
}

// conflict reports an existing ref that name cannot sit beside: one that
// is a directory of name, or has name as a directory.
func (s *snapshot) conflict(name string) string {
	for i := len("refs/"); i < len(name); i++ {
		if name[i] == '/' && s.exists(name[:i]) {
			return name[:i]
		}
	}
	j, _ := slices.BinarySearch(s.names, name+"/")
	if j < len(s.names) && strings.HasPrefix(s.names[j], name+"/") {
		return s.names[j]
	}
	return ""
}

// check makes the checks of u that take no lock: its name, its ids, and
// for a create, no ref in the way of the name.
func (s *snapshot) check(u Update) error {
	if err := CheckName(u.Name); err != nil {
		return err
	}
	if !isID(u.Old) || !isID(u.New) || (u.Old == ZeroID && u.New == ZeroID) {
		return fmt.Errorf("%w: %s: bad old or new id", ErrInvalidName, u.Name)
	}
	if u.Old == ZeroID {
		if other := s.conflict(u.Name); other != "" {
			return fmt.Errorf("%w: %s conflicts with existing %s", ErrStale, u.Name, other)
		}
	}
	return nil
}

// lock takes u's lock, holding u.New unless u deletes or goes to
// packed-refs, and reads u's loose file. On error the lock is
// released and nothing changed.
func (s *snapshot) lock(u Update, packed bool) (heldRef, error) {
	if err := s.check(u); err != nil {
		return heldRef{}, err
	}
	h := heldRef{delete: u.New == ZeroID, packed: packed}
	path := refPath(s.gitDir, u.Name)
	lockPath := path + ".lock"
	// The new value goes into the lock as it is made, unless it will not
	// be renamed into place.
	var content []byte
	if !h.delete && !h.packed {
		content = append([]byte(u.New), '\n')
		h.written = true
	}
	made, err := newLock(lockPath, content)
	if err != nil {
		if u.Old == ZeroID && !errors.Is(err, ErrLocked) {
			// A file where a directory of the name must be.
			return heldRef{}, fmt.Errorf("%w: %s: %v", ErrStale, u.Name, err)
		}
		return heldRef{}, fmt.Errorf("%s: %w", u.Name, err)
	}
	fail := func(err error) (heldRef, error) {
		os.Remove(lockPath)
		return heldRef{}, err
	}
	var cur string
	var ok, isDir bool
	if !made {
		// A directory just made for the lock holds no ref file.
		cur, ok, isDir, err = readLooseFile(path)
	}
	if isDir && u.Old == ZeroID && os.Remove(path) == nil {
		isDir = false // an empty directory in the way, as a packed batch leaves them
	}
	switch {
	case err != nil:
		return fail(err)
	case isDir && u.Old == ZeroID:
		return fail(fmt.Errorf("%w: %s is a directory of refs", ErrStale, u.Name))
	case ok:
		h.cur = cur
	}
	if u.Old == ZeroID {
		s.created = append(s.created, u.Name)
	}
	return h, nil
}

// writeLock writes id into an empty lock file already held.
func writeLock(path, id string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("refs: %w", err)
	}
	_, err = f.WriteString(id + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("refs: %w", err)
	}
	return nil
}

// initialBatch makes a batch that only creates refs, in a repository
// with no ref at all, as git makes a clone's refs: straight into
// packed-refs, holding packed-refs.lock alone, with no lock file per ref.
// A mirror pushed into a new repository is such a batch, and making and
// removing a lock file for each of tens of thousands of refs would cost
// it more than everything else. No other update can be under way: every
// update by this package or by git holds a lock file under refs/, and
// with packed-refs locked the refs tree is checked to hold no file at
// all; pushes to one repository take turns anyway (see Lock).
//
// It reports false, having changed nothing, when the batch must go the
// usual way: packed-refs stays locked, the refs tree is not empty, or a
// value cannot be peeled. Otherwise errs holds the outcome (see
// ApplyBatchFunc).
func initialBatch(gitDir string, order []int32, update func(int) Update, snap *snapshot, opts BatchOptions, errs []error) bool {
	// The checks lock makes; a name given twice is locked by its first.
	ok := make([]int32, 0, len(order))
	for _, i := range order {
		u := update(int(i))
		err := snap.check(u)
		if err == nil && len(ok) > 0 && update(int(ok[len(ok)-1])).Name == u.Name {
			err = fmt.Errorf("%s: %w", u.Name, ErrLocked)
		}
		if err != nil {
			errs[i] = err
			if opts.Atomic {
				for j := range errs {
					if errs[j] == nil {
						errs[j] = ErrAborted
					}
				}
				return true
			}
			continue
		}
		snap.created = append(snap.created, u.Name)
		ok = append(ok, i)
	}
	if len(ok) == 0 {
		return true
	}
	peeled := newPeelCache(opts.Peel)
	for _, i := range ok {
		if peeled.add(update(int(i)).New) != nil {
			return false
		}
	}
	pl, err := lockPacked(gitDir)
	if err != nil {
		return false
	}
	defer pl.unlock()
	if empty, err := refsTreeEmpty(gitDir); err != nil || !empty {
		return false
	}
	if err := snap.refreshPacked(); err != nil || len(snap.packed) > 0 {
		return false
	}
	created := func(yield func(Ref) bool) {
		for _, i := range ok {
			if !yield(peeled.ref(update(int(i)))) {
				return
			}
		}
	}
	if err := pl.update(nil, created, opts.Peel); err != nil {
		for _, i := range ok {
			errs[i] = err
		}
	}
	return true
}

// refsTreeEmpty says whether refs/ holds nothing but directories: no
// loose ref, and no lock of an update under way.
func refsTreeEmpty(gitDir string) (bool, error) {
	var walk func(dir string) (bool, error)
	walk = func(dir string) (bool, error) {
		ents, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		for _, e := range ents {
			if !e.IsDir() {
				return false, nil
			}
			if empty, err := walk(filepath.Join(dir, e.Name())); err != nil || !empty {
				return false, err
			}
		}
		return true, nil
	}
	return walk(filepath.Join(gitDir, "refs"))
}
