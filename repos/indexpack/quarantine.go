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

// The quarantine is an object directory git can read, as git's own
// tmp-objdir is: while the pack streams in it is incomingPack at the
// top, where no reader looks; once it is complete and its checksum known
// it moves to pack/pack-<checksum>.pack, and its index is written beside
// it, so that hooks run with GIT_OBJECT_DIRECTORY set to the quarantine
// (and the repository's objects as alternates) see the push's objects.
// Install then moves both from there into objects/pack.
const incomingPack = "incoming.pack"

// placePack moves the finished pack to its place in the quarantine's
// pack/ and returns the path it shares with its index, without the
// extension.
func (in *Incoming) placePack() (string, error) {
	if err := os.Mkdir(filepath.Join(in.tmpDir, "pack"), 0o755); err != nil {
		return "", fmt.Errorf("pack: quarantine: %w", err)
	}
	base := in.quarantinedPack()
	if err := os.Rename(filepath.Join(in.tmpDir, incomingPack), base+".pack"); err != nil {
		return "", fmt.Errorf("pack: quarantine: %w", err)
	}
	return base, nil
}

// quarantinedPack is the path of the complete pack in quarantine, less
// its extension.
func (in *Incoming) quarantinedPack() string {
	return filepath.Join(in.tmpDir, "pack", "pack-"+in.checksum.String())
}

// ObjectDir returns the quarantine: an object directory holding the
// push's objects (with the repository's objects as its alternate), as
// GIT_OBJECT_DIRECTORY and GIT_QUARANTINE_PATH give it to hooks. It is
// "" after Abort.
func (in *Incoming) ObjectDir() string { return in.tmpDir }

// Quarantine is a quarantine directory whose receiver is gone.
type Quarantine struct {
	Path  string
	Bytes int64 // the size of its files
}

// SweepQuarantines finds the quarantine directories of the repository at
// gitDir that no receiver holds, in this process or another, and when
// remove is set removes each while holding its lock. Without remove it
// changes nothing (it takes each lock for an instant to test it), and
// lists no empty one.
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
		if names, err := os.ReadDir(dir); !remove && err == nil && len(names) == 0 {
			// Holds nothing, and may be a receiver's not locked yet
			// (lockfile.MakeDir): not worth listing. A sweep removes it.
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
