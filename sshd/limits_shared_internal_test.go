package sshd

import (
	"context"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/keys"
)

// countingFailures counts the questions put to the shared store.
type countingFailures struct {
	*keys.AuthFailureService
	banned atomic.Int64
}

func (c *countingFailures) Banned(ctx context.Context, addr netip.Addr) (time.Time, error) {
	c.banned.Add(1)
	return c.AuthFailureService.Banned(ctx, addr)
}

// Two limiters (two nodes) on one database: failures add up, the ban
// holds on both, and a node that has seen the ban stops asking.
func TestLimiterSharedBan(t *testing.T) {
	db, err := keys.Open(filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	shared := &countingFailures{AuthFailureService: keys.NewAuthFailureService(db)}
	nodes := []*limiter{newLimiter(3, time.Minute, 2, 3, 2), newLimiter(3, time.Minute, 2, 3, 2)}
	for _, l := range nodes {
		l.shared = shared
	}
	ip := netip.MustParseAddr("192.0.2.9")
	for i := 1; i <= 3; i++ {
		if n, banned := nodes[i%2].fail(ip); n != i || banned {
			t.Fatalf("failure %d: %d %t", i, n, banned)
		}
	}
	if _, banned := nodes[0].fail(ip); !banned {
		t.Fatal("the fourth failure, over two nodes, did not ban")
	}
	before := shared.banned.Load()
	for range 5 {
		if ok, _ := nodes[1].banned(ip); !ok {
			t.Fatal("the other node does not see the ban")
		}
	}
	if asked := shared.banned.Load() - before; asked != 1 {
		t.Fatalf("the database was asked %d times during the ban, want once", asked)
	}
	if ok, _ := nodes[1].banned(netip.MustParseAddr("192.0.2.10")); ok {
		t.Fatal("another address is banned")
	}
}
