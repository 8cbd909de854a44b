package backend

import (
	"context"
	"fmt"

	"gatehouse"
)

// The Git LFS use case: a git-lfs-transfer session, served to the actor
// in the context (a user, a deploy key or an anonymous visitor) on a
// repository the transport has authorized with RepoService.Authorize for
// the session's operation. Backend implements gatehouse.LFSService with
// it, on the LFS field: each upload, lock and unlock raises an event
// (and so an audit entry) as it happens, and what needs more than the
// session's access (breaking another's lock) asks Authorize again.

var _ gatehouse.LFSService = (*Backend)(nil)

// ServeLFS serves one git-lfs-transfer session.
func (b *Backend) ServeLFS(ctx context.Context, s gatehouse.LFSSession) error {
	if b.LFS == nil {
		return ErrUnavailable
	}
	a, ok := gatehouse.ActorFromContext(ctx)
	if !ok || s.Repo == nil {
		return fmt.Errorf("no actor or repository behind this LFS session: %w", gatehouse.ErrForbidden)
	}
	repo := *s.Repo
	s.Authorize = func(ctx context.Context, op gatehouse.Operation) error {
		if op != gatehouse.OpRead && op != gatehouse.OpAdmin {
			// OpWrite could create a repository; the session was
			// authorized for it already if it needed it.
			return fmt.Errorf("lfs: authorize %v: %w", op, gatehouse.ErrForbidden)
		}
		_, _, err := b.Repos.Authorize(ctx, a, repo.Owner, repo.Name, op)
		return err
	}
	s.Record = func(ctx context.Context, kind, detail string) {
		b.publish(ctx, a, kind, repo.FullName(), detail)
	}
	return b.LFS.ServeLFS(ctx, s)
}

// LFSUsage returns the size of the LFS objects of owner/name, if the
// actor may read it.
func (b *Backend) LFSUsage(ctx context.Context, owner, name string) (int64, error) {
	if b.LFS == nil {
		return 0, ErrUnavailable
	}
	if _, err := b.FindRepo(ctx, owner, name); err != nil {
		return 0, err
	}
	return b.LFS.LFSUsage(ctx, owner, name)
}
