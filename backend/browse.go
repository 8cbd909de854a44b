package backend

import (
	"context"
	"io"
	"maps"
	"strings"

	"gatehouse"
)

// Code browsing: what the panel shows of a repository's contents, to
// whoever may read it. A repository the actor may not read is
// ErrNotFound, exactly like a missing one (RepoAccess decides).

// RepoView reads the contents of one repository. BrowseRepo makes it
// after asking the access decision once, so a page that shows several
// things of a repository asks once.
type RepoView struct {
	Repo *gatehouse.Repo
	b    *Backend
}

// BrowseRepo returns a view of owner/name for the actor.
func (b *Backend) BrowseRepo(ctx context.Context, owner, name string) (*RepoView, error) {
	if b.Browse == nil {
		return nil, ErrUnavailable
	}
	r, err := b.FindRepo(ctx, owner, name)
	if err != nil {
		return nil, err
	}
	return &RepoView{Repo: r, b: b}, nil
}

// Overview returns the repository's branches, tags and latest commits.
func (v *RepoView) Overview(ctx context.Context, logLen int) (*gatehouse.RepoOverview, error) {
	return v.b.Browse.Overview(ctx, v.Repo, logLen)
}

// Tree lists the directory path at ref.
func (v *RepoView) Tree(ctx context.Context, ref, path string) (*gatehouse.TreeListing, error) {
	if err := validBrowse(ref, path); err != nil {
		return nil, err
	}
	return v.b.Browse.Tree(ctx, v.Repo, ref, path)
}

// File reads the file path at ref.
func (v *RepoView) File(ctx context.Context, ref, path string) (*gatehouse.FileView, error) {
	if err := validBrowse(ref, path); err != nil {
		return nil, err
	}
	return v.b.Browse.File(ctx, v.Repo, ref, path)
}

// Raw streams the file path at ref.
func (v *RepoView) Raw(ctx context.Context, ref, path string) (int64, io.ReadCloser, error) {
	if err := validBrowse(ref, path); err != nil {
		return 0, nil, err
	}
	return v.b.Browse.Raw(ctx, v.Repo, ref, path)
}

// Commit returns the commit ref names, with its diff.
func (v *RepoView) Commit(ctx context.Context, ref string) (*gatehouse.CommitDetail, error) {
	if err := validBrowse(ref, ""); err != nil {
		return nil, err
	}
	return v.b.Browse.Commit(ctx, v.Repo, ref)
}

func validBrowse(ref, path string) error {
	if err := gatehouse.ValidateBrowseRef(ref); err != nil {
		return err
	}
	return gatehouse.ValidateBrowsePath(path)
}

// PushSubjects returns the subject lines of the commits pushes moved
// their refs to, by id, for the pushes' repositories the actor may read.
func (b *Backend) PushSubjects(ctx context.Context, pushes []*gatehouse.AuditEvent) map[string]string {
	out := map[string]string{}
	if b.Browse == nil {
		return out
	}
	byRepo := map[string][]string{}
	for _, p := range pushes {
		if u, ok := gatehouse.ParsePushDetail(p.Detail); ok && u.New != "" {
			byRepo[p.Repo] = append(byRepo[p.Repo], u.New)
		}
	}
	for full, ids := range byRepo {
		owner, name, _ := strings.Cut(full, "/")
		r, err := b.FindRepo(ctx, owner, name)
		if err != nil {
			continue
		}
		m, err := b.Browse.Subjects(ctx, r, ids)
		if err != nil {
			b.logger().Warn("push subjects", "repo", full, "err", err)
			continue
		}
		maps.Copy(out, m)
	}
	return out
}
