package gatehouse

import (
	"context"
	"time"
)

// Audit actions. The set grows with the product; readers must accept
// actions they do not know.
const (
	AuditLogin        = "login"
	AuditLoginRefused = "login.refused"
	AuditPush         = "push"
	AuditRefused      = "refused"
	AuditUserCreate   = "user.create"
	AuditUserUpdate   = "user.update"
	AuditUserDelete   = "user.delete"
	AuditKeyAdd       = "key.add"
	AuditKeyRemove    = "key.remove"
	AuditRepoCreate   = "repo.create"
	AuditRepoUpdate   = "repo.update"
	AuditRepoRename   = "repo.rename"
	AuditRepoDelete   = "repo.delete"
	AuditCollabSet    = "collab.set"
	AuditCollabRemove = "collab.remove"
)

// AuditEvent is one line of the audit log.
type AuditEvent struct {
	ID     int64     `json:"id"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"` // user name, "deploy-key:FP", "cli" or "" for anonymous
	Action string    `json:"action"`
	Repo   string    `json:"repo,omitempty"` // owner/name
	// Detail is free text: refs pushed, a refusal's reason, a fingerprint.
	Detail  string `json:"detail,omitempty"`
	Address string `json:"address,omitempty"`
}

// AuditFilter narrows FindAuditEvents; zero fields match everything.
type AuditFilter struct {
	Actor string
	Repo  string
	Since time.Time
	Limit int
}

// AuditService records and reads the audit log.
type AuditService interface {
	// RecordEvent stores e, filling ID and, if zero, Time.
	RecordEvent(ctx context.Context, e *AuditEvent) error
	// RecordEvents stores events in one go, in their order, filling each
	// one's ID and, if zero, Time: all of them or, on error, none. A nil
	// event is ErrInvalid; an empty list records nothing.
	RecordEvents(ctx context.Context, events []*AuditEvent) error
	// FindAuditEvents returns matching events, oldest first.
	FindAuditEvents(ctx context.Context, f AuditFilter) ([]*AuditEvent, error)
}
