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

// Apply makes one compare-and-swap update; it is ApplyBatch of one.
//
// Errors: ErrInvalidName for a bad name or ids, ErrLocked when another
// update holds the ref's lock, ErrStale when the ref is not at u.Old or a
// ref in the way (D/F conflict) exists. On any error nothing has changed.
func Apply(gitDir string, u Update) error {
	return ApplyBatch(gitDir, []Update{u}, BatchOptions{Atomic: true})[0]
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
	return createLockWait(path, 100*time.Millisecond)
}

// createLockWait creates a lock file exclusively, trying again for up to
// wait while someone else holds it. A directory missing on the way (just
// emptied and removed by a delete or by Pack) is made again.
func createLockWait(path string, wait time.Duration) (*os.File, error) {
	var f *os.File
	_, err := retryLock(path, wait, func() (err error) {
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		return err
	})
	return f, err
}

// newLock creates a lock file exclusively holding content, as createLock
// does, and closes it: for the many locks of a batch, with fewer system
// calls than an *os.File takes. made says the lock's directory did not
// exist and was made for it: nothing else is in it.
func newLock(path string, content []byte) (made bool, err error) {
	return retryLock(path, 100*time.Millisecond, func() error { return createExcl(path, content) })
}

// retryLock runs create, which creates the lock file at path exclusively,
// until it succeeds, making the directory if missing (up to three times)
// and trying again for up to wait while the file exists. made says the
// directory was made by this call, on the first try: it was empty then.
func retryLock(path string, wait time.Duration, create func() error) (made bool, err error) {
	deadline := time.Now().Add(wait)
	for tries := 0; ; {
		err := create()
		if err == nil {
			return made, nil
		}
		if errors.Is(err, fs.ErrNotExist) && tries < 3 {
			tries++
			m, err := makeDir(filepath.Dir(path))
			if err != nil {
				return false, fmt.Errorf("refs: lock: %w", err)
			}
			made = m && tries == 1
			continue
		}
		made = false
		if !errors.Is(err, fs.ErrExist) {
			return false, fmt.Errorf("refs: lock: %w", err)
		}
		if time.Now().After(deadline) {
			return false, ErrLocked
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// makeDir makes dir, and its parents when they are missing too. made says
// dir itself was made here with one mkdir (the usual case of a new ref
// directory, such as refs/pull/N/, costs no more); when parents had to be
// made, made is false.
func makeDir(dir string) (made bool, err error) {
	err = os.Mkdir(dir, 0o755)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrExist):
		return false, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, os.MkdirAll(dir, 0o755)
	}
	return false, err
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
