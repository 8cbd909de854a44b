package maintain

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"gatehouse/repos/lockfile"
)

// A backup (package backup) copies a repository while pushes and repacks
// go on, with two locks of this package:
//
//   - HoldPacks, taken first and kept until the copy is done: the
//     repository's objects/pack directory locked shared. A repack deletes
//     superseded packs and the loose objects they hold (expire) only while
//     it holds that directory exclusively, and leaves them for a later run
//     while anyone holds it, so no object a backup listed is deleted
//     under it, and none reachable from the refs it read: those were
//     there (packs are installed before refs move) when the hold was
//     already taken.
//   - StopPushes, for the moment the refs are read: the push lock
//     (HoldPush) taken exclusively, so no push of any Gatehouse process is
//     between its first ref lock file and its last and the refs read are
//     a state the repository really had. New pushes wait for it.

// HoldPacks keeps the repository's packs and loose objects from being
// deleted by any repack until the hold is released; see above. Holders do
// not exclude each other. It waits while a repack is deleting (an
// instant). A repository without objects/pack has nothing to hold: the
// hold is nil, and Release on it does nothing.
//
// Errors: I/O errors.
func HoldPacks(gitDir string) (*lockfile.Lock, error) {
	if !lockfile.Supported {
		return nil, nil
	}
	l, err := lockfile.LockDirShared(filepath.Join(gitDir, "objects", "pack"))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, lockfile.ErrGone) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("maintain: hold packs: %w", err)
	}
	return l, nil
}

// StopPushes takes the repository's push lock exclusively, waiting until
// no push holds it or ctx is done: while it is held no push is running
// (new ones wait), so the refs do not move. Hold it briefly. It tries
// again and again rather than queueing in the kernel, so that ctx bounds
// the wait.
//
// Errors: ctx.Err() wrapped, the repository not there, I/O errors.
func StopPushes(ctx context.Context, gitDir string) (*lockfile.Lock, error) {
	if !lockfile.Supported {
		return nil, nil
	}
	wait := time.Millisecond
	for {
		l, err := lockfile.TryLockDir(gitDir)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, lockfile.ErrBusy) {
			return nil, fmt.Errorf("maintain: stop pushes: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("maintain: stop pushes: waiting for running pushes: %w", ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}
