package odb

import (
	"bytes"

	"github.com/go-git/go-git/v5/plumbing"
)

// The modes a tree entry may have, as git writes them.
const (
	ModeDir     = 0o40000
	ModeFile    = 0o100644
	ModeExec    = 0o100755
	ModeSymlink = 0o120000
	ModeGitlink = 0o160000 // a commit of another repository (submodule)
)

// maxModeDigits bounds an entry's mode: git writes at most six octal
// digits, and index-pack has always refused more than seven.
const maxModeDigits = 7

// TreeEntry is one entry of a tree. Name points into the tree's content.
type TreeEntry struct {
	Mode uint32
	Name []byte
	ID   plumbing.Hash
}

// TreeIter reads a tree's entries from its raw content, one at a time
// and without allocating, as git's tree-walk.c does: each is "MODE NAME",
// a NUL and the 20 bytes of an id, the mode in octal digits and the name
// not empty. Only the form is checked here; which modes and names are
// acceptable (fsck's rules) is the caller's business.
type TreeIter struct {
	data []byte
	err  error
}

// NewTreeIter returns an iterator over the entries of the tree data.
func NewTreeIter(data []byte) TreeIter { return TreeIter{data: data} }

// Next reads the next entry into e and says whether there was one; at
// the end, or at a malformed entry (see Err), it returns false.
func (it *TreeIter) Next(e *TreeEntry) bool {
	if it.err != nil || len(it.data) == 0 {
		return false
	}
	data := it.data
	var mode uint32
	i := 0
	for ; i < len(data) && data[i] != ' '; i++ {
		c := data[i]
		if c < '0' || c > '7' || i == maxModeDigits {
			it.err = &corruption{"tree: malformed mode"}
			return false
		}
		mode = mode<<3 | uint32(c-'0')
	}
	if i == 0 || i == len(data) {
		it.err = &corruption{"tree: malformed mode"}
		return false
	}
	data = data[i+1:]
	nul := bytes.IndexByte(data, 0)
	if nul < 0 || len(data) < nul+1+len(e.ID) {
		it.err = &corruption{"tree: truncated entry"}
		return false
	}
	if nul == 0 {
		it.err = &corruption{"tree: empty name"}
		return false
	}
	e.Mode, e.Name = mode, data[:nul]
	copy(e.ID[:], data[nul+1:])
	it.data = data[nul+1+len(e.ID):]
	return true
}

// Len is the number of bytes not read yet: those after the last entry
// Next read. A caller streaming a tree through a window reads the
// entries Next finds, drops what they took, and starts again where the
// next one begins.
func (it *TreeIter) Len() int { return len(it.data) }

// Err is the reason Next stopped early, ErrCorrupt, or nil at the end.
func (it *TreeIter) Err() error { return it.err }
