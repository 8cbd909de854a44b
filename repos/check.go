package repos

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gatehouse"
	"gatehouse/repos/maintain"
)

// DiskRepo is a repository directory under Root.
type DiskRepo struct {
	Repo string `json:"repo"` // OWNER/NAME
	Dir  string `json:"path"`
}

// CheckReport is what Check found.
type CheckReport struct {
	// Unregistered: directories with no metadata (a failed removal, a
	// restore); a push cannot create these repositories until an
	// administrator removes, moves or registers them.
	Unregistered []DiskRepo `json:"unregistered"`
	// Missing: repositories whose directory is not there.
	Missing []DiskRepo `json:"missing"`
	// Leftovers: what pushes and repacks killed midway left.
	Leftovers []maintain.Leftover `json:"leftovers"`
	// Swept says the leftovers were removed (Check with sweep).
	Swept bool `json:"swept"`
}

// Problems says whether anything needs an administrator: leftovers
// swept do not.
func (c *CheckReport) Problems() bool {
	return len(c.Unregistered)+len(c.Missing) > 0 || (len(c.Leftovers) > 0 && !c.Swept)
}

// Check compares the repositories' metadata with the directories under
// Root and lists what dead pushes and repacks left (maintain.Sweep). It
// changes nothing unless sweep is set, and then only removes those
// leftovers, never what a live push or repack uses.
//
// Errors: the store's, or I/O errors reading Root.
func (s *Service) Check(ctx context.Context, sweep bool) (*CheckReport, error) {
	rows, err := s.RepoStore.FindRepos(ctx, gatehouse.RepoFilter{})
	if err != nil {
		return nil, err
	}
	disk, err := s.onDisk()
	if err != nil {
		return nil, err
	}
	rep := &CheckReport{Unregistered: []DiskRepo{}, Missing: []DiskRepo{}, Leftovers: []maintain.Leftover{}, Swept: sweep}
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
	for _, d := range disk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !known[d.Repo] {
			rep.Unregistered = append(rep.Unregistered, d)
		}
		left, err := maintain.Sweep(d.Dir, sweep)
		rep.Leftovers = append(rep.Leftovers, left...)
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// onDisk lists the repository directories under Root (OWNER/NAME.git),
// sorted.
func (s *Service) onDisk() ([]DiskRepo, error) {
	root, err := filepath.Abs(s.Root)
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
			name, ok := strings.CutSuffix(n.Name(), ".git")
			if !ok || !n.IsDir() {
				continue
			}
			out = append(out, DiskRepo{Repo: o.Name() + "/" + name, Dir: filepath.Join(root, o.Name(), n.Name())})
		}
	}
	slices.SortFunc(out, func(a, b DiskRepo) int { return strings.Compare(a.Repo, b.Repo) })
	return out, nil
}
