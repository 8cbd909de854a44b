package indexpack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"gatehouse/repos/lockfile"
)

// quarantinePrefix names quarantine directories in objects/ (git's name
// for them, so `git gc` also knows them).
const quarantinePrefix = "tmp_objdir-incoming-"

// A quarantine is in use exactly while its directory is locked
// (repos/lockfile): Receive locks it before writing anything into it and
// holds the lock until Abort has removed it. One whose lock can be taken
// was left by a receiver that is gone (a server killed mid-push), however
// recent it is; SweepQuarantines removes those and nothing else.

// makeQuarantine creates and locks a new quarantine directory in objDir.
func makeQuarantine(objDir string) (string, *lockfile.Lock, error) {
	for try := 0; ; try++ {
		dir, err := os.MkdirTemp(objDir, quarantinePrefix)
		if err != nil {
			return "", nil, err
		}
		l, err := lockfile.TryLockDir(dir)
		if err == nil {
			return dir, l, nil
		}
		// A sweep, between the directory's creation and our lock, took it
		// for a dead receiver's: it may have removed it. It is empty;
		// remove it if it is still there, and make another.
		os.Remove(dir)
		if try >= 3 || !(errors.Is(err, lockfile.ErrBusy) || errors.Is(err, lockfile.ErrGone) || errors.Is(err, fs.ErrNotExist)) {
			return "", nil, err
		}
	}
}

// Quarantine is a quarantine directory whose receiver is gone.
type Quarantine struct {
	Path  string
	Bytes int64 // the size of its files
}

// SweepQuarantines finds the quarantine directories of the repository at
// gitDir that no receiver holds, in this process or another, and when
// remove is set removes each while holding its lock. Without remove it
// changes nothing (it takes each lock for an instant to test it).
//
// Errors: I/O errors other than a quarantine vanishing meanwhile.
func SweepQuarantines(gitDir string, remove bool) ([]Quarantine, error) {
	if !lockfile.Supported {
		return nil, nil
	}
	dirs, err := filepath.Glob(filepath.Join(gitDir, "objects", quarantinePrefix+"*"))
	if err != nil {
		return nil, err
	}
	var stale []Quarantine
	for _, dir := range dirs {
		if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
			continue
		}
		l, err := lockfile.TryLockDir(dir)
		if errors.Is(err, lockfile.ErrBusy) || errors.Is(err, lockfile.ErrGone) || errors.Is(err, fs.ErrNotExist) {
			continue // in use, or removed meanwhile
		}
		if err != nil {
			return stale, fmt.Errorf("pack: quarantine %s: %w", filepath.Base(dir), err)
		}
		q := Quarantine{Path: dir, Bytes: du(dir)}
		if remove {
			err = os.RemoveAll(dir)
		}
		l.Release()
		if err != nil {
			return stale, fmt.Errorf("pack: remove quarantine %s: %w", filepath.Base(dir), err)
		}
		stale = append(stale, q)
	}
	return stale, nil
}

// du sums the sizes of the regular files under dir.
func du(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
