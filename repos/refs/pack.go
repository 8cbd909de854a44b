package refs

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Peeler returns the object an annotated tag id finally points at
// (through tags pointing at tags), or "" when id is not an annotated tag
// or is missing.
type Peeler func(id string) (string, error)

// packedLockWait is how long packed-refs.lock is waited for, as git's
// core.packedRefsTimeout does by default.
const packedLockWait = time.Second

// Pack does what "git pack-refs --all --prune" does: it writes every
// loose ref into packed-refs, sorted and with the peeled value of each
// annotated tag (from peel), then removes the loose files it packed.
// It returns how many loose refs it packed.
//
// Pushes go on meanwhile and lose nothing. The loose refs are read and
// peeled first, without any lock; then, holding packed-refs.lock (which a
// deleting update holds until its loose file is gone), each is read again
// and packed only if unchanged, so a ref deleted or moved in between stays
// as the update left it. A packed loose file is removed under its
// "<ref>.lock", taken without waiting, and only if it still holds the
// packed value: a ref an update holds, or moved after packing, stays
// loose and hides the packed value. No update waits on Pack longer than
// one ref's removal, except deletes, which wait for packed-refs as they
// do for git's pack-refs. Pack fails with ErrLocked, having changed
// nothing, when packed-refs stays locked for longer than git would wait.
// Last, it removes the empty directories under refs/ (below refs/heads,
// refs/tags and the like), such as a batch into packed-refs leaves.
func Pack(gitDir string, peel Peeler) (int, error) {
	defer removeEmptyDirs(gitDir)
	loose, err := readLooseUnder(gitDir, "")
	if err != nil {
		return 0, fmt.Errorf("refs: pack: %w", err)
	}
	if len(loose) == 0 {
		return 0, nil
	}
	// Peel before locking: the old packed refs too, in case the old file
	// does not vouch for its peeled values.
	peeled := make(map[string]string)
	peelOnce := func(id string) (string, error) {
		if p, ok := peeled[id]; ok {
			return p, nil
		}
		p, err := peel(id)
		if err != nil {
			return "", fmt.Errorf("refs: pack: peel %s: %w", id, err)
		}
		peeled[id] = p
		return p, nil
	}
	old, err := readPackedFile(gitDir)
	if err != nil {
		return 0, err
	}
	for _, r := range old {
		if r.KnowsPeeled {
			peeled[r.ID] = r.Peeled
		}
	}
	for i := range loose {
		if loose[i].Peeled, err = peelOnce(loose[i].ID); err != nil {
			return 0, err
		}
		loose[i].KnowsPeeled = true
	}

	pl, err := lockPacked(gitDir)
	if err != nil {
		return 0, fmt.Errorf("refs: pack: %w", err)
	}
	defer pl.unlock()
	old, err = readPackedFile(gitDir)
	if err != nil {
		return 0, err
	}
	kept := loose[:0]
	for _, r := range loose {
		id, ok, err := readLoose(filepath.Join(gitDir, filepath.FromSlash(r.Name)))
		if err != nil {
			return 0, fmt.Errorf("refs: pack: %w", err)
		}
		if ok && id == r.ID {
			kept = append(kept, r)
		}
	}
	loose = kept
	all := make([]Ref, 0, len(old)+len(loose))
	i := 0
	for _, r := range old {
		for i < len(loose) && loose[i].Name < r.Name {
			all = append(all, loose[i])
			i++
		}
		if i < len(loose) && loose[i].Name == r.Name {
			continue // the loose value wins
		}
		if !r.KnowsPeeled {
			if r.Peeled, err = peelOnce(r.ID); err != nil {
				return 0, err
			}
			r.KnowsPeeled = true
		}
		all = append(all, r)
	}
	all = append(all, loose[i:]...)
	if err := pl.write(slices.Values(all), !slices.ContainsFunc(all, func(r Ref) bool { return !r.KnowsPeeled })); err != nil {
		return 0, err
	}
	pl.unlock()

	for _, r := range loose {
		pruneLoose(gitDir, r)
	}
	return len(loose), nil
}

// removeEmptyDirs removes the empty directories below refs/x/, deepest
// first. A lock about to be made in one that goes makes it again
// (createLockWait).
func removeEmptyDirs(gitDir string) {
	root := filepath.Join(gitDir, "refs")
	var dirs []string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && filepath.Dir(path) != root && path != root {
			dirs = append(dirs, path)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i]) // fails, as it should, when not empty
	}
}

// pruneLoose removes r's loose file if it still holds r.ID, under its
// lock, which it does not wait for.
func pruneLoose(gitDir string, r Ref) {
	path := filepath.Join(gitDir, filepath.FromSlash(r.Name))
	lock, err := os.OpenFile(path+".lock", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return // an update holds it; the loose value stays
	}
	lock.Close()
	if id, ok, err := readLoose(path); err == nil && ok && id == r.ID {
		os.Remove(path)
	}
	os.Remove(lock.Name())
	pruneDirs(gitDir, filepath.Dir(path))
}

// packedLock is a held packed-refs.lock. The new packed-refs is written
// beside it and renamed into place, so the lock stays held until unlock.
type packedLock struct {
	gitDir string
	lock   string
}

func lockPacked(gitDir string) (*packedLock, error) {
	path := filepath.Join(gitDir, "packed-refs.lock")
	f, err := createLockWait(path, packedLockWait)
	if err != nil {
		return nil, fmt.Errorf("packed-refs: %w", err)
	}
	f.Close()
	return &packedLock{gitDir: gitDir, lock: path}, nil
}

// unlock releases the lock; a second call does nothing.
func (l *packedLock) unlock() {
	if l.lock != "" {
		os.Remove(l.lock)
		l.lock = ""
	}
}

// update rewrites packed-refs without the refs deleted and with created
// (sorted by name, names not in the file, each knowing its peeled value)
// merged in; it writes nothing when that changes nothing. created is
// read as it is written, not held: a mirror's batch creates tens of
// thousands. With peel, the refs already there whose peeled value the
// file does not vouch for are peeled, so that the file stays fully
// peeled; one that does not peel is left unknown.
func (l *packedLock) update(deleted []string, created iter.Seq[Ref], peel Peeler) error {
	packed, err := readPackedFile(l.gitDir)
	if err != nil {
		return err
	}
	drop := make(map[string]bool, len(deleted))
	for _, n := range deleted {
		drop[n] = true
	}
	anyCreated := false
	for range created {
		anyCreated = true
		break
	}
	dropped := 0
	for _, r := range packed {
		if drop[r.Name] {
			dropped++
		}
	}
	if !anyCreated && dropped == 0 {
		return nil
	}
	if peel != nil && anyCreated {
		for j := range packed {
			if packed[j].KnowsPeeled || drop[packed[j].Name] {
				continue
			}
			if p, err := peel(packed[j].ID); err == nil {
				packed[j].Peeled, packed[j].KnowsPeeled = p, true
			}
		}
	}
	fullyPeeled := !slices.ContainsFunc(packed, func(r Ref) bool { return !r.KnowsPeeled && !drop[r.Name] })
	// The file's refs and the created ones, merged in name order; a
	// created ref replaces a packed one of its name.
	all := func(yield func(Ref) bool) {
		i := 0
		for c := range created {
			for i < len(packed) && packed[i].Name <= c.Name {
				if r := packed[i]; r.Name != c.Name && !drop[r.Name] && !yield(r) {
					return
				}
				i++
			}
			if !yield(c) {
				return
			}
		}
		for _, r := range packed[i:] {
			if !drop[r.Name] && !yield(r) {
				return
			}
		}
	}
	if err := l.write(all, fullyPeeled); err != nil {
		return fmt.Errorf("refs: rewrite packed-refs: %w", err)
	}
	return nil
}

// write replaces packed-refs with rs, which come sorted. The header says
// the file is fully peeled when fullyPeeled: every ref knows its peeled
// value.
func (l *packedLock) write(rs iter.Seq[Ref], fullyPeeled bool) error {
	path := filepath.Join(l.gitDir, "packed-refs")
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("refs: packed-refs: %w", err)
	}
	w := bufio.NewWriterSize(f, 64<<10)
	if fullyPeeled {
		w.WriteString(packedTraits)
	} else {
		w.WriteString(packedHeader + " sorted \n")
	}
	for r := range rs {
		w.WriteString(r.ID)
		w.WriteByte(' ')
		w.WriteString(r.Name)
		w.WriteByte('\n')
		if r.Peeled != "" {
			w.WriteByte('^')
			w.WriteString(r.Peeled)
			w.WriteByte('\n')
		}
	}
	err = w.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("refs: packed-refs: %w", err)
	}
	// The rename must be durable before any loose file it replaces is
	// removed, or a crash could keep the removals and lose the rename.
	if err := syncFile(l.gitDir); err != nil {
		return fmt.Errorf("refs: packed-refs: sync %s: %w", l.gitDir, err)
	}
	return nil
}

// readPackedFile reads all of packed-refs, sorted.
func readPackedFile(gitDir string) ([]Ref, error) {
	f, err := os.Open(filepath.Join(gitDir, "packed-refs"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("refs: packed-refs: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	traits, _, err := readTraits(br)
	if err != nil {
		return nil, err
	}
	var out []Ref
	if err := parsePacked(br, traits, func(r Ref) bool { out = append(out, r); return true }); err != nil {
		return nil, err
	}
	if !traits.sorted {
		slices.SortStableFunc(out, func(a, b Ref) int { return strings.Compare(a.Name, b.Name) })
	}
	return out, nil
}
