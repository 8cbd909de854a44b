// Package backend runs Gatehouse's use cases: every change an operator or
// user makes through the web API, the panel or the command line, and
// every Git operation sshd serves (git.go), goes through one method here,
// which takes the actor from the context, checks what the actor may do,
// calls the store, and raises the event (from which the audit entry is
// written). The transports only translate requests to these calls and
// their results back.
//
// Access to repositories is decided by RepoService.Authorize (which
// applies gatehouse.Decide) or, for creation, gatehouse.Decide itself; to
// organizations by gatehouse.DecideOrg. The local operator
// (gatehouse.LocalActor) is trusted and passes every check.
package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gatehouse"
)

// ErrUnavailable is for a service the server was started without.
var ErrUnavailable = errors.New("not available on this server")

// Backend implements the use cases on the root services. Set the fields;
// Orgs, DeployKeys, Protection and Events may be nil (the methods that
// need the first three then return ErrUnavailable).
type Backend struct {
	Users      gatehouse.UserService
	Keys       gatehouse.KeyService
	Repos      gatehouse.RepoService
	Orgs       gatehouse.OrgService
	Tokens     gatehouse.TokenService
	DeployKeys gatehouse.DeployKeyService
	Protection gatehouse.ProtectionService
	Audit      gatehouse.AuditService
	Logins     gatehouse.LoginLinker

	// KeyPolicies keeps the key policies (keypolicy.go); may be nil.
	KeyPolicies gatehouse.KeyPolicyService

	// Webhooks keeps webhooks and deliveries (webhooks.go); may be nil.
	Webhooks gatehouse.WebhookService
	// Git serves the Git protocol (see git.go).
	Git gatehouse.GitService
	// LFS, when set, serves Git LFS (see lfs.go).
	LFS gatehouse.LFSService
	// Browse, when set, reads repositories' contents for the panel
	// (browse.go).
	Browse gatehouse.CodeBrowser
	// StepUp, when set, keeps two-factor step-up state (stepup.go);
	// StepUpWindow is how long a verified code opens a window (0: the
	// default).
	StepUp       gatehouse.StepUpService
	StepUpWindow time.Duration

	// Events, when set, receives every change after its audit entry is
	// written.
	Events gatehouse.EventSink
	Logger *slog.Logger
}

// actor returns the actor in ctx: a user or the local operator. Anyone
// else, or no actor at all, is refused.
func actor(ctx context.Context) (gatehouse.Actor, error) {
	a, ok := gatehouse.ActorFromContext(ctx)
	if !ok || !a.Local() && (a.User == nil || a.DeployKey != nil) {
		return gatehouse.Actor{}, fmt.Errorf("no user behind this request: %w", gatehouse.ErrForbidden)
	}
	return a, nil
}

// userActor returns the actor in ctx if they may see user's account.
func userActor(ctx context.Context, user string) (gatehouse.Actor, error) {
	a, err := actor(ctx)
	if err != nil {
		return a, err
	}
	return a, userVisible(a, user)
}

// repoAdminActor returns the actor in ctx if they administer owner/name.
func (b *Backend) repoAdminActor(ctx context.Context, owner, name string) (gatehouse.Actor, error) {
	a, err := actor(ctx)
	if err != nil {
		return a, err
	}
	return a, b.repoAdmin(ctx, a, owner, name)
}

// publish records a change that has happened: the audit entry first,
// then the event for the other subscribers. A failed audit write is
// logged rather than returned, since the change cannot be undone.
func (b *Backend) publish(ctx context.Context, a gatehouse.Actor, kind, repo, detail string) {
	b.publishEvent(ctx, gatehouse.Event{Kind: kind, Actor: a, Repo: repo, Detail: detail})
}

// publishEvent is publish for an event that carries structured facts.
func (b *Backend) publishEvent(ctx context.Context, e gatehouse.Event) {
	e.Time = time.Now()
	b.publishAll(ctx, []gatehouse.Event{e})
}

// publishAll is publish for changes made together (the refs of one
// push): their audit entries are written in one go.
func (b *Backend) publishAll(ctx context.Context, events []gatehouse.Event) {
	ctx = context.WithoutCancel(ctx)
	rows := make([]*gatehouse.AuditEvent, len(events))
	for i, e := range events {
		rows[i] = gatehouse.AuditEventOf(e)
	}
	if err := b.Audit.RecordEvents(ctx, rows); err != nil {
		b.logger().Error("audit write failed", "err", err, "action", events[0].Kind, "events", len(events))
	}
	switch s := b.Events.(type) {
	case nil:
	case gatehouse.EventBatchSink:
		s.PublishBatch(ctx, events)
	default:
		for _, e := range events {
			s.Publish(ctx, e)
		}
	}
}

func (b *Backend) logger() *slog.Logger {
	if b.Logger == nil {
		return slog.Default()
	}
	return b.Logger
}

// siteAdmin reports whether a has site-admin powers.
func siteAdmin(a gatehouse.Actor) bool { return a.Local() || a.User.Admin }

func requireSiteAdmin(a gatehouse.Actor, what string) error {
	if !siteAdmin(a) {
		return fmt.Errorf("only site admins may %s: %w", what, gatehouse.ErrForbidden)
	}
	return nil
}

// userVisible returns ErrNotFound unless a may see user name's account:
// site admins see everyone, others only themselves. Not ErrForbidden, so
// that nobody learns which names exist.
func userVisible(a gatehouse.Actor, name string) error {
	if siteAdmin(a) || a.User.Name == name {
		return nil
	}
	return fmt.Errorf("user %q: %w", name, gatehouse.ErrNotFound)
}

// authorize returns the repository and a's level on it if a may do op,
// as RepoService.Authorize decides; for the local operator, the
// repository as stored. Read and admin are the only operations asked for
// here, so Authorize never creates a repository.
func (b *Backend) authorize(ctx context.Context, a gatehouse.Actor, owner, name string, op gatehouse.Operation) (*gatehouse.Repo, gatehouse.AccessLevel, error) {
	if op == gatehouse.OpWrite || op == gatehouse.OpCreate {
		return nil, gatehouse.AccessNone, errors.New("backend: authorize with OpWrite would create repositories")
	}
	if a.Local() {
		r, err := b.Repos.FindRepo(ctx, owner, name)
		return r, gatehouse.AccessAdmin, err
	}
	return b.Repos.Authorize(ctx, a, owner, name, op)
}

// repoAdmin returns nil if a administers owner/name. For the local
// operator it checks nothing: the store reports a missing repository.
func (b *Backend) repoAdmin(ctx context.Context, a gatehouse.Actor, owner, name string) error {
	if a.Local() {
		return nil
	}
	_, _, err := b.Repos.Authorize(ctx, a, owner, name, gatehouse.OpAdmin)
	return err
}

// checkGrant refuses a level that is not one to grant: read, write or
// admin ("none" is removal).
func checkGrant(lvl gatehouse.AccessLevel) error {
	if lvl < gatehouse.AccessRead || lvl > gatehouse.AccessAdmin {
		return fmt.Errorf("level %q must be read, write or admin: %w", lvl, gatehouse.ErrInvalid)
	}
	return nil
}
