package maintain

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gatehouse/repos/odb"
)

// Policy says when a repository needs a repack.
type Policy struct {
	// MaxPacks: more live packs than this (each push adds one).
	MaxPacks int
	// MinObjects: a repository with more objects than this and no usable
	// bitmap (so full clones walk the whole history).
	MinObjects int
	// MaxOutside: more objects than this outside the bitmapped pack
	// (clones walk them one by one).
	MaxOutside int
	// MaxLoose: about this many loose objects (estimated, as git's
	// gc --auto does, from one of the 256 fan-out directories).
	MaxLoose int
	// MaxLooseRefs: more loose refs than this (every advertisement
	// reads each one; a repack packs them), counting the directories
	// below refs/heads, refs/tags and the like too: a batch that wrote
	// its refs into packed-refs leaves theirs empty (refs/pull/N/), every
	// listing walks them, and a repack removes them.
	MaxLooseRefs int
}

// DefaultPolicy is what Needed applies. Eight packs keep lookups cheap
// (every miss searches each index); a few thousand objects is where a
// walk starts to cost more than the bitmap it would take to avoid it.
// A few hundred loose refs cost an advertisement more than reading
// packed-refs does.
var DefaultPolicy = Policy{MaxPacks: 8, MinObjects: 2000, MaxOutside: 10000, MaxLoose: 6700, MaxLooseRefs: 500}

// Needed reports whether gitDir should be repacked under DefaultPolicy.
func Needed(gitDir string) bool { return DefaultPolicy.Needed(gitDir) }

// Needed reports whether gitDir should be repacked. It reads only the
// pack directory listing, the first kilobyte of each index and the
// directories under refs/ until more than MaxLooseRefs refs and
// directories are seen;
// packs already superseded by a repack do not count. Any error answers
// false.
func (p Policy) Needed(gitDir string) bool {
	packDir := filepath.Join(gitDir, "objects", "pack")
	recs, err := readSuperseded(packDir)
	if err != nil {
		return false
	}
	skip := replaced(packDir, recs)
	infos, err := odb.ListPacks(gitDir)
	if err != nil {
		return false
	}
	live, total, outside := 0, 0, 0
	bitmapped := ""
	for _, info := range infos {
		if info.Bitmap {
			if bitmapped != "" {
				bitmapped = "" // more than one: none usable
				break
			}
			bitmapped = info.Name
		}
	}
	for _, info := range infos {
		if skip[info.Name] || info.Keep {
			continue
		}
		live++
		n := idxCount(info.Base() + ".idx")
		total += n
		if info.Name != bitmapped {
			outside += n
		}
	}
	if p.MaxLoose > 0 {
		if ents, err := os.ReadDir(filepath.Join(gitDir, "objects", "17")); err == nil && len(ents)*256 > p.MaxLoose {
			return true
		}
	}
	if p.MaxLooseRefs > 0 && looseRefsOver(gitDir, p.MaxLooseRefs) {
		return true
	}
	switch {
	case p.MaxPacks > 0 && live > p.MaxPacks:
		return true
	case bitmapped == "" && p.MinObjects > 0 && total > p.MinObjects:
		return true
	case bitmapped != "" && p.MaxOutside > 0 && outside > p.MaxOutside:
		return true
	}
	return false
}

// looseRefsOver reports whether gitDir has more than n loose refs and
// directories below refs/*/ (those refs.Pack removes when empty),
// reading no directory after the one holding the n+1st.
func looseRefsOver(gitDir string, n int) bool {
	seen := 0
	errEnough := errors.New("enough")
	top := filepath.Join(gitDir, "refs")
	err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a directory gone meanwhile
		}
		count := d.Type().IsRegular() && !strings.HasSuffix(d.Name(), ".lock")
		if d.IsDir() && path != top && filepath.Dir(path) != top {
			count = true
		}
		if count {
			if seen++; seen > n {
				return errEnough
			}
		}
		return nil
	})
	return err == errEnough
}

// idxCount reads an index's object count from its fan-out table (the
// index is mapped: only the pages read are).
func idxCount(path string) int {
	x, err := odb.OpenIndex(path)
	if err != nil {
		return 0
	}
	defer x.Close()
	return x.Len()
}
