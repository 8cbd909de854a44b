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

// ApplyBatch makes updates as one batch, in two phases as git's ref
// transactions do. First each update, in name order, takes its
// "<ref>.lock" exclusively, has its current value checked against Old and,
// unless it deletes, its new value written to the lock file. Then the
// deleted refs leave packed-refs in one rewrite, the lock files are synced
// and renamed into place, and the deleted loose refs are removed.
//
// The refs are listed and packed-refs read once per batch (packed-refs
// again only if it changes on disk meanwhile), so a batch of n updates
// costs O(n log n), not a listing per update.
//
// It returns one error per update, nil for those made. An update that
// fails changes nothing; the others go ahead, unless atomic: then the
// first failure releases every lock taken, the failing updates keep their
// errors, the rest get ErrAborted, and nothing changed. The errors are
// those of Apply, or an I/O error.
func ApplyBatch(gitDir string, us []Update, atomic bool) []error {
	errs := make([]error, len(us))
	order := make([]int, len(us))
	for i := range order {
		order[i] = i
	}
	// One lock order for every batch, so that two atomic batches over the
	// same refs cannot each hold a lock the other waits for.
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(us[a].Name, us[b].Name) })

	snap, err := newSnapshot(gitDir)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	var held []held
	release := func() {
		for _, h := range held {
			os.Remove(h.lock)
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
	for _, i := range order {
		h, err := snap.prepare(us[i])
		if err != nil {
			errs[i] = err
			if atomic {
				return abort()
			}
			continue
		}
		h.index = i
		held = append(held, h)
	}

	// Deletes leave packed-refs first, while an atomic batch can still
	// back out of everything. packed-refs stays locked until the loose
	// files are gone too, as git keeps it, so that Pack cannot put a ref
	// being deleted back into it meanwhile.
	var deleted []string
	for _, h := range held {
		if h.delete {
			deleted = append(deleted, us[h.index].Name)
		}
	}
	if len(deleted) > 0 {
		pl, err := lockPacked(gitDir)
		if err == nil {
			defer pl.unlock()
			err = pl.remove(deleted)
		}
		if err != nil {
			if atomic {
				for _, h := range held {
					if h.delete {
						errs[h.index] = err
					}
				}
				return abort()
			}
			kept := held[:0]
			for _, h := range held {
				if h.delete {
					errs[h.index] = err
					os.Remove(h.lock)
					continue
				}
				kept = append(kept, h)
			}
			held = kept
		}
	}
	if err := syncWritten(gitDir, held); err != nil {
		for _, h := range held {
			if !h.delete {
				errs[h.index] = fmt.Errorf("refs: sync: %w", err)
			}
		}
		if atomic {
			return abort()
		}
	}
	for _, h := range held {
		u := us[h.index]
		if errs[h.index] != nil {
			os.Remove(h.lock)
			continue
		}
		if h.delete {
			if err := os.Remove(h.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs[h.index] = fmt.Errorf("refs: delete %s: %w", u.Name, err)
			}
			os.Remove(h.lock)
			pruneDirs(gitDir, filepath.Dir(h.path))
			continue
		}
		if err := os.Rename(h.lock, h.path); err != nil {
			os.Remove(h.lock)
			errs[h.index] = fmt.Errorf("refs: update %s: %w", u.Name, err)
		}
	}
	return errs
}

// held is an update whose lock is taken and whose old value checked.
type held struct {
	index      int
	path, lock string
	delete     bool
}

// snapshot is what a batch knows of the refs: their names when it
// started, and packed-refs as last read.
type snapshot struct {
	gitDir string
	names  []string        // every ref at the start, sorted
	exists map[string]bool // the same, and the refs this batch creates
	packed map[string]string
	stat   fs.FileInfo // packed-refs when read; nil if absent
}

func newSnapshot(gitDir string) (*snapshot, error) {
	all, err := List(gitDir)
	if err != nil {
		return nil, err
	}
	s := &snapshot{gitDir: gitDir, names: make([]string, len(all)), exists: make(map[string]bool, len(all))}
	for i, r := range all {
		s.names[i] = r.Name
		s.exists[r.Name] = true
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
	s.stat = st
	s.packed = make(map[string]string, len(rs))
	for _, r := range rs {
		s.packed[r.Name] = r.ID
	}
	return nil
}

// packedID returns a ref's id in packed-refs, first re-reading the file
// if it was replaced since it was read (another process packed or
// deleted refs).
func (s *snapshot) packedID(name string) (string, error) {
	st, err := os.Stat(filepath.Join(s.gitDir, "packed-refs"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("refs: packed-refs: %w", err)
	}
	if changed(s.stat, st) {
		if err := s.loadPacked(); err != nil {
			return "", err
		}
	}
	return s.packed[name], nil
}

func changed(a, b fs.FileInfo) bool {
	if a == nil || b == nil {
		return (a == nil) != (b == nil)
	}
	return !os.SameFile(a, b) || a.Size() != b.Size() || !a.ModTime().Equal(b.ModTime())
}

// conflict reports an existing ref that name cannot sit beside: one that
// is a directory of name, or has name as a directory.
func (s *snapshot) conflict(name string) string {
	for i := len("refs/"); i < len(name); i++ {
		if name[i] == '/' && s.exists[name[:i]] {
			return name[:i]
		}
	}
	j, _ := slices.BinarySearch(s.names, name+"/")
	if j < len(s.names) && strings.HasPrefix(s.names[j], name+"/") {
		return s.names[j]
	}
	return ""
}

// prepare takes u's lock, checks u.Old and writes u.New into the lock.
// On error the lock is released and nothing changed.
func (s *snapshot) prepare(u Update) (held, error) {
	if err := CheckName(u.Name); err != nil {
		return held{}, err
	}
	if !isID(u.Old) || !isID(u.New) || (u.Old == ZeroID && u.New == ZeroID) {
		return held{}, fmt.Errorf("%w: %s: bad old or new id", ErrInvalidName, u.Name)
	}
	h := held{path: filepath.Join(s.gitDir, filepath.FromSlash(u.Name)), delete: u.New == ZeroID}
	h.lock = h.path + ".lock"
	if u.Old == ZeroID {
		if other := s.conflict(u.Name); other != "" {
			return held{}, fmt.Errorf("%w: %s conflicts with existing %s", ErrStale, u.Name, other)
		}
		if fi, err := os.Stat(h.path); err == nil && fi.IsDir() {
			return held{}, fmt.Errorf("%w: %s is a directory of refs", ErrStale, u.Name)
		}
		if err := os.MkdirAll(filepath.Dir(h.path), 0o755); err != nil {
			return held{}, fmt.Errorf("%w: %s: %v", ErrStale, u.Name, err)
		}
	}
	lock, err := createLock(h.lock)
	if err != nil {
		return held{}, fmt.Errorf("%s: %w", u.Name, err)
	}
	fail := func(err error) (held, error) {
		lock.Close()
		os.Remove(h.lock)
		return held{}, err
	}
	cur, ok, err := readLoose(h.path)
	if err == nil && !ok {
		cur, err = s.packedID(u.Name)
	}
	if err != nil {
		return fail(err)
	}
	if cur == "" {
		cur = ZeroID
	}
	if cur != u.Old {
		return fail(fmt.Errorf("%w: %s is at %s, not %s", ErrStale, u.Name, short(cur), short(u.Old)))
	}
	if !h.delete {
		if _, err := lock.WriteString(u.New + "\n"); err != nil {
			return fail(fmt.Errorf("refs: update %s: %w", u.Name, err))
		}
	}
	if err := lock.Close(); err != nil {
		os.Remove(h.lock)
		return held{}, fmt.Errorf("refs: update %s: %w", u.Name, err)
	}
	if u.Old == ZeroID {
		s.exists[u.Name] = true
	}
	return h, nil
}
