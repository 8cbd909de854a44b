package keys_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keys"
)

// Failures from one address counted through two handles on one database
// (two nodes) add up: the fifth of four allowed starts a ban both see.
func TestAuthFailuresShared(t *testing.T) { eachDB(t, testAuthFailuresShared) }

func testAuthFailuresShared(t *testing.T) {
	ctx := context.Background()
	d := freshDB(t)
	nodes := []*keys.AuthFailureService{keys.NewAuthFailureService(d.open(t)), keys.NewAuthFailureService(d.open(t))}
	addr, other := netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("192.0.2.8")
	now := time.Now()
	for i := 1; i <= 4; i++ {
		n, banned, err := nodes[i%2].AddFailure(ctx, addr, now, time.Minute, 4, time.Hour)
		if err != nil || n != i || banned {
			t.Fatalf("failure %d: %d %t %v", i, n, banned, err)
		}
	}
	if until, err := nodes[0].Banned(ctx, addr); err != nil || !until.IsZero() {
		t.Fatalf("banned before the limit: %v %v", until, err)
	}
	n, banned, err := nodes[1].AddFailure(ctx, addr, now, time.Minute, 4, time.Hour)
	if err != nil || n != 5 || !banned {
		t.Fatalf("fifth failure: %d %t %v", n, banned, err)
	}
	for _, s := range nodes {
		if until, err := s.Banned(ctx, addr); err != nil || until.Before(now.Add(59*time.Minute)) {
			t.Fatalf("not banned after the fifth: %v %v", until, err)
		}
		if until, _ := s.Banned(ctx, other); !until.IsZero() {
			t.Fatalf("another address banned: %v", until)
		}
	}
	// Counted at once on both, nothing is lost.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := nodes[i%2].AddFailure(ctx, other, now, time.Minute, 100, time.Hour); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n, _, _ := nodes[0].AddFailure(ctx, other, now, time.Minute, 100, time.Hour); n != 21 {
		t.Fatalf("concurrent failures counted %d, want 21", n)
	}
	// A window over starts the count again.
	if n, _, _ := nodes[0].AddFailure(ctx, other, now.Add(2*time.Minute), time.Minute, 100, time.Hour); n != 1 {
		t.Fatalf("count after the window: %d, want 1", n)
	}
}

// A repository's lock taken through one handle (node) keeps the other
// out until released, or the wait runs out; other repositories are not
// held up. SQLite has none: its nodes share one machine's lock files.
func TestRepoLock(t *testing.T) {
	if keys.NewRepoLockService(MustOpenDB(t)) != nil {
		t.Fatal("a repository lock on SQLite")
	}
	t.Run("postgres", func(t *testing.T) {
		ctx := context.Background()
		d := freshDB(t)
		a, b := keys.NewRepoLockService(d.open(t)), keys.NewRepoLockService(d.open(t))
		unlock, err := a.LockRepo(ctx, 7, 0)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := b.LockRepo(ctx, 7, 300*time.Millisecond); !errors.Is(err, gatehouse.ErrBusy) {
			t.Fatalf("second holder: %v, want ErrBusy", err)
		}
		if waited := time.Since(start); waited < 300*time.Millisecond || waited > 5*time.Second {
			t.Fatalf("waited %v for a held lock, want about 300ms", waited)
		}
		other, err := b.LockRepo(ctx, 8, 0)
		if err != nil {
			t.Fatalf("another repository: %v", err)
		}
		other()
		got := make(chan error, 1)
		go func() {
			unlock, err := b.LockRepo(ctx, 7, 10*time.Second)
			if err == nil {
				unlock()
			}
			got <- err
		}()
		time.Sleep(100 * time.Millisecond)
		unlock()
		unlock() // a second release does nothing
		if err := <-got; err != nil {
			t.Fatalf("waiting for a released lock: %v", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		hold, _ := a.LockRepo(ctx, 9, 0)
		defer hold()
		go func() { time.Sleep(100 * time.Millisecond); cancel() }()
		if _, err := b.LockRepo(cctx, 9, time.Minute); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled wait: %v", err)
		}
	})
}

// Two nodes claiming the queue at once each take a delivery at most once
// between them: none is sent twice, none is left.
func TestClaimDeliveriesTwoNodes(t *testing.T) { eachDB(t, testClaimDeliveriesTwoNodes) }

func testClaimDeliveriesTwoNodes(t *testing.T) {
	ctx := context.Background()
	d := freshDB(t)
	nodes := []*keys.WebhookService{keys.NewWebhookService(d.open(t)), keys.NewWebhookService(d.open(t))}
	h := &gatehouse.Webhook{Scope: gatehouse.HookSite, URL: "http://example.com"}
	if err := nodes[0].CreateWebhook(ctx, h); err != nil {
		t.Fatal(err)
	}
	var ds []*gatehouse.Delivery
	for i := range 40 {
		ds = append(ds, &gatehouse.Delivery{HookID: h.ID, Event: "push", Payload: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	if err := nodes[0].EnqueueDeliveries(ctx, ds); err != nil {
		t.Fatal(err)
	}
	retry := func(int) (time.Duration, bool) { return time.Hour, true }
	now := time.Now()
	var mu sync.Mutex
	claimed := map[string]int{}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := nodes[i%2].ClaimDeliveries(ctx, now, 3, retry)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					claimed[d.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(claimed) != len(ds) {
		t.Fatalf("%d deliveries claimed, want %d", len(claimed), len(ds))
	}
	for id, n := range claimed {
		if n != 1 {
			t.Fatalf("delivery %s claimed %d times", id, n)
		}
	}
}
