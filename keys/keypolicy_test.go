package keys_test

import (
	"context"
	"errors"
	"testing"

	"gatehouse"
	"gatehouse/keys"
)

func TestKeyPolicyService(t *testing.T) {
	eachDB(t, func(t *testing.T) {
		db := MustOpenDB(t)
		ps := keys.NewKeyPolicyService(db)
		ctx := context.Background()
		MustCreateUser(t, db, "alice")
		MustCreateOrg(t, db, "acme")
		site := gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeSite}
		alice := gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeUser, Name: "alice"}
		acme := gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeOrg, Name: "acme"}

		for _, sc := range []gatehouse.KeyPolicyScope{site, alice, acme} {
			if p, err := ps.FindKeyPolicy(ctx, sc); err != nil || p != gatehouse.KeyPolicyAny {
				t.Errorf("%s before any set: %v, %v", sc, p, err)
			}
		}
		must := func(sc gatehouse.KeyPolicyScope, p gatehouse.KeyPolicy) {
			t.Helper()
			if err := ps.SetKeyPolicy(ctx, sc, p); err != nil {
				t.Fatalf("set %s %s: %v", sc, p, err)
			}
		}
		must(site, gatehouse.KeyPolicySKOnly)
		must(site, gatehouse.KeyPolicySKTouch) // the upsert replaces
		must(acme, gatehouse.KeyPolicySKVerify)
		if p, _ := ps.FindKeyPolicy(ctx, site); p != gatehouse.KeyPolicySKTouch {
			t.Errorf("site policy %s", p)
		}
		if p, _ := ps.FindKeyPolicy(ctx, acme); p != gatehouse.KeyPolicySKVerify {
			t.Errorf("acme's policy %s", p)
		}

		// The site's is stricter than alice's; then hers is.
		if r, err := ps.LoginKeyPolicy(ctx, "alice"); err != nil || r.String() != "sk-touch (site)" {
			t.Errorf("login policy %s, %v", r, err)
		}
		must(alice, gatehouse.KeyPolicySKVerify)
		if r, err := ps.LoginKeyPolicy(ctx, "alice"); err != nil || r.String() != "sk-verify (user alice)" {
			t.Errorf("login policy %s, %v", r, err)
		}
		// An organization's policy is not a login policy, and an unknown
		// user gets the site's.
		for _, name := range []string{"acme", "nobody", ""} {
			if r, err := ps.LoginKeyPolicy(ctx, name); err != nil || r.String() != "sk-touch (site)" {
				t.Errorf("login policy of %q: %s, %v", name, r, err)
			}
		}

		for _, tt := range []struct {
			name  string
			scope gatehouse.KeyPolicyScope
			want  error
		}{
			{"org as user", gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeUser, Name: "acme"}, gatehouse.ErrNotFound},
			{"user as org", gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeOrg, Name: "alice"}, gatehouse.ErrNotFound},
			{"unknown user", gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeUser, Name: "nobody"}, gatehouse.ErrNotFound},
			{"named site", gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeSite, Name: "x"}, gatehouse.ErrInvalid},
			{"bad name", gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeUser, Name: "../x"}, gatehouse.ErrInvalid},
			{"unknown kind", gatehouse.KeyPolicyScope{Kind: "team", Name: "x"}, gatehouse.ErrInvalid},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := ps.FindKeyPolicy(ctx, tt.scope); !errors.Is(err, tt.want) {
					t.Errorf("find: %v, want %v", err, tt.want)
				}
				if err := ps.SetKeyPolicy(ctx, tt.scope, gatehouse.KeyPolicySKOnly); !errors.Is(err, tt.want) {
					t.Errorf("set: %v, want %v", err, tt.want)
				}
			})
		}
		if err := ps.SetKeyPolicy(ctx, site, gatehouse.KeyPolicy(7)); !errors.Is(err, gatehouse.ErrInvalid) {
			t.Errorf("unknown policy set: %v", err)
		}
	})
}

// Keys remember the security key options of their line.
func TestKeyService_SKOptions(t *testing.T) {
	eachDB(t, func(t *testing.T) {
		db := MustOpenDB(t)
		ctx := context.Background()
		MustCreateUser(t, db, "alice")
		ks := keys.NewKeyService(db)
		// An sk-ssh-ed25519@openssh.com public key (application "ssh:").
		const sk = "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIJCsH6W/j1t1eVsZ2wSzaQuv1vFKocW8NitAMXHItx3VAAAABHNzaDo="
		k, err := ks.AddKey(ctx, "alice", `no-touch-required,Verify-Required `+sk+" yubikey")
		if err != nil {
			t.Fatal(err)
		}
		if !k.NoTouchRequired || !k.VerifyRequired || k.Kind != "sk,no-touch-required,verify-required" {
			t.Fatalf("added %+v", k)
		}
		got, _, err := ks.FindKeyByFingerprint(ctx, k.Fingerprint)
		if err != nil || !got.NoTouchRequired || !got.VerifyRequired || got.Kind != k.Kind {
			t.Fatalf("found %+v, %v", got, err)
		}
		// The options mean nothing on other keys.
		ed, err := ks.AddKey(ctx, "alice", "no-touch-required,verify-required "+ed25519Line(t))
		if err != nil || ed.NoTouchRequired || ed.VerifyRequired || ed.Kind != "plain" {
			t.Fatalf("ed25519 with options: %+v, %v", ed, err)
		}
	})
}

// BenchmarkLoginKeyPolicy is the store's part of each login's policy check.
func BenchmarkLoginKeyPolicy(b *testing.B) {
	db := MustOpenDB(b)
	ps := keys.NewKeyPolicyService(db)
	ctx := context.Background()
	MustCreateUser(b, db, "alice")
	if err := ps.SetKeyPolicy(ctx, gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeSite}, gatehouse.KeyPolicySKOnly); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ps.LoginKeyPolicy(ctx, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}
