package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse"
	"gatehouse/gittest"
	"gatehouse/keys"
	"gatehouse/repos"
	"gatehouse/webhook"
)

func TestRefused(t *testing.T) {
	allow := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}
	for _, c := range []struct {
		addr string
		want string
	}{
		{"127.0.0.1", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"10.0.0.1", "private"},
		{"10.1.2.3", ""}, // allowed
		{"192.168.1.1", "private"},
		{"172.16.0.1", "private"},
		{"fd00:ec2::254", "private"},
		{"169.254.169.254", "link-local"},
		{"fe80::1", "link-local"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"239.1.2.3", "multicast"},
		{"224.0.0.1", "link-local"},
		{"100.100.100.200", "reserved"},
		{"255.255.255.255", "reserved"},
		{"64:ff9b::7f00:1", "reserved"},
		{"2002:7f00:1::", "reserved"},
		{"93.184.216.34", ""},
		{"2606:2800:220:1::", ""},
	} {
		if got := webhook.Refused(netip.MustParseAddr(c.addr), allow); got != c.want {
			t.Errorf("Refused(%s) = %q, want %q", c.addr, got, c.want)
		}
	}
}

// pushFixture is a store and a repository with n commits on main, and
// the push event that created main.
type pushFixture struct {
	hooks *keys.WebhookService
	sink  *webhook.Sink
	event gatehouse.Event
}

func newPushFixture(tb testing.TB, n int) *pushFixture {
	tb.Helper()
	db, err := keys.Open(filepath.Join(tb.TempDir(), "gatehouse.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if err := keys.NewUserService(db).CreateUser(ctx, &gatehouse.User{Name: "alice"}); err != nil {
		tb.Fatal(err)
	}
	rs := repos.NewService(keys.NewRepoStore(db), filepath.Join(tb.TempDir(), "repos"))
	if err := rs.CreateRepo(ctx, &gatehouse.Repo{Owner: "alice", Name: "r"}); err != nil {
		tb.Fatal(err)
	}
	dir, _ := rs.Dir("alice", "r")
	work := tb.TempDir()
	gittest.Run(tb, work, "init", "-q", "-b", "main")
	for i := range n {
		os.WriteFile(filepath.Join(work, "f"), []byte(fmt.Sprint(i)), 0o644)
		gittest.Run(tb, work, "add", "f")
		gittest.Run(tb, work, "commit", "-q", "-m", fmt.Sprintf("commit %d", i))
	}
	gittest.Run(tb, work, "push", "-q", dir, "main")
	head := strings.TrimSpace(gittest.Run(tb, work, "rev-parse", "HEAD"))
	hooks := keys.NewWebhookService(db)
	return &pushFixture{
		hooks: hooks,
		sink:  &webhook.Sink{Hooks: hooks, Repos: rs, GitDir: rs.Dir},
		event: gatehouse.Event{Kind: gatehouse.AuditPush, Actor: gatehouse.LocalActor("cli"), Repo: "alice/r",
			Ref: &gatehouse.RefUpdate{Name: "refs/heads/main", Old: strings.Repeat("0", 40), New: head}},
	}
}

// A push of more than 20 commits lists the 20 newest, newest last.
func TestSinkPushCommits(t *testing.T) {
	f := newPushFixture(t, 25)
	h := &gatehouse.Webhook{Scope: gatehouse.HookRepo, Target: "alice/r", URL: "http://example.com/"}
	if err := f.hooks.CreateWebhook(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	f.sink.PublishBatch(context.Background(), []gatehouse.Event{f.event})
	ds, err := f.hooks.FindDeliveries(context.Background(), h.ID, 10)
	if err != nil || len(ds) != 2 {
		t.Fatalf("deliveries %v %v", ds, err)
	}
	var push *gatehouse.Delivery
	for _, d := range ds {
		if d.Event == "push" {
			push = d
		}
	}
	d, _ := f.hooks.FindDelivery(context.Background(), push.ID)
	var p webhook.PushPayload
	if err := json.Unmarshal(d.Payload, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Commits) != webhook.MaxCommits || p.Commits[0].Message != "commit 5\n" || p.Commits[19].Message != "commit 24\n" ||
		p.HeadCommit == nil || p.HeadCommit.ID != f.event.Ref.New {
		t.Fatalf("commits %d, first %+v, head %+v", len(p.Commits), p.Commits[0], p.HeadCommit)
	}
}

// BenchmarkSinkPush is what the sink adds to a push of one ref (3 new
// commits): nothing but a stat with no webhook; with one, the match
// query, reading the commits and the insert.
func BenchmarkSinkPush(b *testing.B) {
	for _, hooks := range []int{0, 1} {
		b.Run(fmt.Sprintf("webhooks=%d", hooks), func(b *testing.B) {
			f := newPushFixture(b, 3)
			for range hooks {
				h := &gatehouse.Webhook{Scope: gatehouse.HookRepo, Target: "alice/r", URL: "http://example.com/"}
				if err := f.hooks.CreateWebhook(context.Background(), h); err != nil {
					b.Fatal(err)
				}
			}
			events := []gatehouse.Event{f.event}
			b.ResetTimer()
			for range b.N {
				f.sink.PublishBatch(context.Background(), events)
			}
		})
	}
}
