package keys_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keys"
)

// dumpTables reads every row of every table but schema_migrations as
// text, sorted, for comparing two databases' contents.
func dumpTables(t *testing.T, raw *sql.DB, tables []string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, table := range tables {
		rows, err := raw.Query(`SELECT * FROM ` + table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = fmt.Sprintf("bytes %q", bs)
				}
				fmt.Fprintf(&b, "%s=%v ", cols[i], v)
			}
			out[table] = append(out[table], b.String())
		}
		rows.Close()
		slices.Sort(out[table])
	}
	return out
}

// SQLite to PostgreSQL (migrate-db) and back (a backup's snapshot) keeps
// every row as it was: ids, NULLs, booleans, bytes and times. The copy
// into a database that holds rows is refused and changes nothing, and
// PostgreSQL hands out new ids past the copied ones.
func TestCopyTo_RoundTrip(t *testing.T) {
	lite := freshDB(t) // SQLite: t is not a "postgres" subtest
	src := lite.open(t)
	ctx := context.Background()
	MustCreateUser(t, src, "alice")
	MustCreateUser(t, src, "bob")
	MustCreateOrg(t, src, "acme")
	MustCreateRepo(t, src, "alice", "r", true)
	MustCreateRepo(t, src, "acme", "api", false)
	if _, err := keys.NewKeyService(src).AddKey(ctx, "alice", ed25519Line(t)+" laptop"); err != nil {
		t.Fatal(err)
	}
	if err := keys.NewRepoStore(src).SetCollaborator(ctx, "alice", "r", "bob", gatehouse.AccessWrite); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.NewProtectionService(src).AddProtectedBranch(ctx, "alice", "r", "main", true); err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(time.Hour)
	if _, _, err := keys.NewTokenService(src).CreateToken(ctx, "alice", "ci", gatehouse.ScopeRead, &expires); err != nil {
		t.Fatal(err)
	}
	hooks := MustWebhookService(t, src)
	h := &gatehouse.Webhook{Scope: gatehouse.HookRepo, Target: "alice/r", URL: "http://example.com/", Secret: "s", Events: []string{"push"}}
	if err := hooks.CreateWebhook(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := hooks.EnqueueDeliveries(ctx, []*gatehouse.Delivery{
		{HookID: h.ID, Event: "push", Repo: "alice/r", Payload: []byte("{\"a\":\x00\xff}")},
		{HookID: h.ID, Event: "create", Repo: "alice/r", Payload: []byte("{}")},
	}); err != nil {
		t.Fatal(err)
	}
	if err := keys.NewAuditService(src).RecordEvent(ctx, &gatehouse.AuditEvent{Actor: "alice", Action: gatehouse.AuditPush, Repo: "alice/r", Address: "192.0.2.1:22"}); err != nil {
		t.Fatal(err)
	}
	tables := queryStrings(t, lite.raw(t), `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name`)
	want := dumpTables(t, lite.raw(t), tables)

	t.Run("postgres", func(t *testing.T) {
		pgd := freshDB(t)
		pg := pgd.open(t)
		counts, err := src.CopyTo(ctx, pg)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range counts {
			if int64(len(want[c.Table])) != c.Rows {
				t.Errorf("%s: %d rows copied, the source has %d", c.Table, c.Rows, len(want[c.Table]))
			}
		}
		if len(counts) != len(tables) {
			t.Errorf("copied %d tables, the source has %d", len(counts), len(tables))
		}
		if _, err := src.CopyTo(ctx, pg); !errors.Is(err, gatehouse.ErrConflict) {
			t.Fatalf("a copy into a database with rows: %v, want ErrConflict", err)
		}

		back := filepath.Join(t.TempDir(), "back.db")
		if err := pg.Snapshot(ctx, back); err != nil {
			t.Fatal(err)
		}
		got := dumpTables(t, testDB{dir: filepath.Dir(back), url: "sqlite:" + back}.raw(t), tables)
		for _, table := range tables {
			if !slices.Equal(got[table], want[table]) {
				t.Errorf("%s after the round trip:\n%q\nwant\n%q", table, got[table], want[table])
			}
		}

		// New rows on PostgreSQL get ids after the copied ones.
		carol := MustCreateUser(t, pg, "carol")
		if carol.ID <= 3 {
			t.Errorf("a new user got id %d, taken by a copied one", carol.ID)
		}
		site := &gatehouse.Webhook{Scope: gatehouse.HookSite, URL: "http://example.com/site", Events: []string{"push"}}
		if err := MustWebhookService(t, pg).CreateWebhook(ctx, site); err != nil || site.ID <= h.ID {
			t.Errorf("a new webhook: id %d, %v; the copied one has %d", site.ID, err, h.ID)
		}
	})
}
