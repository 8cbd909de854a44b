package web_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"gatehouse"
	"gatehouse/keys"
)

// Every API route is open to a token of the scope it needs and refused,
// with RFC 6750's insufficient_scope, to the scopes below. Walking the
// router's own routes means a route added without a scope fails here: an
// unclassified route is refused even to admin tokens.
func TestAPIScopes(t *testing.T) {
	s, db, base := MustOpenServer(t)
	ctx := context.Background()
	if err := s.Users.CreateUser(ctx, &gatehouse.User{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	secrets := map[gatehouse.TokenScope]string{}
	for _, scope := range []gatehouse.TokenScope{gatehouse.ScopeRead, gatehouse.ScopeWrite, gatehouse.ScopeAdmin} {
		_, secret, err := keys.NewTokenService(db).CreateToken(ctx, "alice", "", scope, nil)
		if err != nil {
			t.Fatal(err)
		}
		secrets[scope] = secret
	}
	// What each route needs, as the README states it.
	needs := func(method, route string) gatehouse.TokenScope {
		switch {
		case method == "GET":
			return gatehouse.ScopeRead
		case method == "POST" && route == "/api/v1/repos":
			return gatehouse.ScopeWrite
		}
		return gatehouse.ScopeAdmin
	}
	param := regexp.MustCompile(`\{[^}]+\}|\*`)
	n := 0
	err := chi.Walk(s.Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if !strings.HasPrefix(route, "/api/v1/") {
			return nil
		}
		n++
		// A router's root is reached with and without the slash.
		paths := []string{param.ReplaceAllString(route, "x")}
		if p, ok := strings.CutSuffix(paths[0], "/"); ok {
			paths = append(paths, p)
		}
		for _, path := range paths {
			for scope, secret := range secrets {
				req, err := http.NewRequest(method, base+path, strings.NewReader("{}"))
				if err != nil {
					return err
				}
				req.Header.Set("Authorization", "Bearer "+secret)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					return err
				}
				res.Body.Close()
				refused := res.StatusCode == http.StatusForbidden && strings.Contains(res.Header.Get("WWW-Authenticate"), "insufficient_scope")
				if want := scope < needs(method, route); refused != want {
					t.Errorf("%s %s with a %s token: %d %q, want refused=%v", method, path, scope, res.StatusCode, res.Header.Get("WWW-Authenticate"), want)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 40 {
		t.Errorf("walked %d API routes; the walk missed some", n)
	}
}
