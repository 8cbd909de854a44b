package keys_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keys"
)

func TestTokens(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	MustCreateUser(t, db, "alice")
	MustCreateUser(t, db, "bob")
	ts := keys.NewTokenService(db)

	tok, secret, err := ts.CreateToken(ctx, "alice", "ci", nil)
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
	if _, _, err := ts.CreateToken(ctx, "alice", "", &past); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Errorf("expiry in the past: %v", err)
	}
	soon := time.Now().Add(time.Hour)
	_, secret, err = ts.CreateToken(ctx, "alice", "", &soon)
	if err != nil {
		t.Fatal(err)
	}
	db.Now = func() time.Time { return soon.Add(time.Second) }
	if _, _, err := ts.AuthenticateToken(ctx, secret); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("expired token works: %v", err)
	}
	if _, _, err := ts.CreateToken(ctx, "nobody", "", nil); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("token for unknown user: %v", err)
	}
}

func TestLoginLinks(t *testing.T) {
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
