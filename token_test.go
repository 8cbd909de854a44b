package gatehouse_test

import (
	"errors"
	"testing"
	"time"

	"gatehouse"
)

func TestMintLimits(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	never := (*time.Time)(nil)
	cap30 := at(gatehouse.MaxMintedTokenLifetime)
	for _, tc := range []struct {
		name       string
		parent     gatehouse.Token
		scope      gatehouse.TokenScope
		expires    *time.Time
		wantScope  gatehouse.TokenScope
		wantExpiry *time.Time
		wantErr    error
	}{
		{"default scope is the parent's", gatehouse.Token{Scope: gatehouse.ScopeWrite, ExpiresAt: at(time.Hour)}, 0, at(time.Minute), gatehouse.ScopeWrite, at(time.Minute), nil},
		{"narrower scope", gatehouse.Token{Scope: gatehouse.ScopeAdmin, ExpiresAt: at(time.Hour)}, gatehouse.ScopeRead, at(time.Minute), gatehouse.ScopeRead, at(time.Minute), nil},
		{"same scope", gatehouse.Token{Scope: gatehouse.ScopeRead, ExpiresAt: at(time.Hour)}, gatehouse.ScopeRead, at(time.Minute), gatehouse.ScopeRead, at(time.Minute), nil},
		{"wider scope", gatehouse.Token{Scope: gatehouse.ScopeWrite, ExpiresAt: at(time.Hour)}, gatehouse.ScopeAdmin, at(time.Minute), 0, nil, gatehouse.ErrForbidden},
		{"later expiry is capped", gatehouse.Token{Scope: gatehouse.ScopeAdmin, ExpiresAt: at(time.Hour)}, 0, at(24 * time.Hour), gatehouse.ScopeAdmin, at(time.Hour), nil},
		{"no expiry gets the parent's", gatehouse.Token{Scope: gatehouse.ScopeAdmin, ExpiresAt: at(time.Hour)}, 0, never, gatehouse.ScopeAdmin, at(time.Hour), nil},
		{"never-expiring parent: no expiry is capped", gatehouse.Token{Scope: gatehouse.ScopeAdmin}, 0, never, gatehouse.ScopeAdmin, cap30, nil},
		{"never-expiring parent: long expiry is capped", gatehouse.Token{Scope: gatehouse.ScopeAdmin}, 0, at(365 * 24 * time.Hour), gatehouse.ScopeAdmin, cap30, nil},
		{"never-expiring parent: short expiry kept", gatehouse.Token{Scope: gatehouse.ScopeAdmin}, 0, at(time.Hour), gatehouse.ScopeAdmin, at(time.Hour), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scope, exp, err := gatehouse.MintLimits(&tc.parent, now, tc.scope, tc.expires)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if scope != tc.wantScope {
				t.Errorf("scope = %s, want %s", scope, tc.wantScope)
			}
			if exp == nil || !exp.Equal(*tc.wantExpiry) {
				t.Errorf("expiry = %v, want %v", exp, *tc.wantExpiry)
			}
		})
	}
}

func TestParseTokenScope(t *testing.T) {
	for in, want := range map[string]gatehouse.TokenScope{"read": gatehouse.ScopeRead, "Write": gatehouse.ScopeWrite, "ADMIN": gatehouse.ScopeAdmin} {
		if got, err := gatehouse.ParseTokenScope(in); err != nil || got != want {
			t.Errorf("ParseTokenScope(%q) = %s, %v; want %s", in, got, err, want)
		}
		if b, _ := want.MarshalText(); string(b) != want.String() {
			t.Errorf("MarshalText(%s) = %q", want, b)
		}
	}
	for _, bad := range []string{"", "none", "owner", "read,write"} {
		if _, err := gatehouse.ParseTokenScope(bad); !errors.Is(err, gatehouse.ErrInvalid) {
			t.Errorf("ParseTokenScope(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}
