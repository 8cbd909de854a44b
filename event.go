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

	// What subscribers other than the audit log read, so that none parses
	// Detail; each is set for the kinds named.

	// Ref is the ref a push moved (AuditPush).
	Ref *RefUpdate
	// Subject is the user or "@org/team" granted or removed
	// (AuditCollabSet, AuditCollabRemove, AuditTeamGrantSet,
	// AuditTeamGrantRemove), or the old owner/name (AuditRepoRename).
	Subject string
	// Level is the level granted (AuditCollabSet, AuditTeamGrantSet).
	Level AccessLevel
	// Changed names the settings an AuditRepoUpdate was asked to set:
	// "visibility", "description", "default_branch".
	Changed []string
}

// EventSink receives events once the change has happened. Publish must
// not block for long, and cannot undo the change: a sink that fails logs
// the failure itself.
type EventSink interface {
	Publish(ctx context.Context, e Event)
}

// EventBatchSink is an EventSink that takes the events of one change
// together (the refs of one push), so that it can store what it makes of
// them in one go. The publisher calls PublishBatch instead of Publish.
type EventBatchSink interface {
	EventSink
	PublishBatch(ctx context.Context, events []Event)
}

// EventSinkFunc adapts a function to EventSink.
type EventSinkFunc func(ctx context.Context, e Event)

// Publish calls f.
func (f EventSinkFunc) Publish(ctx context.Context, e Event) { f(ctx, e) }

// AuditEventOf is the audit entry recording e.
func AuditEventOf(e Event) *AuditEvent {
	return &AuditEvent{Time: e.Time, Actor: e.Actor.Name(), Action: e.Kind, Repo: e.Repo, Detail: e.Detail, Address: e.Actor.Address}
}
