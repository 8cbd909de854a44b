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

// RepoOverview returns owner/name's branches, tags and latest commits.
func (b *Backend) RepoOverview(ctx context.Context, owner, name string, logLen int) (*gatehouse.RepoOverview, error) {
	r, err := b.browsable(ctx, owner, name)
	if err != nil {
		return nil, err
	}
	return b.Browse.Overview(ctx, r, logLen)
}

// BrowseTree lists the directory path of owner/name at ref.
func (b *Backend) BrowseTree(ctx context.Context, owner, name, ref, path string) (*gatehouse.TreeListing, error) {
	r, err := b.browsable(ctx, owner, name)
	if err != nil {
		return nil, err
	}
	if err := validBrowse(ref, path); err != nil {
		return nil, err
	}
	return b.Browse.Tree(ctx, r, ref, path)
}

// BrowseFile reads the file path of owner/name at ref.
func (b *Backend) BrowseFile(ctx context.Context, owner, name, ref, path string) (*gatehouse.FileView, error) {
	r, err := b.browsable(ctx, owner, name)
	if err != nil {
		return nil, err
	}
	if err := validBrowse(ref, path); err != nil {
		return nil, err
	}
	return b.Browse.File(ctx, r, ref, path)
}

// BrowseRaw streams the file path of owner/name at ref.
func (b *Backend) BrowseRaw(ctx context.Context, owner, name, ref, path string) (int64, io.ReadCloser, error) {
	r, err := b.browsable(ctx, owner, name)
	if err != nil {
		return 0, nil, err
	}
	if err := validBrowse(ref, path); err != nil {
		return 0, nil, err
	}
	return b.Browse.Raw(ctx, r, ref, path)
}

// BrowseCommit returns the commit ref names in owner/name with its diff.
func (b *Backend) BrowseCommit(ctx context.Context, owner, name, ref string) (*gatehouse.CommitDetail, error) {
	r, err := b.browsable(ctx, owner, name)
	if err != nil {
		return nil, err
	}
	if err := validBrowse(ref, ""); err != nil {
		return nil, err
	}
	return b.Browse.Commit(ctx, r, ref)
}

func (b *Backend) browsable(ctx context.Context, owner, name string) (*gatehouse.Repo, error) {
	if b.Browse == nil {
		return nil, ErrUnavailable
	}
	return b.FindRepo(ctx, owner, name)
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
