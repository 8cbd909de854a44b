package backend_test

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse"
	"gatehouse/keys"
	"gatehouse/repos/indexpack/packtest"
)

// withWebhooks gives f's backend a webhook store on its database.
func withWebhooks(t *testing.T, f *fixture) *keys.WebhookService {
	t.Helper()
	db, err := keys.Open(filepath.Join(filepath.Dir(f.root), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f.b.Webhooks = keys.NewWebhookService(db)
	return f.b.Webhooks.(*keys.WebhookService)
}

// Repository hooks are their admins', organization hooks its admins',
// site hooks the site admins'; others do not learn of them.
func TestWebhookRules(t *testing.T) {
	f := mustFixture(t)
	withWebhooks(t, f)
	hook := func(scope gatehouse.WebhookScope, target string) *gatehouse.Webhook {
		return &gatehouse.Webhook{Scope: scope, Target: target, URL: "https://ci.example.com/", Secret: "s"}
	}
	carols := hook(gatehouse.HookRepo, "alice/r")
	check(t, f.b.CreateWebhook(f.as("carol"), carols), nil)
	if carols.Secret != "" || !carols.HasSecret {
		t.Errorf("created hook shows its secret: %+v", carols)
	}
	check(t, f.b.CreateWebhook(f.as("ada"), hook(gatehouse.HookOrg, "acme")), nil)
	check(t, f.b.CreateWebhook(f.as("root"), hook(gatehouse.HookSite, "")), nil)
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"read collaborator cannot add", f.b.CreateWebhook(f.as("bob"), hook(gatehouse.HookRepo, "alice/r")), gatehouse.ErrForbidden},
		{"outsider cannot add", f.b.CreateWebhook(f.as("mel"), hook(gatehouse.HookRepo, "alice/r")), gatehouse.ErrNotFound},
		{"org member cannot add", f.b.CreateWebhook(f.as("mel"), hook(gatehouse.HookOrg, "acme")), gatehouse.ErrForbidden},
		{"outsider does not see the org", f.b.CreateWebhook(f.as("bob"), hook(gatehouse.HookOrg, "acme")), gatehouse.ErrNotFound},
		{"users cannot add site hooks", f.b.CreateWebhook(f.as("alice"), hook(gatehouse.HookSite, "")), gatehouse.ErrForbidden},
		{"read collaborator cannot list", second(f.b.FindWebhooks(f.as("bob"), gatehouse.WebhookFilter{Scope: gatehouse.HookRepo, Target: "alice/r"})), gatehouse.ErrForbidden},
		{"users cannot list every hook", second(f.b.FindWebhooks(f.as("alice"), gatehouse.WebhookFilter{})), gatehouse.ErrForbidden},
		{"others do not find a hook", second(f.b.FindWebhook(f.as("bob"), carols.ID)), gatehouse.ErrNotFound},
		{"others cannot remove a hook", f.b.DeleteWebhook(f.as("mel"), carols.ID), gatehouse.ErrNotFound},
		{"others do not read deliveries", second(f.b.FindDeliveries(f.as("mel"), carols.ID, 10)), gatehouse.ErrNotFound},
		{"bad URL", f.b.CreateWebhook(f.as("alice"), &gatehouse.Webhook{Scope: gatehouse.HookRepo, Target: "alice/r", URL: "gopher://x"}), gatehouse.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { check(t, tt.err, tt.want) })
	}
	hs, err := f.b.FindWebhooks(f.as("alice"), gatehouse.WebhookFilter{Scope: gatehouse.HookRepo, Target: "alice/r"})
	if err != nil || len(hs) != 1 || hs[0].Secret != "" {
		t.Fatalf("alice's hooks: %+v %v", hs, err)
	}
	check(t, f.b.DeleteWebhook(f.as("alice"), carols.ID), nil)
}

// batchSink records what it is given, batch by batch.
type batchSink struct {
	mu      sync.Mutex
	batches [][]gatehouse.Event
}

func (s *batchSink) Publish(ctx context.Context, e gatehouse.Event) {
	s.PublishBatch(ctx, []gatehouse.Event{e})
}

func (s *batchSink) PublishBatch(_ context.Context, es []gatehouse.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, slices.Clone(es))
}

func (s *batchSink) last() []gatehouse.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.batches[len(s.batches)-1]
}

// Events carry what webhooks need without parsing Detail, and a push's
// come to a batch sink together.
func TestEventFacts(t *testing.T) {
	f := mustFixture(t)
	bs := &batchSink{}
	f.b.Events = bs

	check(t, f.b.SetCollaborator(f.as("alice"), "alice", "r", "mel", gatehouse.AccessWrite), nil)
	if e := bs.last()[0]; e.Subject != "mel" || e.Level != gatehouse.AccessWrite {
		t.Errorf("collaborator event %+v", e)
	}
	check(t, f.b.SetTeamGrant(f.as("ada"), "acme", "api", "acme", "devs", gatehouse.AccessRead), gatehouse.ErrNotFound) // no such team
	private := false
	check(t, second(f.b.UpdateRepo(f.as("alice"), "alice", "r", gatehouse.RepoUpdate{Private: &private})), nil)
	if e := bs.last()[0]; !slices.Equal(e.Changed, []string{"visibility"}) {
		t.Errorf("update event %+v", e)
	}
	check(t, second(f.b.RenameRepo(f.as("root"), "alice", "r", "alice", "s")), nil)
	if e := bs.last()[0]; e.Repo != "alice/s" || e.Subject != "alice/r" {
		t.Errorf("rename event %+v", e)
	}

	repo, err := f.b.FindRepo(f.as("alice"), "alice", "s")
	if err != nil {
		t.Fatal(err)
	}
	commitData := []byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n" +
		"author A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n\nfirst\n")
	commit := plumbing.ComputeHash(plumbing.CommitObject, commitData).String()
	req := packtest.PushRequest("report-status", []packtest.Command{
		{Old: packtest.ZeroID, New: commit, Ref: "refs/heads/main"},
		{Old: packtest.ZeroID, New: commit, Ref: "refs/heads/dev"},
	}, packtest.New(packtest.Whole(plumbing.TreeObject, nil), packtest.Whole(plumbing.CommitObject, commitData)).Bytes())
	n := len(bs.batches)
	var out bytes.Buffer
	if _, err := f.b.ReceivePack(f.as("alice"), repo, gatehouse.GitSession{Stdin: bytes.NewReader(req), Stdout: &out, Stderr: io.Discard}); err != nil {
		t.Fatalf("push: %v\n%s", err, out.String())
	}
	if len(bs.batches) != n+1 {
		t.Fatalf("a push of two refs made %d batches", len(bs.batches)-n)
	}
	got := bs.last()
	if len(got) != 2 || got[0].Ref == nil || got[0].Ref.Name != "refs/heads/main" || got[1].Ref.Name != "refs/heads/dev" ||
		got[1].Ref.New != commit || got[1].Ref.Old != packtest.ZeroID {
		t.Fatalf("push events %+v", got)
	}
}
