package keys_test

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keys"
	"gatehouse/migrations"
)

func testTokens(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	MustCreateUser(t, db, "alice")
	MustCreateUser(t, db, "bob")
	ts := keys.NewTokenService(db)

	tok, secret, err := ts.CreateToken(ctx, "alice", "ci", gatehouse.ScopeAdmin, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, u, err := ts.AuthenticateToken(ctx, secret)
	if err != nil || u.Name != "alice" || got.ID != tok.ID || got.LastUsedAt == nil {
		t.Fatalf("AuthenticateToken = %+v, %+v, %v", got, u, err)
	}
	for name, bad := range map[string]string{"empty": "", "garbage": "x", "flipped": secret[:len(secret)-1] + "A", "other kind": "gh_sess_" + secret[len("gh_tok_"):]} {
		if bad == secret {
			continue
		}
		if _, _, err := ts.AuthenticateToken(ctx, bad); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("%s: AuthenticateToken = %v, want ErrNotFound", name, err)
		}
	}
	if err := ts.RevokeToken(ctx, "bob", tok.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("bob revoked alice's token: %v", err)
	}
	list, err := ts.FindTokens(ctx, "alice")
	if err != nil || len(list) != 1 || list[0].LastUsedAt == nil {
		t.Fatalf("FindTokens = %v, %v", list, err)
	}
	if err := ts.RevokeToken(ctx, "alice", tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ts.AuthenticateToken(ctx, secret); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("revoked token still works: %v", err)
	}

	past := time.Now().Add(-time.Hour)
	if _, _, err := ts.CreateToken(ctx, "alice", "", gatehouse.ScopeAdmin, &past); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Errorf("expiry in the past: %v", err)
	}
	soon := time.Now().Add(time.Hour)
	_, secret, err = ts.CreateToken(ctx, "alice", "", gatehouse.ScopeAdmin, &soon)
	if err != nil {
		t.Fatal(err)
	}
	db.Now = func() time.Time { return soon.Add(time.Second) }
	if _, _, err := ts.AuthenticateToken(ctx, secret); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("expired token works: %v", err)
	}
	if _, _, err := ts.CreateToken(ctx, "nobody", "", gatehouse.ScopeAdmin, nil); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("token for unknown user: %v", err)
	}
}

func TestTokens(t *testing.T) { eachDB(t, testTokens) }

func testLoginLinks(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	MustCreateUser(t, db, "alice")
	ls := keys.NewLoginService(db)

	l, err := ls.CreateLoginLink(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	sess, err := ls.RedeemLoginLink(ctx, l.Secret)
	if err != nil || sess.User.Name != "alice" {
		t.Fatalf("RedeemLoginLink = %+v, %v", sess, err)
	}
	if _, err := ls.RedeemLoginLink(ctx, l.Secret); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("link used twice: %v", err)
	}
	if got, err := ls.FindSession(ctx, sess.Secret); err != nil || got.User.Name != "alice" {
		t.Fatalf("FindSession = %+v, %v", got, err)
	}
	if err := ls.DeleteSession(ctx, sess.Secret); err != nil {
		t.Fatal(err)
	}
	if _, err := ls.FindSession(ctx, sess.Secret); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("session alive after logout: %v", err)
	}

	// Expired links are refused.
	l, err = ls.CreateLoginLink(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	db.Now = func() time.Time { return time.Now().Add(gatehouse.LoginLinkTTL + time.Minute) }
	if _, err := ls.RedeemLoginLink(ctx, l.Secret); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("expired link: %v", err)
	}

	// Disabled users get no link and lose their sessions.
	db.Now = time.Now
	l, _ = ls.CreateLoginLink(ctx, "alice")
	sess, err = ls.RedeemLoginLink(ctx, l.Secret)
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := keys.NewUserService(db).UpdateUser(ctx, "alice", gatehouse.UserUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := ls.FindSession(ctx, sess.Secret); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("disabled user's session: %v", err)
	}
	if _, err := ls.CreateLoginLink(ctx, "alice"); !errors.Is(err, gatehouse.ErrForbidden) {
		t.Errorf("link for disabled user: %v", err)
	}
}

func TestLoginLinks(t *testing.T) { eachDB(t, testLoginLinks) }

// A token keeps the scope it was made with; there is no default here, the
// callers choose.
func testTokens_Scope(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	MustCreateUser(t, db, "alice")
	ts := keys.NewTokenService(db)

	for _, scope := range []gatehouse.TokenScope{gatehouse.ScopeRead, gatehouse.ScopeWrite, gatehouse.ScopeAdmin} {
		tok, secret, err := ts.CreateToken(ctx, "alice", scope.String(), scope, nil)
		if err != nil || tok.Scope != scope {
			t.Fatalf("CreateToken(%s) = %+v, %v", scope, tok, err)
		}
		if got, _, err := ts.AuthenticateToken(ctx, secret); err != nil || got.Scope != scope {
			t.Errorf("AuthenticateToken(%s token) = %+v, %v", scope, got, err)
		}
	}
	list, err := ts.FindTokens(ctx, "alice")
	if err != nil || len(list) != 3 {
		t.Fatalf("FindTokens = %v, %v", list, err)
	}
	for _, tok := range list {
		if tok.Scope.String() != tok.Name {
			t.Errorf("token %q lists scope %s", tok.Name, tok.Scope)
		}
	}
	for _, bad := range []gatehouse.TokenScope{0, gatehouse.ScopeAdmin + 1, -1} {
		if _, _, err := ts.CreateToken(ctx, "alice", "", bad, nil); !errors.Is(err, gatehouse.ErrInvalid) {
			t.Errorf("CreateToken with scope %d: %v, want ErrInvalid", int(bad), err)
		}
	}
}

func TestTokens_Scope(t *testing.T) { eachDB(t, testTokens_Scope) }

// Tokens made before tokens had scopes could do everything their user
// could; the migration makes them admin so that they keep working.
func testTokens_MigratedScope(t *testing.T) {
	d := freshDB(t)
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	const before = "0006_token_scopes.sql"
	if !slices.Contains(names, before) {
		t.Fatalf("no migration %s in %v", before, names)
	}
	// A database as the release before scopes left it, written the way
	// the store migrates, with one token in it.
	raw := d.raw(t)
	if _, err := raw.Exec(`CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, name := range names[:slices.Index(names, before)] {
		body, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		if d.postgres() {
			body = []byte(keys.PostgresSchema(string(body)))
		}
		if _, err := raw.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := raw.Exec(d.rebind(`INSERT INTO schema_migrations (name, applied_at) VALUES (?, '2026-01-01T00:00:00.000000000Z')`), name); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO users (name, created_at) VALUES ('alice', '2026-01-01T00:00:00.000000000Z')`,
		`INSERT INTO api_tokens (user_id, hash, name, created_at) VALUES (1, 'old-digest', 'old', '2026-01-01T00:00:00.000000000Z')`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	db := d.open(t)
	// The upgrade is reported; only SQLite has a file to copy first.
	if want := names[slices.Index(names, before):]; !slices.Equal(db.Upgraded, want) || (db.Backup == "") != d.postgres() {
		t.Fatalf("upgraded %v with backup %q, want %v (a backup on SQLite only)", db.Upgraded, db.Backup, want)
	}
	list, err := keys.NewTokenService(db).FindTokens(context.Background(), "alice")
	if err != nil || len(list) != 1 {
		t.Fatalf("FindTokens = %v, %v", list, err)
	}
	if list[0].Name != "old" || list[0].Scope != gatehouse.ScopeAdmin {
		t.Errorf("migrated token = %+v, want scope admin", list[0])
	}
}

func TestTokens_MigratedScope(t *testing.T) { eachDB(t, testTokens_MigratedScope) }
