package keys_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keys"
)

func testAuditService_RecordEvent(t *testing.T) {
	db := MustOpenDB(t)
	now := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	db.Now = func() time.Time { return now }
	as := keys.NewAuditService(db)
	ctx := context.Background()

	e := &gatehouse.AuditEvent{Actor: "alice", Action: gatehouse.AuditPush, Repo: "alice/project",
		Detail: "refs/heads/main", Address: "192.0.2.1:5555"}
	if err := as.RecordEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	if e.ID == 0 || !e.Time.Equal(now) {
		t.Fatalf("recorded %+v", e)
	}
	// A time given by the caller, in any zone, is kept.
	given := time.Date(2024, 1, 1, 8, 0, 0, 0, time.FixedZone("CET", 3600))
	if err := as.RecordEvent(ctx, &gatehouse.AuditEvent{Action: gatehouse.AuditLogin, Time: given}); err != nil {
		t.Fatal(err)
	}
	events, err := as.FindAuditEvents(ctx, gatehouse.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || !events[0].Time.Equal(given) || *events[1] != *e {
		t.Fatalf("events %+v %+v", events[0], events[1])
	}
}

func TestAuditService_RecordEvent(t *testing.T) { eachDB(t, testAuditService_RecordEvent) }

// TestAuditService_RecordEvents: a batch is stored in its order with
// IDs and times filled, and in one transaction: an insert refused half way
// leaves no row and no event changed.
func testAuditService_RecordEvents(t *testing.T) {
	d := freshDB(t)
	db := d.open(t)
	now := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	db.Now = func() time.Time { return now }
	as := keys.NewAuditService(db)
	ctx := context.Background()

	given := time.Date(2024, 1, 1, 8, 0, 0, 0, time.UTC)
	batch := func(n int) []*gatehouse.AuditEvent {
		var events []*gatehouse.AuditEvent
		for i := range n {
			e := &gatehouse.AuditEvent{Actor: "alice", Action: gatehouse.AuditPush, Repo: "alice/project",
				Detail: fmt.Sprintf("refs/heads/b%d", i), Address: "192.0.2.1:5555"}
			if i == 1 {
				e.Time = given
			}
			events = append(events, e)
		}
		return events
	}

	if err := as.RecordEvents(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := as.RecordEvents(ctx, []*gatehouse.AuditEvent{{Action: gatehouse.AuditLogin}, nil}); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Fatalf("nil event: %v", err)
	}

	// A trigger refuses one insert in the middle of the batch.
	raw := d.raw(t)
	trigger := `CREATE TRIGGER refuse BEFORE INSERT ON audit_log FOR EACH ROW WHEN (NEW.detail = 'refs/heads/b3')
		BEGIN SELECT RAISE(ABORT, 'refused'); END`
	if d.postgres() {
		trigger = `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE 'refused'; END $$;
		CREATE TRIGGER refuse BEFORE INSERT ON audit_log FOR EACH ROW WHEN (NEW.detail = 'refs/heads/b3') EXECUTE FUNCTION refuse()`
	}
	if _, err := raw.Exec(trigger); err != nil {
		t.Fatal(err)
	}
	refused := batch(5)
	if err := as.RecordEvents(ctx, refused); err == nil {
		t.Fatal("batch with a refused insert recorded")
	}
	for i, e := range refused {
		if e.ID != 0 || (i != 1 && !e.Time.IsZero()) {
			t.Fatalf("event %d changed by a failed batch: %+v", i, e)
		}
	}
	if events, err := as.FindAuditEvents(ctx, gatehouse.AuditFilter{}); err != nil || len(events) != 0 {
		t.Fatalf("after a failed batch: %d events, %v", len(events), err)
	}
	drop := `DROP TRIGGER refuse`
	if d.postgres() {
		drop = `DROP TRIGGER refuse ON audit_log`
	}
	if _, err := raw.Exec(drop); err != nil {
		t.Fatal(err)
	}

	events := batch(300)
	if err := as.RecordEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	for i, e := range events {
		want := now
		if i == 1 {
			want = given
		}
		if (i > 0 && e.ID <= events[i-1].ID) || e.ID == 0 || !e.Time.Equal(want) {
			t.Fatalf("event %d recorded as %+v", i, e)
		}
	}
	got, err := as.FindAuditEvents(ctx, gatehouse.AuditFilter{Limit: keys.MaxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(events) {
		t.Fatalf("%d events stored, want %d", len(got), len(events))
	}
	// Oldest first: the one stamped earlier, then the rest in their order.
	want := append([]*gatehouse.AuditEvent{events[1], events[0]}, events[2:]...)
	for i := range want {
		if *got[i] != *want[i] {
			t.Fatalf("stored event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestAuditService_RecordEvents(t *testing.T) { eachDB(t, testAuditService_RecordEvents) }

func testAuditService_FindAuditEvents(t *testing.T) {
	db := MustOpenDB(t)
	as := keys.NewAuditService(db)
	ctx := context.Background()

	// 30 events a minute apart: actors alternate, every third is on a repo.
	// Fractions of a second vary so that text order is tested too.
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(i int) time.Time {
		return start.Add(time.Duration(i) * time.Minute).Add(time.Duration(i%3) * 100 * time.Millisecond)
	}
	for i := range 30 {
		e := &gatehouse.AuditEvent{Time: at(i), Actor: []string{"alice", "bob"}[i%2], Action: gatehouse.AuditLogin,
			Detail: fmt.Sprint(i)}
		if i%3 == 0 {
			e.Repo, e.Action = "alice/project", gatehouse.AuditPush
		}
		if err := as.RecordEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}

	for _, tt := range []struct {
		name   string
		filter gatehouse.AuditFilter
		want   string // details, in order
	}{
		{"limit keeps the newest", gatehouse.AuditFilter{Limit: 3}, "27 28 29"},
		{"actor", gatehouse.AuditFilter{Actor: "bob", Limit: 4}, "23 25 27 29"},
		{"repo", gatehouse.AuditFilter{Repo: "alice/project"}, "0 3 6 9 12 15 18 21 24 27"},
		{"since is inclusive", gatehouse.AuditFilter{Since: at(26)}, "26 27 28 29"},
		{"since between fractions", gatehouse.AuditFilter{Since: at(26).Add(time.Millisecond)}, "27 28 29"},
		{"since in another zone", gatehouse.AuditFilter{Since: at(28).In(time.FixedZone("X", -5*3600))}, "28 29"},
		{"all filters", gatehouse.AuditFilter{Actor: "alice", Repo: "alice/project", Since: at(10)}, "12 18 24"},
		{"no match", gatehouse.AuditFilter{Actor: "carol"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			events, err := as.FindAuditEvents(ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range events {
				got = append(got, e.Detail)
			}
			if strings.Join(got, " ") != tt.want {
				t.Fatalf("got %q, want %q", strings.Join(got, " "), tt.want)
			}
		})
	}
}

func TestAuditService_FindAuditEvents(t *testing.T) { eachDB(t, testAuditService_FindAuditEvents) }

func testAuditService_Limits(t *testing.T) {
	db := MustOpenDB(t)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	as := keys.NewAuditService(db)
	ctx := context.Background()
	for range keys.MaxAuditLimit + 5 {
		if err := as.RecordEvent(ctx, &gatehouse.AuditEvent{Action: gatehouse.AuditLogin}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name  string
		limit int
		want  int
	}{
		{"zero means default", 0, keys.DefaultAuditLimit},
		{"negative means default", -1, keys.DefaultAuditLimit},
		{"within range", 7, 7},
		{"capped", keys.MaxAuditLimit + 1, keys.MaxAuditLimit},
	} {
		t.Run(tt.name, func(t *testing.T) {
			events, err := as.FindAuditEvents(ctx, gatehouse.AuditFilter{Limit: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != tt.want {
				t.Fatalf("%d events, want %d", len(events), tt.want)
			}
			// Equal times: ties are broken by ID, still oldest first.
			for i := 1; i < len(events); i++ {
				if events[i].ID <= events[i-1].ID {
					t.Fatalf("event %d (ID %d) before ID %d", i, events[i].ID, events[i-1].ID)
				}
			}
		})
	}
}

func TestAuditService_Limits(t *testing.T) { eachDB(t, testAuditService_Limits) }

// Text that is not UTF-8 (a ref name from the wire may be any bytes) is
// recorded on both databases, though PostgreSQL's text must be UTF-8: the
// bytes that are not become U+FFFD.
func testAudit_NotUTF8(t *testing.T) {
	db := MustOpenDB(t)
	as := keys.NewAuditService(db)
	ctx := context.Background()
	e := &gatehouse.AuditEvent{Actor: "alice", Action: gatehouse.AuditPush, Repo: "alice/r", Detail: "refs/heads/a\xff\xfeb"}
	if err := as.RecordEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	got, err := as.FindAuditEvents(ctx, gatehouse.AuditFilter{})
	if err != nil || len(got) != 1 || got[0].Detail != "refs/heads/a\uFFFDb" {
		t.Fatalf("recorded %+v, %v", got, err)
	}
}

func TestAudit_NotUTF8(t *testing.T) { eachDB(t, testAudit_NotUTF8) }
