package gatehouse

import (
	"context"
	"time"
)

// Event is one change the use-case layer made: a user, key, repository,
// organization, member, collaborator, token, deploy key or protected
// branch created, changed or removed. Kind is the audit action
// (AuditUserCreate, ...); the audit entry is written from the event, and
// hooks, webhooks and metrics subscribe to the same events.
type Event struct {
	Kind   string
	Actor  Actor
	Repo   string // owner/name, when the change is to a repository
	Detail string
	Time   time.Time
}

// EventSink receives events once the change has happened. Publish must
// not block for long, and cannot undo the change: a sink that fails logs
// the failure itself.
type EventSink interface {
	Publish(ctx context.Context, e Event)
}

// EventSinkFunc adapts a function to EventSink.
type EventSinkFunc func(ctx context.Context, e Event)

// Publish calls f.
func (f EventSinkFunc) Publish(ctx context.Context, e Event) { f(ctx, e) }

// AuditEventOf is the audit entry recording e.
func AuditEventOf(e Event) *AuditEvent {
	return &AuditEvent{Time: e.Time, Actor: e.Actor.Name(), Action: e.Kind, Repo: e.Repo, Detail: e.Detail, Address: e.Actor.Address}
}
