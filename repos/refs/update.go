package refs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// repoLocks holds one mutex per repository (by cleaned path).
var repoLocks sync.Map // string -> *sync.Mutex

// Lock takes the in-process lock of the repository at gitDir and returns
// its release. It orders whole pushes (install the pack, check, apply)
// against each other; Apply itself does not take it, so it may be called
// with the lock held. Between processes the per-ref lock files decide.
func Lock(gitDir string) (unlock func()) {
	key := filepath.Clean(gitDir)
	m, _ := repoLocks.LoadOrStore(key, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// Apply makes one compare-and-swap update: it creates "<ref>.lock"
// exclusively, checks that the ref's current value is u.Old (ZeroID: it
// must not exist), then writes u.New and renames the lock over the ref, or,
// when u.New is ZeroID, deletes the ref (from packed-refs too).
//
// Errors: ErrInvalidName for a bad name or ids, ErrLocked when another
// update holds the ref's lock, ErrStale when the ref is not at u.Old or a
// ref in the way (D/F conflict) exists. On any error nothing has changed.
func Apply(gitDir string, u Update) error {
	if err := CheckName(u.Name); err != nil {
		return err
	}
	if !isID(u.Old) || !isID(u.New) || (u.Old == ZeroID && u.New == ZeroID) {
		return fmt.Errorf("%w: %s: bad old or new id", ErrInvalidName, u.Name)
	}
	path := filepath.Join(gitDir, filepath.FromSlash(u.Name))
	if u.Old == ZeroID {
		if err := checkNoConflict(gitDir, u.Name); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrStale, u.Name, err)
		}
	}
	lock, err := createLock(path + ".lock")
	if err != nil {
		return fmt.Errorf("%s: %w", u.Name, err)
	}
	done := false
	defer func() {
		if !done {
			lock.Close()
			os.Remove(lock.Name())
		}
	}()
	cur, err := Resolve(gitDir, u.Name)
	if err != nil {
		return err
	}
	if cur == "" {
		cur = ZeroID
	}
	if cur != u.Old {
		return fmt.Errorf("%w: %s is at %s, not %s", ErrStale, u.Name, short(cur), short(u.Old))
	}
	if u.New == ZeroID {
		if err := removePacked(gitDir, u.Name); err != nil {
			return err
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("refs: delete %s: %w", u.Name, err)
		}
		lock.Close()
		os.Remove(lock.Name())
		done = true
		pruneDirs(gitDir, filepath.Dir(path))
		return nil
	}
	done = true // commitLock cleans up after itself
	if err := commitLock(lock, u.New+"\n", path); err != nil {
		return fmt.Errorf("refs: update %s: %w", u.Name, err)
	}
	return nil
}

// SetHead points HEAD at target (a full ref name), atomically.
func SetHead(gitDir, target string) error {
	if err := CheckName(target); err != nil {
		return err
	}
	path := filepath.Join(gitDir, "HEAD")
	lock, err := createLock(path + ".lock")
	if err != nil {
		return fmt.Errorf("HEAD: %w", err)
	}
	if err := commitLock(lock, "ref: "+target+"\n", path); err != nil {
		return fmt.Errorf("refs: set HEAD: %w", err)
	}
	return nil
}

// commitLock writes content to a lock file, syncs it and renames it over
// path. On error the lock file is removed and path is untouched.
func commitLock(lock *os.File, content, path string) error {
	_, err := lock.WriteString(content)
	if err == nil {
		err = lock.Sync()
	}
	if cerr := lock.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(lock.Name(), path)
	}
	if err != nil {
		os.Remove(lock.Name())
	}
	return err
}

// createLock creates a lock file exclusively, waiting briefly (as git does
// with core.filesRefLockTimeout) when someone else holds it.
func createLock(path string) (*os.File, error) {
	deadline := time.Now().Add(100 * time.Millisecond)
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("refs: lock: %w", err)
		}
		if time.Now().After(deadline) {
			return nil, ErrLocked
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkNoConflict refuses a new ref whose name is a directory of an
// existing ref or has an existing ref as a directory (refs/heads/a against
// refs/heads/a/b), which git cannot store side by side.
func checkNoConflict(gitDir, name string) error {
	all, err := List(gitDir)
	if err != nil {
		return err
	}
	for _, r := range all {
		if strings.HasPrefix(r.Name, name+"/") || strings.HasPrefix(name, r.Name+"/") {
			return fmt.Errorf("%w: %s conflicts with existing %s", ErrStale, name, r.Name)
		}
	}
	return nil
}

// removePacked rewrites packed-refs without name, under packed-refs.lock.
func removePacked(gitDir, name string) error {
	packed, err := readPacked(gitDir)
	if err != nil || !containsRef(packed, name) {
		return err
	}
	path := filepath.Join(gitDir, "packed-refs")
	lock, err := createLock(path + ".lock")
	if err != nil {
		return fmt.Errorf("packed-refs: %w", err)
	}
	// Read again under the lock: another delete may have rewritten it.
	if packed, err = readPacked(gitDir); err != nil {
		lock.Close()
		os.Remove(lock.Name())
		return err
	}
	var b strings.Builder
	// No traits header: we cannot vouch that the old file was sorted or
	// fully peeled, so git reads it without assuming either.
	for _, r := range packed {
		if r.Name == name {
			continue
		}
		b.WriteString(r.ID + " " + r.Name + "\n")
		if r.Peeled != "" {
			b.WriteString("^" + r.Peeled + "\n")
		}
	}
	if err := commitLock(lock, b.String(), path); err != nil {
		return fmt.Errorf("refs: rewrite packed-refs: %w", err)
	}
	return nil
}

func containsRef(rs []Ref, name string) bool {
	for _, r := range rs {
		if r.Name == name {
			return true
		}
	}
	return false
}

// pruneDirs removes directories emptied by a delete, up to refs/x.
func pruneDirs(gitDir, dir string) {
	stop := filepath.Join(gitDir, "refs")
	for len(dir) > len(stop) && strings.HasPrefix(dir, stop+string(filepath.Separator)) {
		if filepath.Dir(dir) == stop { // keep refs/heads, refs/tags
			return
		}
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

func short(id string) string {
	if len(id) > 7 {
		return id[:7]
	}
	return id
}
