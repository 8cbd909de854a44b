package indexpack

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// walkTree checks a tree's entries: their form (odb.TreeIter), that each
// mode is one git writes and each name one a checkout may write; and
// calls fn for each.
func walkTree(data []byte, fn func(mode uint32, name []byte, id plumbing.Hash) error) error {
	entries := odb.NewTreeIter(data)
	var e odb.TreeEntry
	for entries.Next(&e) {
		switch e.Mode {
		case odb.ModeDir, odb.ModeFile, odb.ModeExec, odb.ModeSymlink, odb.ModeGitlink, 0o100664:
			// 100664 comes from very old git and is still accepted by fsck.
		default:
			return fmt.Errorf("bad tree entry mode %o", e.Mode)
		}
		if err := checkEntryName(e.Name); err != nil {
			return err
		}
		if err := fn(e.Mode, e.Name, e.ID); err != nil {
			return err
		}
	}
	return entries.Err()
}

// checkEntryName refuses the names a checkout must never write: ones that
// leave the directory and ".git" in any case (CVE-2014-9390). Sorting and
// duplicates are left to fsck, as git's receive-pack does by default.
func checkEntryName(name []byte) error {
	switch {
	case len(name) == 0:
		return errors.New("empty name in tree")
	case bytes.IndexByte(name, '/') >= 0:
		return errors.New("tree entry name contains '/'")
	case string(name) == "." || string(name) == "..":
		return errors.New("tree entry named . or ..")
	case strings.EqualFold(string(name), ".git"):
		return errors.New("tree entry named .git")
	}
	return nil
}
