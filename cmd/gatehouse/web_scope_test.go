package main_test

import (
	"strings"
	"testing"
	"time"

	"gatehouse"
)

// A token's scope caps what it may do; the user's own rights still decide
// the rest. Here alice's tokens differ only in scope.
func TestAPITokenScopes(t *testing.T) {
	s, base := MustRunWeb(t)
	s.User("alice")
	read := apiClient{t, base, s.Token("alice", "--scope", "read")}
	write := apiClient{t, base, s.Token("alice", "--scope", "write")}
	admin := apiClient{t, base, s.Token("alice", "--scope", "admin")}
	plain := apiClient{t, base, s.Token("alice")} // admin by default, as before scopes

	read.want(403, "POST", "/repos", map[string]any{"name": "r"}, nil)
	if _, err := s.CLI("repo", "show", "alice/r"); err == nil {
		t.Fatal("a refused request created a repository")
	}
	admin.want(201, "POST", "/repos", map[string]any{"name": "r"}, nil)
	write.want(201, "POST", "/repos", map[string]any{"name": "w"}, nil)
	plain.want(201, "POST", "/repos", map[string]any{"name": "p"}, nil)

	// Reading is open to all three, limited to what alice may see.
	var repo struct{ Access string }
	read.want(200, "GET", "/repos/alice/r", nil, &repo)
	if repo.Access != "admin" {
		t.Errorf("read token sees access %q, want alice's admin", repo.Access)
	}
	read.want(200, "GET", "/users/alice/tokens", nil, nil)
	read.want(404, "GET", "/users/admin", nil, nil)

	// Write creates repositories but changes no settings, grants, keys or tokens.
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"PATCH", "/repos/alice/r", map[string]any{"description": "x"}},
		{"DELETE", "/repos/alice/r", nil},
		{"PUT", "/repos/alice/r/collaborators/admin", map[string]any{"level": "read"}},
		{"POST", "/repos/alice/r/deploy-keys", map[string]any{"key": NewKey(t).Public}},
		{"POST", "/users/alice/keys", map[string]any{"key": NewKey(t).Public}},
		{"POST", "/users/alice/tokens", map[string]any{"scope": "read"}},
		{"DELETE", "/users/alice/tokens/1", nil},
	} {
		var e struct{ Error string }
		write.want(403, c.method, c.path, c.body, &e)
		if !strings.Contains(e.Error, "admin scope") {
			t.Errorf("%s %s: error %q does not name the scope", c.method, c.path, e.Error)
		}
		read.want(403, c.method, c.path, c.body, nil)
	}
	admin.want(200, "PATCH", "/repos/alice/r", map[string]any{"description": "x"}, nil)
	admin.want(200, "PUT", "/repos/alice/r/collaborators/admin", map[string]any{"level": "read"}, nil)

	// The scope only narrows: an admin-scoped token of a user who is not
	// a site admin is no site admin.
	admin.want(403, "POST", "/users", map[string]any{"name": "mallory"}, nil)

	// Tokens list their scope; the CLI refuses unknown scopes.
	var list []struct{ Scope string }
	read.want(200, "GET", "/users/alice/tokens", nil, &list)
	scopes := map[string]int{}
	for _, l := range list {
		scopes[l.Scope]++
	}
	if scopes["read"] != 1 || scopes["write"] != 1 || scopes["admin"] != 2 {
		t.Errorf("listed scopes %v", scopes)
	}
	if out, err := s.CLI("token", "create", "alice", "--scope", "owner"); err == nil {
		t.Errorf("--scope owner accepted: %s", out)
	}
	admin.want(422, "POST", "/users/alice/tokens", map[string]any{"scope": "owner"}, nil)
}

// A token never makes a token that outlives it or may do more than it.
func TestAPITokenMintLimits(t *testing.T) {
	s, base := MustRunWeb(t)
	s.User("alice")
	parent := apiClient{t, base, s.Token("alice", "--name", "parent", "--expires", "1h")}
	var tokens []struct {
		Name      string
		ExpiresAt *time.Time `json:"expires_at"`
	}
	parent.want(200, "GET", "/users/alice/tokens", nil, &tokens)
	if len(tokens) != 1 || tokens[0].ExpiresAt == nil {
		t.Fatalf("tokens %+v", tokens)
	}
	parentExpiry := *tokens[0].ExpiresAt

	type minted struct {
		Token     string
		Scope     string
		ExpiresAt *time.Time `json:"expires_at"`
	}
	for _, c := range []struct {
		name string
		body map[string]any
	}{
		{"longer", map[string]any{"expires_in": "8760h"}},
		{"never", map[string]any{}},
	} {
		var m minted
		parent.want(201, "POST", "/users/alice/tokens", c.body, &m)
		if m.ExpiresAt == nil || !m.ExpiresAt.Equal(parentExpiry) {
			t.Errorf("%s: minted token expires %v, want the parent's %v", c.name, m.ExpiresAt, parentExpiry)
		}
		if m.Scope != "admin" {
			t.Errorf("%s: minted scope %q, want the parent's admin", c.name, m.Scope)
		}
	}
	var short minted
	parent.want(201, "POST", "/users/alice/tokens", map[string]any{"expires_in": "1m", "scope": "read"}, &short)
	if short.ExpiresAt == nil || !short.ExpiresAt.Before(parentExpiry) || short.Scope != "read" {
		t.Errorf("a shorter, narrower token: %+v", short)
	}
	// That read token may not mint anything, let alone an admin token.
	apiClient{t, base, short.Token}.want(403, "POST", "/users/alice/tokens", map[string]any{"scope": "admin"}, nil)

	// A token that never expires mints tokens that do, within
	// MaxMintedTokenLifetime.
	forever := apiClient{t, base, s.Token("alice", "--name", "forever")}
	before := time.Now()
	var m minted
	forever.want(201, "POST", "/users/alice/tokens", map[string]any{}, &m)
	if m.ExpiresAt == nil || m.ExpiresAt.Before(before.Add(gatehouse.MaxMintedTokenLifetime)) ||
		m.ExpiresAt.After(time.Now().Add(gatehouse.MaxMintedTokenLifetime)) {
		t.Errorf("token minted by a non-expiring one expires %v, want %s from now", m.ExpiresAt, gatehouse.MaxMintedTokenLifetime)
	}
	apiClient{t, base, m.Token}.want(200, "GET", "/user", nil, nil)
}
