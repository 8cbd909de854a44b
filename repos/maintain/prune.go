package maintain

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gatehouse/repos/lockfile"
	"gatehouse/repos/odb"
)

// expire deletes the packs superseded more than GracePeriod ago, and the
// loose objects their superseding pack holds, and removes temporary
// files a killed run left. It returns how many packs it deleted. While a
// backup holds the packs (HoldPacks) it deletes nothing: a later run will.
func (r *repack) expire() (int, error) {
	// The lock is ours: no other run is writing these.
	for _, t := range repackTemps(r.gitDir) {
		os.Remove(t.Path)
	}
	recs, err := readSuperseded(r.packDir)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	if lockfile.Supported {
		held, err := lockfile.TryLockDir(r.packDir)
		if errors.Is(err, lockfile.ErrBusy) {
			return 0, nil // a backup is reading them
		}
		if err != nil {
			return 0, fmt.Errorf("maintain: %w", err)
		}
		defer held.Release()
	}
	now := time.Now()
	var keep []superseded
	removed := 0
	for _, rec := range recs {
		if now.Sub(rec.at) < GracePeriod {
			keep = append(keep, rec)
			continue
		}
		for _, p := range rec.packs {
			base := filepath.Join(r.packDir, p)
			if _, err := os.Stat(base + ".pack"); err == nil {
				removed++
			}
			// Index first: readers find packs through it.
			for _, ext := range []string{".idx", ".bitmap", ".rev", ".pack"} {
				if err := os.Remove(base + ext); err != nil && !os.IsNotExist(err) {
					return removed, fmt.Errorf("maintain: remove %s: %w", p+ext, err)
				}
			}
		}
		if err := r.pruneLoose(rec.by); err != nil {
			return removed, err
		}
	}
	if removed > 0 {
		syncDir(r.packDir)
	}
	return removed, writeSuperseded(r.packDir, keep)
}

// pruneLoose deletes the loose objects that pack holds (git's
// prune-packed), once that pack has been there for the grace period.
func (r *repack) pruneLoose(pack string) error {
	x, err := odb.ReadIndex(filepath.Join(r.packDir, pack+".idx"))
	if err != nil {
		return nil // superseded in turn and gone, or never installed
	}
	loose, err := listLoose(r.gitDir)
	if err != nil {
		return err
	}
	for _, id := range loose {
		if _, ok := x.Find(id); ok {
			s := id.String()
			os.Remove(filepath.Join(r.gitDir, "objects", s[:2], s[2:]))
		}
	}
	return nil
}
