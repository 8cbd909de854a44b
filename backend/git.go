package backend

import (
	"context"
	"fmt"
	"time"

	"gatehouse"
)

// The Git use cases: a fetch, an archive or a push, served to the actor in
// the context (a user, a deploy key or an anonymous visitor) on a
// repository the transport has already authorized with
// RepoService.Authorize. Backend implements gatehouse.GitService with
// them, on the Git field. A push raises one event per ref it moved.

var _ gatehouse.GitService = (*Backend)(nil)

// UploadPack serves a fetch or clone of repo.
func (b *Backend) UploadPack(ctx context.Context, repo *gatehouse.Repo, s gatehouse.GitSession) error {
	if b.Git == nil {
		return ErrUnavailable
	}
	return b.Git.UploadPack(ctx, repo, s)
}

// UploadArchive serves `git archive --remote` of repo.
func (b *Backend) UploadArchive(ctx context.Context, repo *gatehouse.Repo, s gatehouse.GitSession) error {
	if b.Git == nil {
		return ErrUnavailable
	}
	return b.Git.UploadArchive(ctx, repo, s)
}

// pushEventChunk bounds the events (and audit rows) of a push held at
// once: a mirror push moves tens of thousands of refs.
const pushEventChunk = 1000

// ReceivePack serves a push to repo and raises an AuditPush event for
// every ref it moved, even when it then fails (an update that happened
// is recorded whatever came after it). The audit entries of one push are
// written together, up to pushEventChunk in one go, each chunk's made
// from the push's own record of its refs when its turn comes.
func (b *Backend) ReceivePack(ctx context.Context, repo *gatehouse.Repo, s gatehouse.GitSession) (*gatehouse.PushResult, error) {
	if b.Git == nil {
		return nil, ErrUnavailable
	}
	a, ok := gatehouse.ActorFromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("no actor behind this push: %w", gatehouse.ErrForbidden)
	}
	res, err := b.Git.ReceivePack(ctx, repo, s)
	if res == nil || res.Updated.Len() == 0 {
		return res, err
	}
	now, name, n := time.Now(), repo.FullName(), res.Updated.Len()
	events := make([]gatehouse.Event, 0, min(n, pushEventChunk))
	for i := range n {
		u := res.Updated.At(i)
		detail := fmt.Sprintf("%s %s %s", u.Name, u.Old, u.New)
		if u.Forced {
			detail += " forced"
		}
		events = append(events, gatehouse.Event{Kind: gatehouse.AuditPush, Actor: a, Repo: name, Detail: detail, Time: now, Ref: &u})
		if len(events) == pushEventChunk || i == n-1 {
			b.publishAll(ctx, events)
			clear(events)
			events = events[:0]
		}
	}
	return res, err
}
