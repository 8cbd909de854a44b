// Package lockfile holds advisory locks (flock) on files and directories
// that die with their holder: the kernel releases them when the process
// ends, however it ends, so a lock that can be taken is never in use.
// Age says nothing: a SIGKILLed push or repack leaves files behind whose
// owner is gone, and a slow one holds files that are hours old.
//
// The rule every user of this package follows: whoever creates a file or
// directory that someone may later sweep locks it before putting anything
// in it and keeps the lock for as long as the thing is in use; a sweeper
// removes a thing only while holding its lock, and a creator that finds,
// once it holds the lock, that the path no longer names what it locked
// (a sweeper removed it in between) starts over.
package lockfile

import (
	"errors"
	"fmt"
	"os"
)

// ErrBusy reports that another holder (in this process or another) has
// the lock.
var ErrBusy = errors.New("lockfile: locked by another holder")

// ErrGone reports that the path was removed while the lock was being
// taken: what was locked is no longer there.
var ErrGone = errors.New("lockfile: removed while locking")

// Lock is a held lock. Release it once.
type Lock struct {
	f    *os.File
	path string
	file bool // a lock file of ours, removed on Release
}

// TryLockFile takes an exclusive lock on the lock file at path, creating
// it if missing, without waiting. Release removes the file, so a lock file
// on disk is either held or left by a holder that is gone.
//
// Errors: ErrBusy when held by another; an I/O error.
func TryLockFile(path string) (*Lock, error) {
	for try := 0; ; try++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lockfile: %w", err)
		}
		l, err := lock(f, path, true, false)
		if errors.Is(err, ErrGone) && try < 8 {
			continue // a holder removed it as we opened it: take the new one
		}
		return l, err
	}
}

// TryLockDir takes an exclusive lock on the directory dir without waiting.
//
// Errors: ErrBusy when held by another; ErrGone or fs.ErrNotExist when
// dir is not there (any more); an I/O error.
func TryLockDir(dir string) (*Lock, error) {
	return openDir(dir, false)
}

// TryLock takes an exclusive lock on the existing file at path (a
// temporary file its creator holds while writing it) without waiting;
// Release leaves the file where it is.
//
// Errors: as TryLockDir's.
func TryLock(path string) (*Lock, error) {
	return openDir(path, false)
}

// MakeDir creates a new directory in parent, named pattern with a random
// part in place of its last "*" (os.MkdirTemp), and locks it before
// anything is put in it. A sweeper may see it between its creation and
// the lock, take it for a dead holder's and remove it: then MakeDir
// makes another.
//
// Errors: the directory cannot be made or locked.
func MakeDir(parent, pattern string) (string, *Lock, error) {
	for try := 0; ; try++ {
		dir, err := os.MkdirTemp(parent, pattern)
		if err != nil {
			return "", nil, fmt.Errorf("lockfile: %w", err)
		}
		l, err := TryLockDir(dir)
		if err == nil {
			return dir, l, nil
		}
		os.Remove(dir) // empty, if a sweeper left it
		if try >= 3 || !(errors.Is(err, ErrBusy) || errors.Is(err, ErrGone) || errors.Is(err, os.ErrNotExist)) {
			return "", nil, err
		}
	}
}

// LockDirShared takes a shared lock on the directory dir, waiting while
// someone holds it exclusively. Shared holders do not exclude each other.
//
// Errors: ErrGone or fs.ErrNotExist when dir is not there; an I/O error.
func LockDirShared(dir string) (*Lock, error) {
	return openDir(dir, true)
}

func openDir(dir string, shared bool) (*Lock, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lockfile: %w", err)
	}
	return lock(f, dir, false, shared)
}

// lock flocks f and checks that path still names f's file; it closes f
// on error.
func lock(f *os.File, path string, file, shared bool) (*Lock, error) {
	if err := flock(f, shared); err != nil {
		f.Close()
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		var pi os.FileInfo
		pi, err = os.Stat(path)
		if err == nil && !os.SameFile(fi, pi) {
			err = ErrGone
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, os.ErrNotExist) {
			err = ErrGone
		}
		if !errors.Is(err, ErrGone) {
			err = fmt.Errorf("lockfile: %w", err)
		}
		return nil, err
	}
	return &Lock{f: f, path: path, file: file}, nil
}

// Release gives the lock up; a lock file is removed first (while still
// held, so nobody takes the lock on a file about to vanish unnoticed).
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	if l.file {
		os.Remove(l.path)
	}
	l.f.Close()
	l.f = nil
}

// Held says whether someone holds a lock on the existing file or
// directory at path. It creates and removes nothing (it takes the lock
// for an instant to learn whether it can); a path not there is not held.
func Held(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lockfile: %w", err)
	}
	defer f.Close()
	err = flock(f, false)
	if errors.Is(err, ErrBusy) {
		return true, nil
	}
	return false, err
}
