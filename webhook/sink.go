// Package webhook sends events to webhooks: Sink turns the backend's
// events into GitHub-shaped payloads queued in the database (one delivery
// per matching webhook, stored before the change is acknowledged), and
// Worker sends them, signed, through a dialer that refuses private
// addresses, retrying with backoff.
//
// The flow: backend.publishAll → Sink.PublishBatch (AnyWebhooks, a stat;
// MatchWebhooks; payloads, reading commits through repos/odb;
// EnqueueDeliveries, one transaction) → Worker (ClaimDeliveries, POST,
// FinishAttempt).
package webhook

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse"
	"gatehouse/repos/odb"
)

// MaxPayload bounds a payload. Commit messages are cut at 16 KiB and 20
// commits are listed, so only a push of huge author names could reach it;
// such a payload is sent with its commit list emptied.
const MaxPayload = 1 << 20

// walkedRefs is how many refs of one push get their commits listed; the
// payloads of the others (a mirror push of thousands of refs) list none,
// so that what a push costs before it is acknowledged stays bounded by a
// commit read per ref.
const walkedRefs = 100

// Sink is the gatehouse.EventBatchSink that queues deliveries.
type Sink struct {
	Hooks gatehouse.WebhookService
	// Repos gives the repository's settings for the payload.
	Repos gatehouse.RepoStore
	// GitDir locates a repository's folder, for its commits.
	GitDir func(owner, name string) (string, error)
	Logger *slog.Logger

	sshBase atomic.Pointer[string]
	notify  atomic.Pointer[func()]
}

var _ gatehouse.EventBatchSink = (*Sink)(nil)

// SetSSHBase sets what ssh_url starts with ("ssh://git@host:2222/").
func (s *Sink) SetSSHBase(base string) { s.sshBase.Store(&base) }

// SetNotify sets the function told that deliveries were queued.
func (s *Sink) SetNotify(f func()) { s.notify.Store(&f) }

// Publish queues the deliveries of one event.
func (s *Sink) Publish(ctx context.Context, e gatehouse.Event) {
	s.PublishBatch(ctx, []gatehouse.Event{e})
}

// PublishBatch queues the deliveries of events in one transaction. With
// no webhook at all it asks the database nothing. Failures are logged:
// the change has happened and cannot be refused any more.
func (s *Sink) PublishBatch(ctx context.Context, events []gatehouse.Event) {
	if exist, err := s.Hooks.AnyWebhooks(ctx); err != nil || !exist {
		if err != nil {
			s.logger().Error("webhooks: cannot tell whether any exist", "err", err)
		}
		return
	}
	b := &batch{s: s, matched: map[string][]*gatehouse.Webhook{}, repos: map[string]*gatehouse.Repo{}}
	defer b.close()
	for _, e := range events {
		for _, m := range messages(e) {
			if err := b.add(ctx, e, m); err != nil {
				s.logger().Error("webhooks: event not queued", "err", err, "event", m.event, "repo", e.Repo)
			}
		}
	}
	if len(b.out) == 0 {
		return
	}
	if err := s.Hooks.EnqueueDeliveries(ctx, b.out); err != nil {
		s.logger().Error("webhooks: deliveries not queued", "err", err, "deliveries", len(b.out))
		return
	}
	if f := s.notify.Load(); f != nil {
		(*f)()
	}
}

func (s *Sink) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// message is one webhook event an Event makes.
type message struct {
	event, action string
}

// messages is what webhooks hear of e: a push is a push event, and a
// create or delete one when the ref appeared or went.
func messages(e gatehouse.Event) []message {
	if e.Repo == "" {
		return nil
	}
	switch e.Kind {
	case gatehouse.AuditPush:
		if e.Ref == nil {
			return nil
		}
		ms := []message{{event: gatehouse.HookEventPush}}
		switch {
		case isZero(e.Ref.Old):
			ms = append(ms, message{event: gatehouse.HookEventCreate})
		case isZero(e.Ref.New):
			ms = append(ms, message{event: gatehouse.HookEventDelete})
		}
		return ms
	case gatehouse.AuditRepoCreate:
		return []message{{gatehouse.HookEventRepository, "created"}}
	case gatehouse.AuditRepoDelete:
		return []message{{gatehouse.HookEventRepository, "deleted"}}
	case gatehouse.AuditRepoRename:
		return []message{{gatehouse.HookEventRepository, "renamed"}}
	case gatehouse.AuditRepoUpdate:
		for _, c := range e.Changed {
			if c == "visibility" {
				// GitHub's names; which one is read from the repository.
				return []message{{gatehouse.HookEventRepository, "visibility"}}
			}
		}
		return []message{{gatehouse.HookEventRepository, "edited"}}
	case gatehouse.AuditCollabSet, gatehouse.AuditTeamGrantSet:
		return []message{{gatehouse.HookEventMember, "added"}}
	case gatehouse.AuditCollabRemove, gatehouse.AuditTeamGrantRemove:
		return []message{{gatehouse.HookEventMember, "removed"}}
	}
	return nil
}

func isZero(id string) bool { return strings.Trim(id, "0") == "" }

// batch builds the deliveries of one PublishBatch, asking the store once
// per repository and event, and reading each repository once.
type batch struct {
	s       *Sink
	matched map[string][]*gatehouse.Webhook
	repos   map[string]*gatehouse.Repo
	readers map[string]*odb.Reader
	walked  int // refs whose commits were listed
	out     []*gatehouse.Delivery
}

func (b *batch) close() {
	for _, r := range b.readers {
		r.Close()
	}
}

func (b *batch) add(ctx context.Context, e gatehouse.Event, m message) error {
	owner, name, err := gatehouse.ParseRepoPath(e.Repo)
	if err != nil {
		return err
	}
	key := e.Repo + " " + m.event
	hooks, ok := b.matched[key]
	if !ok {
		if hooks, err = b.s.Hooks.MatchWebhooks(ctx, owner, name, m.event); err != nil {
			return err
		}
		b.matched[key] = hooks
	}
	if len(hooks) == 0 {
		return nil
	}
	repo := b.repo(ctx, owner, name)
	action := m.action
	if action == "visibility" {
		action = "publicized"
		if repo.Private {
			action = "privatized"
		}
	}
	var payload any
	switch m.event {
	case gatehouse.HookEventPush:
		payload = b.pushPayload(e, repo)
	case gatehouse.HookEventCreate, gatehouse.HookEventDelete:
		payload = refPayload(e, repo, b.s.sshBase.Load())
	case gatehouse.HookEventRepository:
		payload = repositoryPayload(e, action, repo, b.s.sshBase.Load())
	case gatehouse.HookEventMember:
		payload = memberPayload(e, action, repo, b.s.sshBase.Load())
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	if len(body) > MaxPayload {
		if p, ok := payload.(*PushPayload); ok {
			p.Commits = []Commit{}
			body, err = json.Marshal(p)
		}
		if err != nil || len(body) > MaxPayload {
			b.s.logger().Warn("webhooks: payload too large, not sent", "event", m.event, "repo", e.Repo, "bytes", len(body))
			return nil
		}
	}
	for _, h := range hooks {
		b.out = append(b.out, &gatehouse.Delivery{HookID: h.ID, Event: m.event, Action: action, Repo: e.Repo, Payload: body})
	}
	return nil
}

// repo returns owner/name's settings, or, for a repository gone (its
// deletion's event), what its name tells.
func (b *batch) repo(ctx context.Context, owner, name string) *gatehouse.Repo {
	full := owner + "/" + name
	if r, ok := b.repos[full]; ok {
		return r
	}
	r, err := b.s.Repos.FindRepo(ctx, owner, name)
	if err != nil {
		r = &gatehouse.Repo{Owner: owner, Name: name, Private: true}
	}
	b.repos[full] = r
	return r
}

// reader opens the repository's objects once per batch.
func (b *batch) reader(repo *gatehouse.Repo) *odb.Reader {
	full := repo.FullName()
	if r, ok := b.readers[full]; ok {
		return r
	}
	if b.readers == nil {
		b.readers = map[string]*odb.Reader{}
	}
	dir, err := b.s.GitDir(repo.Owner, repo.Name)
	if err != nil {
		b.readers[full] = nil
		return nil
	}
	r := odb.OpenReader(dir, odb.Limits{MaxObjectSize: maxCommitObject})
	b.readers[full] = r
	return r
}

func (b *batch) pushPayload(e gatehouse.Event, repo *gatehouse.Repo) *PushPayload {
	u := e.Ref
	p := &PushPayload{
		Ref: u.Name, Before: u.Old, After: u.New,
		Created: isZero(u.Old), Deleted: isZero(u.New), Forced: u.Forced,
		Commits:    []Commit{},
		Repository: repository(repo, b.s.sshBase.Load()),
		Pusher:     Pusher{Name: e.Actor.Name()},
		Sender:     Sender{Login: e.Actor.Name()},
	}
	r := b.reader(repo)
	if r == nil || p.Deleted {
		return p
	}
	newID, oldID := plumbing.NewHash(u.New), plumbing.NewHash(u.Old)
	if strings.HasPrefix(u.Name, "refs/heads/") && b.walked < walkedRefs {
		b.walked++
		cs, err := pushCommits(r, oldID, newID)
		if err != nil {
			b.s.logger().Warn("webhooks: commits of a push not read", "err", err, "repo", repo.FullName(), "ref", u.Name)
		}
		p.Commits = append(p.Commits, cs...)
	}
	if n := len(p.Commits); n > 0 {
		p.HeadCommit = &p.Commits[n-1]
	} else {
		p.HeadCommit = readCommit(r, newID)
	}
	return p
}
