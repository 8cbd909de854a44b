// Package odb opens a bare repository's object database through go-git,
// the one way every part of the Git engine reads objects.
package odb

import (
	"os"
	"path/filepath"
	"strings"

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
	return filesystem.NewStorageWithOptions(indexedPacksOnly{osfs.New(gitDir, osfs.WithBoundOS())},
		cache.NewObjectLRU(16*cache.MiByte), filesystem.Options{LargeObjectThreshold: 1 << 20})
}

// OpenForScan is Open for reading many objects in one go (a repack):
// pack files stay open between reads instead of being opened for each
// object, and the cache of delta bases is larger. The caller closes it.
func OpenForScan(gitDir string) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(indexedPacksOnly{osfs.New(gitDir, osfs.WithBoundOS())},
		cache.NewObjectLRU(64*cache.MiByte), filesystem.Options{LargeObjectThreshold: 1 << 20, KeepDescriptors: true})
}

// indexedPacksOnly hides from go-git the packs that have no index yet.
// go-git lists packs by their .pack files and fails every lookup when one
// has no .idx, which is normal for a moment while git or an install puts a
// pack in place (pack first, index last) and lasts forever after a crash
// in between; git itself skips such packs, and so do we.
type indexedPacksOnly struct{ billy.Filesystem }

func (f indexedPacksOnly) ReadDir(path string) ([]os.FileInfo, error) {
	infos, err := f.Filesystem.ReadDir(path)
	if err != nil || filepath.Base(path) != "pack" {
		return infos, err
	}
	have := make(map[string]bool, len(infos))
	for _, fi := range infos {
		have[fi.Name()] = true
	}
	out := infos[:0]
	for _, fi := range infos {
		if base, ok := strings.CutSuffix(fi.Name(), ".pack"); ok && !have[base+".idx"] {
			continue
		}
		out = append(out, fi)
	}
	return out, nil
}
