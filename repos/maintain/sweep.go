package maintain

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gatehouse/repos/indexpack"
	"gatehouse/repos/lockfile"
	"gatehouse/repos/uploadpack"
)

// What a push or a repack killed midway (SIGKILL, power loss) leaves in a
// repository, and how Sweep tells it from what a live one is using. Age
// never decides; a lock that dies with its holder does (repos/lockfile):
//
//   - a quarantine (objects/tmp_objdir-incoming-*) is locked by its
//     receiver for its whole life (repos/indexpack);
//   - ref lock files (HEAD.lock, packed-refs.lock, refs/**/*.lock) are
//     made by pushes, and every push holds the repository's push lock
//     (HoldPush) shared while it runs, and by a repack packing the refs,
//     which holds the repack lock; Sweep lists or removes them only while
//     it holds the push lock exclusively and no repack runs, so no push
//     or repack of any Gatehouse process on the data folder is running
//     (listing checks the repack lock before and after, it does not take
//     it: that would remove a dead repack's lock file). A git command
//     run by hand on the repository at that moment is not covered: its
//     lock files live for milliseconds, and git itself leaves them
//     behind when killed;
//   - a repack's temporary files, and its lock file, are removed only by
//     whoever holds the repack lock (lockName);
//   - the clone cache's temporary files are locked by the clone writing
//     them (uploadpack.SweepCache).

// Leftover is a file or directory a dead push or repack left behind.
type Leftover struct {
	Path  string `json:"path"`
	Kind  string `json:"kind"` // LeftQuarantine, LeftRefLock, LeftRepack or LeftCloneCache
	Bytes int64  `json:"bytes"`
}

// Leftover kinds.
const (
	LeftQuarantine = "quarantine"
	LeftRefLock    = "ref lock"
	LeftRepack     = "repack temporary"
	LeftCloneCache = "clone cache temporary"
)

// HoldPush takes the repository's push lock shared and returns it; a
// push holds it from its first ref lock file to its last. Pushes do not
// exclude each other; it waits while a Sweep holds it (a short while).
//
// Errors: the repository is not there; I/O errors.
func HoldPush(gitDir string) (*lockfile.Lock, error) {
	if !lockfile.Supported {
		return nil, nil
	}
	l, err := lockfile.LockDirShared(gitDir)
	if err != nil {
		return nil, fmt.Errorf("maintain: push lock: %w", err)
	}
	return l, nil
}

// Sweep finds what dead pushes and repacks left in the repository at
// gitDir (see Leftover), and when remove is set removes it. Whatever a
// live push or repack, of this process or another, is using is left
// alone. Without remove it changes nothing.
//
// Errors: I/O errors; what was swept before one is returned with it.
func Sweep(gitDir string, remove bool) ([]Leftover, error) {
	if !lockfile.Supported {
		return nil, nil
	}
	left, err := quarantines(gitDir, remove)
	if err != nil {
		return left, err
	}
	cached, err := uploadpack.SweepCache(gitDir, remove)
	for _, t := range cached {
		left = append(left, Leftover{Path: t.Path, Kind: LeftCloneCache, Bytes: t.Bytes})
	}
	if err != nil {
		return left, fmt.Errorf("maintain: %w", err)
	}
	// Ref lock files are made by pushes and by a repack's refs.Pack, and
	// a repack's temporaries by it: all wait for no repack to run.
	lockPath := filepath.Join(gitDir, lockName)
	if !remove {
		held, err := lockfile.Held(lockPath)
		if err != nil || held {
			return left, err
		}
		found, err := refLockFiles(gitDir, false)
		if err != nil {
			return left, err
		}
		if fi, err := os.Stat(lockPath); err == nil {
			found = append(found, Leftover{Path: lockPath, Kind: LeftRepack, Bytes: fi.Size()})
		}
		found = append(found, repackTemps(gitDir)...)
		seen := make([]fs.FileInfo, len(found))
		for i, l := range found {
			seen[i], _ = os.Lstat(l.Path)
		}
		if held, err := lockfile.Held(lockPath); err != nil || held {
			return left, err // one started meanwhile: what was found may be its
		}
		return append(left, stillThere(found, seen)...), nil
	}
	_, statErr := os.Stat(lockPath)
	lock, err := lockfile.TryLockFile(lockPath)
	if errors.Is(err, lockfile.ErrBusy) {
		return left, nil // a repack runs; it sweeps its own
	}
	if err != nil {
		return left, fmt.Errorf("maintain: %w", err)
	}
	defer lock.Release() // removes a lock file a dead repack left too
	if statErr == nil {
		left = append(left, Leftover{Path: lockPath, Kind: LeftRepack})
	}
	locks, err := refLockFiles(gitDir, true)
	left = append(left, locks...)
	if err != nil {
		return left, err
	}
	temps := repackTemps(gitDir)
	for _, t := range temps {
		if err := os.Remove(t.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return left, fmt.Errorf("maintain: %w", err)
		}
	}
	return append(left, temps...), nil
}

// stillThere keeps the leftovers that are still the files seen when
// they were listed: a repack that started and finished between the two
// looks at its lock made, and then removed, its lock file and
// temporaries, which were listed meanwhile.
func stillThere(found []Leftover, seen []fs.FileInfo) []Leftover {
	kept := found[:0]
	for i, l := range found {
		if seen[i] == nil {
			continue
		}
		if fi, err := os.Lstat(l.Path); err == nil && os.SameFile(fi, seen[i]) {
			kept = append(kept, l)
		}
	}
	return kept
}

// sweepPushes removes what dead pushes left: quarantines, and ref lock
// files when no push is running. The caller holds the repack lock.
func sweepPushes(gitDir string) ([]Leftover, error) {
	left, err := quarantines(gitDir, true)
	if err != nil {
		return left, err
	}
	locks, err := refLockFiles(gitDir, true)
	return append(left, locks...), err
}

// quarantines sweeps the quarantines no push holds.
func quarantines(gitDir string, remove bool) ([]Leftover, error) {
	qs, err := indexpack.SweepQuarantines(gitDir, remove)
	var left []Leftover
	for _, q := range qs {
		left = append(left, Leftover{Path: q.Path, Kind: LeftQuarantine, Bytes: q.Bytes})
	}
	if err != nil {
		return left, fmt.Errorf("maintain: %w", err)
	}
	return left, nil
}

// refLockFiles lists the ref lock files, and with remove removes them,
// while holding the push lock exclusively: no push is running, so none
// is a push's. The caller makes sure no repack is packing refs. While a
// push runs it finds nothing.
func refLockFiles(gitDir string, remove bool) ([]Leftover, error) {
	l, err := lockfile.TryLockDir(gitDir)
	if errors.Is(err, lockfile.ErrBusy) {
		return nil, nil // a push runs: the next sweep will do
	}
	if err != nil {
		return nil, fmt.Errorf("maintain: %w", err)
	}
	defer l.Release()
	locks := refLocks(gitDir)
	if !remove {
		return locks, nil
	}
	for i, rl := range locks {
		if err := os.Remove(rl.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return locks[:i], fmt.Errorf("maintain: %w", err)
		}
	}
	return locks, nil
}

// refLocks lists the repository's ref lock files.
func refLocks(gitDir string) []Leftover {
	var out []Leftover
	add := func(path string, fi fs.FileInfo) {
		out = append(out, Leftover{Path: path, Kind: LeftRefLock, Bytes: fi.Size()})
	}
	for _, name := range []string{"HEAD.lock", "packed-refs.lock"} {
		p := filepath.Join(gitDir, name)
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
			add(p, fi)
		}
	}
	filepath.WalkDir(filepath.Join(gitDir, "refs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && strings.HasSuffix(d.Name(), ".lock") {
			if fi, err := d.Info(); err == nil {
				add(p, fi)
			}
		}
		return nil
	})
	return out
}

// repackTemps lists a repack's temporary files.
func repackTemps(gitDir string) []Leftover {
	var out []Leftover
	for _, pat := range []string{
		filepath.Join(gitDir, "objects", "pack", tmpPrefix+"*"),
		filepath.Join(gitDir, "objects", "pack", supersededName+".tmp"),
		filepath.Join(gitDir, "objects", "info", "tmp_graph_*"), // commitgraph.Write's
	} {
		ms, _ := filepath.Glob(pat)
		for _, m := range ms {
			if fi, err := os.Lstat(m); err == nil && fi.Mode().IsRegular() {
				out = append(out, Leftover{Path: m, Kind: LeftRepack, Bytes: fi.Size()})
			}
		}
	}
	return out
}
