package keys_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"gatehouse/keys"
)

// Failures from one address counted through two handles on one database
// (two nodes) add up: the fifth of four allowed starts a ban both see.
func TestAuthFailuresShared(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/g.db"
	nodes := []*keys.AuthFailureService{keys.NewAuthFailureService(MustOpenDBPath(t, path)), keys.NewAuthFailureService(MustOpenDBPath(t, path))}
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
