package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse"
	"gatehouse/keys"
	"gatehouse/repos"
	"gatehouse/web"
)

// MustOpenServer serves the real handlers over real HTTP on a free port,
// backed by a fresh database; deploy keys and protection are left out to
// check that the server copes without them.
func MustOpenServer(tb testing.TB) (*web.Server, *keys.DB, string) {
	tb.Helper()
	dir := tb.TempDir()
	db, err := keys.Open(filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	s := &web.Server{
		Addr:    "127.0.0.1:0",
		Users:   keys.NewUserService(db),
		Keys:    keys.NewKeyService(db),
		Repos:   repos.NewService(keys.NewRepoStore(db), filepath.Join(dir, "repos")),
		Audit:   keys.NewAuditService(db),
		Tokens:  keys.NewTokenService(db),
		Logins:  keys.NewLoginService(db),
		SSHAddr: "git.example.com:2222",
	}
	if err := s.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close(context.Background()) })
	return s, db, "http://" + s.ListenAddr().String()
}

func TestHealthzAndHeaders(t *testing.T) {
	_, _, base := MustOpenServer(t)
	res, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "ok\n" {
		t.Fatalf("healthz: %d %q", res.StatusCode, b)
	}
	res, err = http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	h := res.Header
	if res.StatusCode != http.StatusUnauthorized || h.Get("X-Frame-Options") != "DENY" ||
		!strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") || h.Get("Referrer-Policy") != "same-origin" {
		t.Errorf("panel without session: %d %v", res.StatusCode, h)
	}
	if _, err := http.Get(base + "/metrics"); err != nil {
		t.Fatal(err)
	}
}

func TestAPIErrorsAreJSON(t *testing.T) {
	s, db, base := MustOpenServer(t)
	ctx := context.Background()
	if err := s.Users.CreateUser(ctx, &gatehouse.User{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Repos.CreateRepo(ctx, &gatehouse.Repo{Owner: "alice", Name: "r", Private: true}); err != nil {
		t.Fatal(err)
	}
	_, secret, err := keys.NewTokenService(db).CreateToken(ctx, "alice", "", gatehouse.ScopeAdmin, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token, method, path string
		want                      int
	}{
		{"no token", "", "GET", "/api/v1/user", 401},
		{"wrong scheme", "Basic " + secret, "GET", "/api/v1/user", 401},
		{"deploy keys unavailable", "Bearer " + secret, "GET", "/api/v1/repos/alice/r/deploy-keys", 501},
		{"protection unavailable", "Bearer " + secret, "GET", "/api/v1/repos/alice/r/protected-branches", 501},
		{"method", "Bearer " + secret, "PUT", "/api/v1/user", 405},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", tc.token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error string }
		err = json.NewDecoder(res.Body).Decode(&e)
		res.Body.Close()
		if res.StatusCode != tc.want || err != nil || e.Error == "" {
			t.Errorf("%s: %d %q (%v), want %d with an error message", tc.name, res.StatusCode, e.Error, err, tc.want)
		}
		if tc.want == 401 && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: no WWW-Authenticate", tc.name)
		}
	}
}

func TestLoginCookieAndOrigin(t *testing.T) {
	s, _, base := MustOpenServer(t)
	ctx := context.Background()
	if err := s.Users.CreateUser(ctx, &gatehouse.User{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(secret string, header http.Header) *http.Response {
		req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"link": {secret}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}

	// A cross-site form is refused and does not use the link up.
	l, err := s.Logins.CreateLoginLink(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"https://evil.example", "null"} {
		if res := post(l.Secret, http.Header{"Origin": {o}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("login from origin %s: %d", o, res.StatusCode)
		}
	}
	// Behind a TLS proxy the cookie is Secure.
	res := post(l.Secret, http.Header{"Origin": {base}, "X-Forwarded-Proto": {"https"}})
	ck := res.Cookies()
	if res.StatusCode != http.StatusSeeOther || len(ck) != 1 || !ck[0].Secure || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("login: %d %+v", res.StatusCode, ck)
	}
	if strings.Contains(ck[0].Value, l.Secret) {
		t.Error("session cookie holds the link secret")
	}
}
