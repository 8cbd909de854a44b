// Package odb is the engine's object layer: it owns git's object
// formats on disk, and every other package of the engine reads and
// writes them through it.
//
//   - Which packs there are: ListPacks, the one listing rule (pack.go).
//   - Pack indexes, version 2: WriteIndex, ReadIndex, and OpenIndex to map
//     one (idx.go).
//   - A pack opened once and shared: Pack, its mapped index, its file
//     checked against the index, and its reverse index, RevIndex (offset
//     to object, entry ends), built on first use (pack.go, revindex.go).
//     repos/uploadpack opens them and hands them to repos/packobjects and
//     repos/bitmap for the same fetch.
//   - Loose objects: LoosePath, StatLoose, OpenLoose (loose.go).
//   - Reader (OpenReader), the engine's own object reader: packs through
//     their mapped index, entry headers, delta chains resolved
//     iteratively with one bounded base cache, and loose objects, with
//     every size bounded before it is allocated. repos/archive reads
//     through it.
//
// Open and OpenForScan give go-git's object store, bound to the
// repository and shown only the packs ListPacks lists, for the parts of
// the engine still built on it: repos/indexpack (thin-pack bases,
// connectivity walks), repos/packobjects (the deltas it must write whole)
// and repos/maintain (the repack's walk).
package odb

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Open returns the object store of the repository at gitDir.
//
//   - The filesystem is bound to gitDir, so symlinks inside the repository
//     cannot reach elsewhere.
//   - Objects above 1 MiB are streamed from disk, not held in memory.
//   - Packs without an index are hidden (see indexedPacksOnly).
//
// The caller closes it.
func Open(gitDir string) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(indexedPacksOnly{osfs.New(gitDir, osfs.WithBoundOS()), gitDir},
		cache.NewObjectLRU(16*cache.MiByte), filesystem.Options{LargeObjectThreshold: 1 << 20})
}

// OpenForScan is Open for reading many objects in one go (a repack):
// pack files stay open between reads instead of being opened for each
// object, and the cache of delta bases is larger. The caller closes it.
func OpenForScan(gitDir string) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(indexedPacksOnly{osfs.New(gitDir, osfs.WithBoundOS()), gitDir},
		cache.NewObjectLRU(64*cache.MiByte), filesystem.Options{LargeObjectThreshold: 1 << 20, KeepDescriptors: true})
}

// indexedPacksOnly shows go-git the packs ListPacks lists, and no
// other: go-git lists packs by their .pack files and fails every lookup
// when one has no .idx, which is normal for a moment while git or an
// install puts a pack in place (pack first, index last) and lasts forever
// after a crash in between. It also keeps go-git from failing on files
// that vanish while objects/pack is read: billy's ReadDir lstat's every
// entry and fails on one a concurrent repack removed in between, and
// go-git takes that failure for a repository without packs.
type indexedPacksOnly struct {
	billy.Filesystem
	gitDir string
}

func (f indexedPacksOnly) ReadDir(path string) ([]os.FileInfo, error) {
	if filepath.Clean(path) != filepath.Join("objects", "pack") {
		return f.Filesystem.ReadDir(path)
	}
	dir := filepath.Join(f.gitDir, "objects", "pack")
	if fi, err := os.Lstat(dir); err == nil && !fi.IsDir() {
		// A symlink: leave it to the bound filesystem to judge.
		return f.Filesystem.ReadDir(path)
	}
	packs, err := ListPacks(f.gitDir)
	if err != nil {
		return nil, err
	}
	infos := make([]os.FileInfo, 0, len(packs))
	for _, p := range packs {
		fi, err := os.Lstat(p.Path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		infos = append(infos, fi)
	}
	return infos, nil
}
