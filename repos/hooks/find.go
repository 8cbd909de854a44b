package hooks

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Kind names a hook the way git does.
type Kind int

// The hooks a push runs, in the order it runs them.
const (
	PreReceive Kind = iota
	Update
	PostReceive
	nkinds
)

var kindNames = [nkinds]string{"pre-receive", "update", "post-receive"}

func (k Kind) String() string { return kindNames[k] }

// Hooks are the hook programs found for one repository, per kind: the
// repository's own hooks/KIND first, then DATA/hooks/KIND.d/* in name
// order.
type Hooks struct {
	paths [nkinds][]string
}

// Paths returns the programs run for kind, in order.
func (h *Hooks) Paths(k Kind) []string {
	if h == nil {
		return nil
	}
	return h.paths[k]
}

// Find lists the hooks that apply to the repository at gitDir: its own
// hooks/pre-receive, hooks/update and hooks/post-receive, and every
// program in globalDir's pre-receive.d, update.d and post-receive.d
// (globalDir "" for none). A program is a regular file with an execute
// bit, reached directly or through a symbolic link; dotfiles, editor
// backups and git's *.sample files are skipped. It returns nil when there
// is none, which is the common case and costs one directory read for the
// repository and one for globalDir.
//
// Errors: an I/O error other than a missing directory; the caller should
// refuse the push then, since a policy it cannot read cannot be applied.
func Find(globalDir, gitDir string) (*Hooks, error) {
	var h Hooks
	found := false
	own, err := readDir(filepath.Join(gitDir, "hooks"))
	if err != nil {
		return nil, err
	}
	for _, e := range own {
		for k, name := range kindNames {
			if e.Name() != name {
				continue
			}
			path := filepath.Join(gitDir, "hooks", name)
			ok, err := runnable(path, e)
			if err != nil {
				return nil, err
			}
			if ok {
				h.paths[k] = append(h.paths[k], path)
				found = true
			}
		}
	}
	if globalDir != "" {
		dirs, err := readDir(globalDir)
		if err != nil {
			return nil, err
		}
		for _, d := range dirs {
			for k, name := range kindNames {
				if d.Name() != name+".d" {
					continue
				}
				n, err := h.addDir(Kind(k), filepath.Join(globalDir, d.Name()))
				if err != nil {
					return nil, err
				}
				found = found || n > 0
			}
		}
	}
	if !found {
		return nil, nil
	}
	return &h, nil
}

// addDir adds the programs of one KIND.d directory, in name order
// (os.ReadDir sorts).
func (h *Hooks) addDir(k Kind, dir string) (int, error) {
	entries, err := readDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if skipped(e.Name()) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		ok, err := runnable(path, e)
		if err != nil {
			return n, err
		}
		if ok {
			h.paths[k] = append(h.paths[k], path)
			n++
		}
	}
	return n, nil
}

// readDir reads a directory; a missing one is empty.
func readDir(dir string) ([]os.DirEntry, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hooks: %w", err)
	}
	return entries, nil
}

// runnable says whether path is a program to run: a regular file with an
// execute bit, itself or at the end of its symbolic links. A dangling
// link is skipped, as git skips a hook it cannot find.
func runnable(path string, e os.DirEntry) (bool, error) {
	mode := e.Type()
	if mode&fs.ModeSymlink != 0 {
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("hooks: %w", err)
		}
		return fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0, nil
	}
	if !mode.IsRegular() {
		return false, nil
	}
	fi, err := e.Info()
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("hooks: %w", err)
	}
	return fi.Mode().Perm()&0o111 != 0, nil
}

// skipped tells the files of a KIND.d directory that are not hooks even
// when executable: dotfiles (editor swap files among them), backups and
// leftovers of editors and package managers, git's samples.
func skipped(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "#") || strings.HasSuffix(name, "~") {
		return true
	}
	for _, suffix := range []string{".bak", ".orig", ".rej", ".swp", ".tmp", ".sample", ".dpkg-old", ".dpkg-new", ".dpkg-dist", ".rpmnew", ".rpmsave"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}
