package keys_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keys"
)

func MustWebhookService(tb testing.TB, db *keys.DB) *keys.WebhookService {
	tb.Helper()
	s := keys.NewWebhookService(db)
	if err := s.SyncMarker(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return s
}

// Hooks of each scope match their repositories; secrets are kept but not
// listed; the "any webhooks?" answer follows changes made through another
// handle on the same file, without a query.
func testWebhookService_Hooks(t *testing.T) {
	d := freshDB(t)
	db := d.open(t)
	ctx := context.Background()
	s := MustWebhookService(t, db)
	other := MustWebhookService(t, d.open(t))
	MustCreateUser(t, db, "alice")
	MustCreateOrg(t, db, "acme")
	MustCreateRepo(t, db, "alice", "r", false)
	MustCreateRepo(t, db, "acme", "api", false)

	if exist, err := s.AnyWebhooks(ctx); err != nil || exist {
		t.Fatalf("AnyWebhooks on an empty store: %v %v", exist, err)
	}
	repoHook := &gatehouse.Webhook{Scope: gatehouse.HookRepo, Target: "alice/r", URL: "http://example.com/r", Secret: "s3", Events: []string{"push"}}
	if err := other.CreateWebhook(ctx, repoHook); err != nil {
		t.Fatal(err)
	}
	if exist, _ := s.AnyWebhooks(ctx); !exist {
		t.Fatal("a hook added through another handle is not seen")
	}
	orgHook := &gatehouse.Webhook{Scope: gatehouse.HookOrg, Target: "acme", URL: "https://example.com/o"}
	siteHook := &gatehouse.Webhook{Scope: gatehouse.HookSite, URL: "https://example.com/s", Events: []string{"repository"}}
	for _, h := range []*gatehouse.Webhook{orgHook, siteHook} {
		if err := s.CreateWebhook(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []*gatehouse.Webhook{
		{Scope: gatehouse.HookRepo, Target: "alice/nope", URL: "http://example.com"},
		{Scope: gatehouse.HookOrg, Target: "nope", URL: "http://example.com"},
		{Scope: gatehouse.HookSite, URL: "ftp://example.com"},
		{Scope: gatehouse.HookSite, URL: "http://example.com", Events: []string{"issues"}},
	} {
		if err := s.CreateWebhook(ctx, bad); !errors.Is(err, gatehouse.ErrNotFound) && !errors.Is(err, gatehouse.ErrInvalid) {
			t.Errorf("CreateWebhook(%+v): %v", bad, err)
		}
	}

	match := func(owner, name, event string) (ids []int64) {
		hs, err := s.MatchWebhooks(ctx, owner, name, event)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hs {
			ids = append(ids, h.ID)
		}
		return ids
	}
	if got := match("alice", "r", "push"); len(got) != 1 || got[0] != repoHook.ID {
		t.Errorf("push on alice/r matched %v", got)
	}
	if got := match("acme", "api", "push"); len(got) != 1 || got[0] != orgHook.ID {
		t.Errorf("push on acme/api matched %v", got)
	}
	if got := match("acme", "gone", "repository"); len(got) != 2 {
		t.Errorf("repository event on acme/gone matched %v", got)
	}

	hs, err := s.FindWebhooks(ctx, gatehouse.WebhookFilter{Scope: gatehouse.HookRepo, Target: "alice/r"})
	if err != nil || len(hs) != 1 || hs[0].Secret != "" || !hs[0].HasSecret || hs[0].Target != "alice/r" {
		t.Fatalf("FindWebhooks: %+v %v", hs, err)
	}
	h, err := s.FindWebhook(ctx, repoHook.ID)
	if err != nil || h.Secret != "s3" {
		t.Fatalf("FindWebhook: %+v %v", h, err)
	}

	for _, h := range []*gatehouse.Webhook{repoHook, orgHook} {
		if err := s.DeleteWebhook(ctx, h.ID); err != nil {
			t.Fatal(err)
		}
	}
	if exist, _ := s.AnyWebhooks(ctx); !exist {
		t.Fatal("the site hook is left")
	}
	if err := other.DeleteWebhook(ctx, siteHook.ID); err != nil {
		t.Fatal(err)
	}
	if exist, _ := s.AnyWebhooks(ctx); exist {
		t.Fatal("no hook is left")
	}
	// A marker left behind (a restore of the database) is put right.
	os.WriteFile(keys.WebhookMarker(db), nil, 0o600)
	if err := s.SyncMarker(ctx); err != nil {
		t.Fatal(err)
	}
	if exist, _ := s.AnyWebhooks(ctx); exist {
		t.Fatal("a stale marker survives SyncMarker")
	}
	if err := s.DeleteWebhook(ctx, siteHook.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestWebhookService_Hooks(t *testing.T) { eachDB(t, testWebhookService_Hooks) }

// A claimed delivery has its attempt recorded before it is sent, and is
// due again after the retry delay unless the attempt finishes it.
func testWebhookService_Queue(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	s := MustWebhookService(t, db)
	h := &gatehouse.Webhook{Scope: gatehouse.HookSite, URL: "http://example.com"}
	if err := s.CreateWebhook(ctx, h); err != nil {
		t.Fatal(err)
	}
	ds := []*gatehouse.Delivery{
		{HookID: h.ID, Event: "push", Payload: []byte(`{"a":1}`)},
		{HookID: h.ID, Event: "push", Payload: []byte(`{"a":2}`)},
	}
	if err := s.EnqueueDeliveries(ctx, ds); err != nil {
		t.Fatal(err)
	}
	retry := func(n int) (time.Duration, bool) { return time.Minute, n < 3 }
	now := time.Now()
	got, err := s.ClaimDeliveries(ctx, now, 10, retry)
	if err != nil || len(got) != 2 || got[0].Attempts != 1 || string(got[0].Payload) == "" {
		t.Fatalf("claim: %+v %v", got, err)
	}
	if again, _ := s.ClaimDeliveries(ctx, now, 10, retry); len(again) != 0 {
		t.Fatalf("claimed twice: %d", len(again))
	}
	if err := s.FinishAttempt(ctx, got[0].ID, &gatehouse.DeliveryAttempt{N: 1, StatusCode: 200, Duration: time.Millisecond}, true, nil); err != nil {
		t.Fatal(err)
	}
	// The second one's sender "crashed": it is due after the delay.
	later, err := s.ClaimDeliveries(ctx, now.Add(2*time.Minute), 10, retry)
	if err != nil || len(later) != 1 || later[0].ID != got[1].ID || later[0].Attempts != 2 {
		t.Fatalf("reclaim: %+v %v", later, err)
	}
	d, err := s.FindDelivery(ctx, got[1].ID)
	if err != nil || len(d.Log) != 2 || d.Log[0].Error != "interrupted" {
		t.Fatalf("attempts: %+v %v", d, err)
	}
	next := now.Add(time.Hour)
	if err := s.FinishAttempt(ctx, got[1].ID, &gatehouse.DeliveryAttempt{N: 2, StatusCode: 503}, false, &next); err != nil {
		t.Fatal(err)
	}
	if due, err := s.NextDue(ctx); err != nil || due == nil || !due.Equal(next.UTC().Round(0)) {
		t.Fatalf("NextDue %v %v, want %v", due, err, next)
	}
	list, err := s.FindDeliveries(ctx, h.ID, 10)
	if err != nil || len(list) != 2 {
		t.Fatalf("FindDeliveries: %v %v", list, err)
	}
	if n, err := s.PruneDeliveries(ctx, now.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("prune: %d %v", n, err)
	}
}

func TestWebhookService_Queue(t *testing.T) { eachDB(t, testWebhookService_Queue) }
