package maintain

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
	"gatehouse/repos/refs"
)

// readTips returns the distinct ids the refs and HEAD point at, in the
// order first met. The refs are read one at a time, not listed: a
// mirror's 20,000 refs name a few thousand objects.
func readTips(gitDir string) ([]plumbing.Hash, error) {
	var tips []plumbing.Hash
	seen := make(map[plumbing.Hash]bool)
	add := func(id string) {
		if h := plumbing.NewHash(id); !seen[h] {
			seen[h] = true
			tips = append(tips, h)
		}
	}
	for ref, err := range refs.Each(gitDir) {
		if err != nil {
			return nil, fmt.Errorf("maintain: refs: %w", err)
		}
		add(ref.ID)
	}
	if h, err := refs.ReadHead(gitDir); err == nil && h.ID != "" {
		add(h.ID)
	}
	return tips, nil
}

// listPacks reads the index of every pack odb.ListPacks lists that has
// no .keep and is not in skip, newest first.
func listPacks(gitDir string, skip map[string]bool) ([]packFile, error) {
	infos, err := odb.ListPacks(gitDir)
	if err != nil {
		return nil, fmt.Errorf("maintain: %w", err)
	}
	var packs []packFile
	for _, info := range infos {
		if info.Keep || skip[info.Name] {
			continue
		}
		x, err := odb.ReadIndex(info.Base() + ".idx")
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("maintain: %w", err)
		}
		packs = append(packs, packFile{name: info.Name, size: info.Size, idx: x})
	}
	return packs, nil
}

// listLoose returns the ids of the loose objects.
func listLoose(gitDir string) ([]plumbing.Hash, error) {
	var ids []plumbing.Hash
	for i := range 256 {
		dir := fmt.Sprintf("%02x", i)
		names, err := os.ReadDir(filepath.Join(gitDir, "objects", dir))
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("maintain: loose objects: %w", err)
		}
		for _, n := range names {
			if len(n.Name()) == 38 && isHex(n.Name()) && n.Type().IsRegular() {
				ids = append(ids, plumbing.NewHash(dir+n.Name()))
			}
		}
	}
	return ids, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
