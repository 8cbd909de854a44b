package main_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// panelClient is a browser stand-in for the panel over plain HTTP: a
// cookie jar and no redirects followed, so each answer can be checked.
type panelClient struct {
	tb   testing.TB
	base string
	c    *http.Client
	csrf string
}

func newPanelClient(tb testing.TB, base string) *panelClient {
	jar, _ := cookiejar.New(nil)
	return &panelClient{tb: tb, base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// login spends link and reads the CSRF token from the dashboard.
func (p *panelClient) login(link string) {
	p.tb.Helper()
	secret := link[strings.LastIndexByte(link, '/')+1:]
	if code, _ := p.post("/login", url.Values{"link": {secret}}); code != http.StatusSeeOther {
		p.tb.Fatalf("login: %d", code)
	}
	code, body := p.get("/")
	m := csrfField.FindStringSubmatch(body)
	if code != 200 || m == nil {
		p.tb.Fatalf("dashboard: %d, csrf %v", code, m)
	}
	p.csrf = m[1]
}

func (p *panelClient) get(path string) (int, string) {
	p.tb.Helper()
	res, err := p.c.Get(p.base + path)
	if err != nil {
		p.tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (p *panelClient) post(path string, form url.Values) (int, string) {
	p.tb.Helper()
	res, err := p.c.PostForm(p.base+path, form)
	if err != nil {
		p.tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// postCSRF posts form with the session's CSRF token.
func (p *panelClient) postCSRF(path string, form url.Values) (int, string) {
	p.tb.Helper()
	form.Set("csrf", p.csrf)
	return p.post(path, form)
}

func TestPanelRefusals(t *testing.T) {
	s, base := MustRunWeb(t)
	s.User("alice")
	s.User("bob")
	s.MustCLI("repo", "create", "bob/hidden", "--private")
	s.MustCLI("repo", "create", "bob/shared", "--private")
	s.MustCLI("collab", "add", "bob/shared", "alice", "read")

	anon := newPanelClient(t, base)
	if code, body := anon.get("/repos"); code != http.StatusUnauthorized || !strings.Contains(body, "login-link") {
		t.Errorf("no session: %d", code)
	}
	if code, _ := anon.post("/login", url.Values{"link": {"gh_link_forged"}}); code != http.StatusUnauthorized {
		t.Errorf("forged link: %d", code)
	}

	alice := newPanelClient(t, base)
	alice.login(s.LoginLink("alice", base))

	// CSRF: no token, a wrong token, another session's token.
	if code, _ := alice.post("/repos", url.Values{"name": {"x"}}); code != http.StatusForbidden {
		t.Errorf("no csrf: %d", code)
	}
	if code, _ := alice.post("/repos", url.Values{"name": {"x"}, "csrf": {strings.Repeat("0", 64)}}); code != http.StatusForbidden {
		t.Errorf("wrong csrf: %d", code)
	}
	bobPanel := newPanelClient(t, base)
	bobPanel.login(s.LoginLink("bob", base))
	if code, _ := alice.post("/repos", url.Values{"name": {"x"}, "csrf": {bobPanel.csrf}}); code != http.StatusForbidden {
		t.Errorf("bob's csrf in alice's session: %d", code)
	}
	if code, _ := alice.post("/logout", url.Values{}); code != http.StatusForbidden {
		t.Errorf("logout without csrf: %d", code)
	}
	if _, err := s.CLI("repo", "show", "alice/x"); err == nil {
		t.Fatal("a refused form created a repository")
	}
	if code, _ := alice.postCSRF("/repos", url.Values{"name": {"x"}}); code != http.StatusSeeOther {
		t.Errorf("with csrf: %d", code)
	}

	// Authorization: site-admin pages, others' accounts, repositories
	// alice cannot read (404 like missing ones) or only read (403).
	for _, tc := range []struct {
		name, method, path string
		form               url.Values
		want               int
	}{
		{"create user", "POST", "/users", url.Values{"name": {"mallory"}}, 403},
		{"bob's keys", "GET", "/users/bob", nil, 404},
		{"add key to bob", "POST", "/users/bob/keys", url.Values{"key": {NewKey(t).Public}}, 404},
		{"bob's token", "POST", "/users/bob/tokens", url.Values{"name": {"x"}}, 404},
		{"hidden repo", "GET", "/repos/bob/hidden", nil, 404},
		{"missing repo", "GET", "/repos/bob/nothing", nil, 404},
		{"grant on hidden", "POST", "/repos/bob/hidden/collaborators", url.Values{"user": {"alice"}, "level": {"admin"}}, 404},
		{"settings of hidden", "POST", "/repos/bob/hidden/settings", url.Values{"visibility": {"public"}}, 404},
		{"create under bob", "POST", "/repos", url.Values{"owner": {"bob"}, "name": {"y"}}, 403},
		{"grant on read-only", "POST", "/repos/bob/shared/collaborators", url.Values{"user": {"alice"}, "level": {"admin"}}, 403},
		{"protect read-only", "POST", "/repos/bob/shared/protected", url.Values{"pattern": {"main"}}, 403},
		{"deploy key on read-only", "POST", "/repos/bob/shared/deploy-keys", url.Values{"key": {NewKey(t).Public}}, 403},
		{"read shared", "GET", "/repos/bob/shared", nil, 200},
		{"disable bob", "POST", "/users/bob/update", url.Values{"action": {"disable"}}, 404},
		{"make herself admin", "POST", "/users/alice/update", url.Values{"action": {"admin"}}, 403},
		{"delete hidden", "POST", "/repos/bob/hidden/delete", url.Values{"confirm": {"bob/hidden"}}, 404},
		{"delete read-only", "POST", "/repos/bob/shared/delete", url.Values{"confirm": {"bob/shared"}}, 403},
		{"delete unconfirmed", "POST", "/repos/alice/x/delete", url.Values{"confirm": {"x"}}, 422},
		{"delete confirmed", "POST", "/repos/alice/x/delete", url.Values{"confirm": {"alice/x"}}, 303},
		{"audit of shared", "GET", "/audit?repo=bob/shared", nil, 403},
		{"audit of all", "GET", "/audit?user=bob", nil, 403},
		{"audit page overflow", "GET", "/audit?user=alice&page=4611686018427387904&per_page=2", nil, 400},
	} {
		var code int
		var body string
		if tc.method == "GET" {
			code, body = alice.get(tc.path)
		} else {
			code, body = alice.postCSRF(tc.path, tc.form)
		}
		if code != tc.want {
			t.Errorf("%s: %d, want %d\n%s", tc.name, code, tc.want, body)
		}
	}
	// The read-only page shows no admin forms.
	if _, body := alice.get("/repos/bob/shared"); strings.Contains(body, "/collaborators") {
		t.Error("reader sees the collaborator form")
	}
	if out := s.MustCLI("collab", "list", "bob/shared"); strings.Contains(out, "admin") {
		t.Errorf("alice escalated: %s", out)
	}

	// Logging out ends the session on the server, not only in the jar.
	u, _ := url.Parse(base)
	old := alice.c.Jar.Cookies(u)
	if code, _ := alice.postCSRF("/logout", url.Values{}); code != 200 {
		t.Errorf("logout: %d", code)
	}
	if code, _ := alice.get("/"); code != http.StatusUnauthorized {
		t.Errorf("after logout: %d", code)
	}
	alice.c.Jar.SetCookies(u, old)
	if code, _ := alice.get("/"); code != http.StatusUnauthorized || len(old) != 1 {
		t.Errorf("old cookie after logout: %d (%d cookies)", code, len(old))
	}
}
