package repos

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gatehouse"
	"gatehouse/repos/fsck"
	"gatehouse/repos/lockfile"
	"gatehouse/repos/maintain"
)

// What the repositories root holds besides OWNER/NAME.git directories:
// a repository being created is written in OWNER/.init-* (locked while
// it is written) and renamed into place; one being removed is renamed to
// OWNER/NAME.git.deleted-* and then removed. Either left by a killed
// process is a leftover.
const (
	initPrefix   = ".init-"
	deletedInfix = ".deleted-"
)

// Leftover kinds of the repositories root (the others are maintain's).
const (
	LeftCreate = "unfinished create"
	LeftDelete = "unfinished removal"
)

// DiskRepo is a repository directory under Root.
type DiskRepo struct {
	Repo string `json:"repo"` // OWNER/NAME
	Dir  string `json:"path"`
}

// Damaged is a repository whose refs or history are not whole.
type Damaged struct {
	DiskRepo
	Problems []fsck.Problem `json:"problems"`
	More     int            `json:"more_problems,omitempty"`
}

// Moved is a folder Check moved aside.
type Moved struct {
	Repo string `json:"repo"`
	From string `json:"from"`
	To   string `json:"to"`
}

// CheckOptions says what Check looks at and may change.
type CheckOptions struct {
	// Repair removes the leftovers (never what a live operation uses)
	// and moves orphan folders to Aside; nothing is deleted that holds
	// data.
	Repair bool
	// Aside is where Repair moves orphan folders (the data folder's
	// lost+found); Repair needs it.
	Aside string
}

// CheckReport is what Check found.
type CheckReport struct {
	// Unregistered: directories with no metadata (a failed removal, a
	// restore); a push cannot create these repositories until an
	// administrator removes, moves or registers them. Repair moves them
	// aside (Moved).
	Unregistered []DiskRepo `json:"unregistered"`
	// Missing: repositories whose directory is not there.
	Missing []DiskRepo `json:"missing"`
	// Damaged: refs that do not resolve, objects they reach that are
	// missing, corrupt or of the wrong type (fsck).
	Damaged []Damaged `json:"damaged"`
	// Leftovers: what pushes, repacks, creations and removals killed
	// midway left.
	Leftovers []maintain.Leftover `json:"leftovers"`
	// Moved: orphan folders Repair moved aside.
	Moved []Moved `json:"moved"`
	// Swept says the leftovers were removed (Repair).
	Swept bool `json:"swept"`
	// Checked counts the repositories whose history was walked, and
	// Objects the objects found reachable in them.
	Checked int   `json:"checked"`
	Objects int64 `json:"objects"`
}

// Problems says whether anything needs an administrator: leftovers
// swept and folders moved aside do not.
func (c *CheckReport) Problems() bool {
	return len(c.Unregistered)+len(c.Missing)+len(c.Damaged) > 0 ||
		(len(c.Leftovers) > 0 && !c.Swept)
}

// Check compares the repositories' metadata with the directories under
// Root (a repository's LFS objects live in its folder), walks every repository's refs and history (fsck),
// and lists what dead pushes, repacks, creations and removals left
// (maintain.Sweep, sweepRoot). It changes nothing unless opt.Repair is
// set; then it removes those leftovers, never what a live operation
// uses, and moves orphan folders into opt.Aside. Damaged repositories
// and metadata without a folder are left to the administrator.
//
// Errors: the store's, ctx's, or I/O errors reading or moving folders.
func (s *Service) Check(ctx context.Context, opt CheckOptions) (*CheckReport, error) {
	if opt.Repair && opt.Aside == "" {
		return nil, fmt.Errorf("check: repair needs a folder to move orphans to: %w", gatehouse.ErrInvalid)
	}
	rows, err := s.RepoStore.FindRepos(ctx, gatehouse.RepoFilter{})
	if err != nil {
		return nil, err
	}
	disk, err := s.onDisk()
	if err != nil {
		return nil, err
	}
	rep := &CheckReport{Unregistered: []DiskRepo{}, Missing: []DiskRepo{},
		Damaged: []Damaged{}, Leftovers: []maintain.Leftover{}, Moved: []Moved{}, Swept: opt.Repair}
	known := make(map[string]bool, len(rows))
	for _, r := range rows {
		known[r.FullName()] = true
		dir, err := s.Dir(r.Owner, r.Name)
		if err != nil {
			continue
		}
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			rep.Missing = append(rep.Missing, DiskRepo{Repo: r.FullName(), Dir: dir})
		}
	}
	// moveOrphan moves d to Aside/kind/OWNER/NAME.TIME.
	stamp := time.Now().UTC().Format("20060102T150405Z")
	moveOrphan := func(kind string, d DiskRepo) error {
		to := filepath.Join(opt.Aside, kind, filepath.Base(filepath.Dir(d.Dir)), filepath.Base(d.Dir)+"."+stamp)
		if err := moveAside(d.Dir, to); err != nil {
			return err
		}
		rep.Moved = append(rep.Moved, Moved{Repo: d.Repo, From: d.Dir, To: to})
		return nil
	}
	for _, d := range disk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !known[d.Repo] {
			if opt.Repair {
				// Read again: a creation may have registered it since.
				owner, name, _ := strings.Cut(d.Repo, "/")
				if _, err := s.RepoStore.FindRepo(ctx, owner, name); err == nil {
					continue
				} else if !errors.Is(err, gatehouse.ErrNotFound) {
					return rep, err // never move a folder the store could not rule on
				}
				if err := moveOrphan("repos", d); err != nil {
					return rep, err
				}
				continue
			}
			rep.Unregistered = append(rep.Unregistered, d)
		}
		left, err := maintain.Sweep(d.Dir, opt.Repair)
		rep.Leftovers = append(rep.Leftovers, left...)
		if err != nil {
			return rep, err
		}
		if !known[d.Repo] {
			continue
		}
		fr, err := fsck.Check(ctx, d.Dir)
		if err != nil {
			return rep, err
		}
		rep.Checked++
		rep.Objects += fr.Objects
		if !fr.OK() {
			rep.Damaged = append(rep.Damaged, Damaged{DiskRepo: d, Problems: fr.Problems, More: fr.More})
		}
	}
	left, err := sweepRoot(s.Root, opt.Repair)
	rep.Leftovers = append(rep.Leftovers, left...)
	if err != nil {
		return rep, err
	}
	return rep, nil
}

// moveAside renames from to to, making to's parent; both are in the
// data folder, so this is a rename on one file system and nothing is
// copied or deleted.
func moveAside(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("check: move %s aside: %w", from, err)
	}
	return nil
}

// sweepRoot finds, under the repositories root, what creations and
// removals killed midway left (see initPrefix), and when remove is set
// removes it: a creation's temporary folder only while holding its lock
// (its creator holds it while writing), a removal's folder always (its
// metadata is gone; whoever removes it first finishes the removal).
//
// Errors: I/O errors.
func sweepRoot(root string, remove bool) ([]maintain.Leftover, error) {
	var out []maintain.Leftover
	owners, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	for _, o := range owners {
		if !o.IsDir() {
			continue
		}
		names, err := os.ReadDir(filepath.Join(root, o.Name()))
		if err != nil {
			return out, fmt.Errorf("sweep: %w", err)
		}
		for _, n := range names {
			path := filepath.Join(root, o.Name(), n.Name())
			switch {
			case !n.IsDir():
			case strings.HasPrefix(n.Name(), initPrefix) && lockfile.Supported:
				if names, err := os.ReadDir(path); err == nil && len(names) == 0 && (!remove || young(n)) {
					// Holds nothing, and may be a creator's not locked yet:
					// one on another node sharing the folder, too.
					continue
				}
				l, err := lockfile.TryLockDir(path)
				if err != nil {
					continue // being written, or gone
				}
				out = append(out, maintain.Leftover{Path: path, Kind: LeftCreate, Bytes: dirBytes(path)})
				if remove {
					err = os.RemoveAll(path)
				}
				l.Release()
				if err != nil {
					return out, fmt.Errorf("sweep: %w", err)
				}
			case strings.Contains(n.Name(), ".git"+deletedInfix):
				out = append(out, maintain.Leftover{Path: path, Kind: LeftDelete, Bytes: dirBytes(path)})
				if remove {
					if err := os.RemoveAll(path); err != nil {
						return out, fmt.Errorf("sweep: %w", err)
					}
				}
			}
		}
	}
	return out, nil
}

// young reports whether a directory entry changed in the last minute.
func young(e fs.DirEntry) bool {
	fi, err := e.Info()
	return err == nil && time.Since(fi.ModTime()) < time.Minute
}

// onDisk lists the repository directories under Root (OWNER/NAME.git),
// sorted.
func (s *Service) onDisk() ([]DiskRepo, error) {
	return listTwoLevels(s.Root, func(name string) (string, bool) {
		return strings.CutSuffix(name, ".git")
	})
}

// listTwoLevels lists the folders OWNER/X under root for which repo
// gives a repository name, sorted.
func listTwoLevels(root string, repo func(string) (string, bool)) ([]DiskRepo, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	owners, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []DiskRepo
	for _, o := range owners {
		if !o.IsDir() {
			continue
		}
		names, err := os.ReadDir(filepath.Join(root, o.Name()))
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			name, ok := repo(n.Name())
			if !ok || !n.IsDir() {
				continue
			}
			out = append(out, DiskRepo{Repo: o.Name() + "/" + name, Dir: filepath.Join(root, o.Name(), n.Name())})
		}
	}
	slices.SortFunc(out, func(a, b DiskRepo) int { return strings.Compare(a.Repo, b.Repo) })
	return out, nil
}

// dirBytes is DirSize for a report: what could not be read counts 0.
func dirBytes(dir string) int64 {
	n, _ := DirSize(context.Background(), dir)
	return n
}
