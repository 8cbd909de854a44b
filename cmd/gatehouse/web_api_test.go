package main_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	main "gatehouse/cmd/gatehouse"
)

// WebServer is a Server with the panel and API on a free port.
func MustRunWeb(tb testing.TB) (*Server, string) {
	tb.Helper()
	s := MustRunMain(tb, func(c *main.Config) { c.HTTPAddr = "127.0.0.1:0" })
	return s, "http://" + s.HTTP.ListenAddr().String()
}

// Token creates an API token for user with the CLI.
func (s *Server) Token(user string, extra ...string) string {
	s.tb.Helper()
	out := s.MustCLI(append([]string{"token", "create", user}, extra...)...)
	return strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
}

// apiClient calls the JSON API with a token.
type apiClient struct {
	tb    testing.TB
	base  string
	token string
}

// do sends body (JSON-encoded unless a string) and decodes the answer
// into out when out is not nil. It returns the status.
func (c apiClient) do(method, path string, body any, out any) int {
	c.tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.tb.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+"/api/v1"+path, rd)
	if err != nil {
		c.tb.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 400 {
		var e struct{ Error string }
		if err := json.Unmarshal(raw, &e); err != nil || e.Error == "" {
			c.tb.Errorf("%s %s: %d with body %q, want {\"error\": ...}", method, path, res.StatusCode, raw)
		}
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			c.tb.Fatalf("%s %s: %v in %q", method, path, err, raw)
		}
	}
	return res.StatusCode
}

// want checks the status of a call.
func (c apiClient) want(status int, method, path string, body any, out any) {
	c.tb.Helper()
	if got := c.do(method, path, body, out); got != status {
		c.tb.Errorf("%s %s = %d, want %d", method, path, got, status)
	}
}

func TestAPIAuthentication(t *testing.T) {
	s, base := MustRunWeb(t)
	anon := apiClient{t, base, ""}
	anon.want(401, "GET", "/user", nil, nil)
	apiClient{t, base, "nonsense"}.want(401, "GET", "/user", nil, nil)
	apiClient{t, base, "gh_tok_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}.want(401, "GET", "/user", nil, nil)

	tok := s.Token("admin", "--name", "ci")
	admin := apiClient{t, base, tok}
	var me struct {
		Name  string
		Admin bool
	}
	admin.want(200, "GET", "/user", nil, &me)
	if me.Name != "admin" || !me.Admin {
		t.Fatalf("me = %+v", me)
	}
	// Last use is recorded; revoking ends the token.
	var list []struct {
		ID         int64
		LastUsedAt *time.Time `json:"last_used_at"`
	}
	admin.want(200, "GET", "/users/admin/tokens", nil, &list)
	if len(list) != 1 || list[0].LastUsedAt == nil {
		t.Fatalf("tokens = %+v", list)
	}
	s.MustCLI("token", "rm", "admin", "1")
	admin.want(401, "GET", "/user", nil, nil)

	// Expired tokens are refused.
	short := s.Token("admin", "--expires", "50ms")
	time.Sleep(100 * time.Millisecond)
	apiClient{t, base, short}.want(401, "GET", "/user", nil, nil)

	// Disabled users' tokens are refused.
	s.User("dave")
	dave := apiClient{t, base, s.Token("dave")}
	dave.want(200, "GET", "/user", nil, nil)
	s.MustCLI("user", "disable", "dave")
	dave.want(401, "GET", "/user", nil, nil)
}

func TestAPIUsersAndKeys(t *testing.T) {
	s, base := MustRunWeb(t)
	admin := apiClient{t, base, s.Token("admin")}
	s.User("alice")
	s.User("bob")
	alice := apiClient{t, base, s.Token("alice")}

	admin.want(201, "POST", "/users", map[string]any{"name": "carol"}, nil)
	admin.want(409, "POST", "/users", map[string]any{"name": "carol"}, nil)
	admin.want(422, "POST", "/users", map[string]any{"name": "Bad/Name"}, nil)
	admin.want(400, "POST", "/users", `{"name": "x"`, nil)
	admin.want(400, "POST", "/users", map[string]any{"name": "x", "superuser": true}, nil)
	admin.want(400, "POST", "/users", `{"name":"`+strings.Repeat("a", 100<<10)+`"}`, nil)
	alice.want(403, "POST", "/users", map[string]any{"name": "mallory"}, nil)

	var users []struct{ Name string }
	alice.want(200, "GET", "/users", nil, &users)
	if len(users) != 1 || users[0].Name != "alice" {
		t.Errorf("alice sees users %+v, want only herself", users)
	}
	admin.want(200, "GET", "/users", nil, &users)
	if len(users) != 4 {
		t.Errorf("admin sees %d users, want 4", len(users))
	}
	// Others' accounts do not exist for alice, whether they exist or not.
	alice.want(404, "GET", "/users/bob", nil, nil)
	alice.want(404, "GET", "/users/nobody", nil, nil)
	alice.want(404, "GET", "/users/bob/keys", nil, nil)
	alice.want(404, "POST", "/users/bob/keys", map[string]any{"key": NewKey(t).Public}, nil)
	alice.want(404, "GET", "/users/bob/tokens", nil, nil)
	alice.want(404, "PATCH", "/users/bob", map[string]any{"disabled": true}, nil)
	alice.want(403, "PATCH", "/users/alice", map[string]any{"admin": true}, nil)
	admin.want(200, "PATCH", "/users/carol", map[string]any{"disabled": true}, nil)

	// Keys: validated exactly as the CLI validates them.
	k := NewKey(t)
	var added struct{ Fingerprint, Type string }
	alice.want(201, "POST", "/users/alice/keys", map[string]any{"key": k.Public}, &added)
	if added.Type != "ssh-ed25519" || !strings.HasPrefix(added.Fingerprint, "SHA256:") {
		t.Fatalf("added %+v", added)
	}
	alice.want(409, "POST", "/users/alice/keys", map[string]any{"key": k.Public}, nil)
	alice.want(422, "POST", "/users/alice/keys", map[string]any{"key": "ssh-ed25519 AAAAnotakey"}, nil)
	var keys []struct{ Fingerprint string }
	alice.want(200, "GET", "/users/alice/keys", nil, &keys)
	if len(keys) != 2 {
		t.Fatalf("alice has %d keys, want 2", len(keys))
	}
	// Fingerprints hold "/" and "+": sent escaped.
	alice.want(204, "DELETE", "/users/alice/keys/"+url.PathEscape(added.Fingerprint), nil, nil)
	alice.want(404, "DELETE", "/users/alice/keys/"+url.PathEscape(added.Fingerprint), nil, nil)

	// Tokens made through the API work and can be revoked.
	var tok struct {
		ID    int64
		Token string
	}
	alice.want(201, "POST", "/users/alice/tokens", map[string]any{"name": "script", "expires_in": "1h"}, &tok)
	apiClient{t, base, tok.Token}.want(200, "GET", "/user", nil, nil)
	alice.want(422, "POST", "/users/alice/tokens", map[string]any{"expires_in": "soon"}, nil)
	alice.want(204, "DELETE", "/users/alice/tokens/"+itoa(tok.ID), nil, nil)
	apiClient{t, base, tok.Token}.want(401, "GET", "/user", nil, nil)

	admin.want(204, "DELETE", "/users/carol", nil, nil)
	admin.want(404, "GET", "/users/carol", nil, nil)
}

func TestAPIRepos(t *testing.T) {
	s, base := MustRunWeb(t)
	admin := apiClient{t, base, s.Token("admin")}
	s.User("alice")
	s.User("bob")
	alice := apiClient{t, base, s.Token("alice")}
	bob := apiClient{t, base, s.Token("bob")}

	var repo struct {
		Owner, Name, Description string
		Private                  bool
		Clone                    string `json:"clone_url"`
	}
	alice.want(201, "POST", "/repos", map[string]any{"name": "secret", "description": "mine"}, &repo)
	if repo.Owner != "alice" || !repo.Private {
		t.Fatalf("created %+v, want private under alice", repo)
	}
	alice.want(409, "POST", "/repos", map[string]any{"name": "secret"}, nil)
	alice.want(422, "POST", "/repos", map[string]any{"name": "../etc"}, nil)
	alice.want(403, "POST", "/repos", map[string]any{"owner": "bob", "name": "x"}, nil)
	admin.want(201, "POST", "/repos", map[string]any{"owner": "bob", "name": "public", "private": false}, nil)

	// A private repository bob cannot read is indistinguishable from none.
	var e1, e2 struct{ Error string }
	bob.want(404, "GET", "/repos/alice/secret", nil, &e1)
	bob.want(404, "GET", "/repos/alice/nothing", nil, &e2)
	if strings.Replace(e1.Error, "secret", "X", 1) != strings.Replace(e2.Error, "nothing", "X", 1) {
		t.Errorf("errors differ: %q vs %q", e1.Error, e2.Error)
	}
	bob.want(404, "PATCH", "/repos/alice/secret", map[string]any{"private": false}, nil)
	bob.want(404, "GET", "/repos/alice/secret/collaborators", nil, nil)
	bob.want(404, "DELETE", "/repos/alice/secret", nil, nil)
	var rs []struct{ Owner, Name string }
	bob.want(200, "GET", "/repos", nil, &rs)
	if len(rs) != 1 || rs[0].Name != "public" {
		t.Errorf("bob lists %+v, want only bob/public", rs)
	}

	// Granted read: bob sees it but may not change it (403 now: he knows it exists).
	var cb struct{ User, Level string }
	alice.want(200, "PUT", "/repos/alice/secret/collaborators/bob", map[string]any{"level": "read"}, &cb)
	if cb.Level != "read" {
		t.Fatalf("collaborator %+v", cb)
	}
	alice.want(422, "PUT", "/repos/alice/secret/collaborators/bob", map[string]any{"level": "owner"}, nil)
	alice.want(404, "PUT", "/repos/alice/secret/collaborators/nobody", map[string]any{"level": "read"}, nil)
	bob.want(200, "GET", "/repos/alice/secret", nil, &repo)
	if repo.Clone == "" {
		t.Error("no clone URL")
	}
	bob.want(403, "PATCH", "/repos/alice/secret", map[string]any{"private": false}, nil)
	bob.want(403, "GET", "/repos/alice/secret/collaborators", nil, nil)
	bob.want(403, "POST", "/repos/alice/secret/deploy-keys", map[string]any{"key": NewKey(t).Public}, nil)
	bob.want(403, "POST", "/repos/alice/secret/protected-branches", map[string]any{"pattern": "main"}, nil)

	alice.want(200, "PATCH", "/repos/alice/secret", map[string]any{"description": "still mine"}, &repo)
	if repo.Description != "still mine" {
		t.Errorf("description %q", repo.Description)
	}
	var cbs []struct{ User, Level string }
	alice.want(200, "GET", "/repos/alice/secret/collaborators", nil, &cbs)
	if len(cbs) != 1 || cbs[0].User != "bob" {
		t.Errorf("collaborators %+v", cbs)
	}

	// Deploy keys.
	dk := NewKey(t)
	var dkey struct {
		Fingerprint string
		Write       bool
	}
	alice.want(201, "POST", "/repos/alice/secret/deploy-keys", map[string]any{"key": dk.Public, "write": true}, &dkey)
	if !dkey.Write {
		t.Errorf("deploy key %+v", dkey)
	}
	alice.want(409, "POST", "/repos/alice/secret/deploy-keys", map[string]any{"key": dk.Public}, nil)
	var dks []struct{ Fingerprint string }
	alice.want(200, "GET", "/repos/alice/secret/deploy-keys", nil, &dks)
	if len(dks) != 1 {
		t.Errorf("deploy keys %+v", dks)
	}
	alice.want(204, "DELETE", "/repos/alice/secret/deploy-keys/"+url.PathEscape(dkey.Fingerprint), nil, nil)

	// Protected branches; patterns hold "/".
	alice.want(201, "POST", "/repos/alice/secret/protected-branches", map[string]any{"pattern": "release/*"}, nil)
	var ps []struct{ Pattern string }
	alice.want(200, "GET", "/repos/alice/secret/protected-branches", nil, &ps)
	if len(ps) != 1 || ps[0].Pattern != "release/*" {
		t.Errorf("protected %+v", ps)
	}
	alice.want(204, "DELETE", "/repos/alice/secret/protected-branches/release/*", nil, nil)
	alice.want(404, "DELETE", "/repos/alice/secret/protected-branches/release/*", nil, nil)

	alice.want(204, "DELETE", "/repos/alice/secret/collaborators/bob", nil, nil)
	bob.want(404, "GET", "/repos/alice/secret", nil, nil)
	alice.want(204, "DELETE", "/repos/alice/secret", nil, nil)
	alice.want(404, "GET", "/repos/alice/secret", nil, nil)
	admin.want(404, "GET", "/no/such/endpoint", nil, nil)
}

func TestAPIAudit(t *testing.T) {
	s, base := MustRunWeb(t)
	admin := apiClient{t, base, s.Token("admin")}
	s.User("alice")
	s.User("bob")
	alice := apiClient{t, base, s.Token("alice")}
	bob := apiClient{t, base, s.Token("bob")}
	alice.want(201, "POST", "/repos", map[string]any{"name": "r"}, nil)
	alice.want(200, "PUT", "/repos/alice/r/collaborators/bob", map[string]any{"level": "write"}, nil)
	for _, d := range []string{"a", "b", "c"} {
		alice.want(200, "PATCH", "/repos/alice/r", map[string]any{"description": d}, nil)
	}

	type page struct {
		Events []struct{ Actor, Action, Repo, Detail string }
		Page   int
		Next   int `json:"next_page"`
	}
	var p page
	admin.want(200, "GET", "/audit?repo=alice/r&per_page=2", nil, &p)
	if len(p.Events) != 2 || p.Next != 2 || p.Events[0].Action != "repo.update" || !strings.Contains(p.Events[0].Detail, `"c"`) {
		t.Fatalf("page 1 = %+v", p)
	}
	p = page{}
	admin.want(200, "GET", "/audit?repo=alice/r&per_page=2&page=3", nil, &p)
	if len(p.Events) != 1 || p.Next != 0 || p.Events[0].Action != "repo.create" {
		t.Fatalf("page 3 = %+v", p)
	}
	p = page{}
	admin.want(200, "GET", "/audit?user=alice&since=1h", nil, &p)
	if len(p.Events) != 5 {
		t.Errorf("alice's events: %d, want 5", len(p.Events))
	}
	admin.want(422, "GET", "/audit?since=yesterday", nil, nil)
	admin.want(400, "GET", "/audit?page=0", nil, nil)

	alice.want(200, "GET", "/audit?repo=alice/r", nil, nil)
	alice.want(200, "GET", "/audit?user=alice", nil, nil)
	alice.want(403, "GET", "/audit", nil, nil)
	alice.want(403, "GET", "/audit?user=bob", nil, nil)
	bob.want(403, "GET", "/audit?repo=alice/r", nil, nil) // write, not admin
	bob.want(404, "GET", "/audit?repo=admin/hidden", nil, nil)
}

// Paging parameters are checked before anything is computed from them.
func TestAPIAuditPaging(t *testing.T) {
	s, base := MustRunWeb(t)
	admin := apiClient{t, base, s.Token("admin")}
	for _, q := range []string{
		"page=4611686018427387904&per_page=2", // page*per_page overflows int64
		"page=9223372036854775807&per_page=100",
		"page=99999999999999999999",
		"page=0", "page=-1", "page=x",
		"per_page=0", "per_page=101", "per_page=-5",
		"page=10&per_page=100", // past the window of 1000 events
	} {
		var e struct{ Error string }
		admin.want(400, "GET", "/audit?"+q, nil, &e)
		if e.Error == "" {
			t.Errorf("%s: no error message", q)
		}
	}
	for _, q := range []string{"", "page=9&per_page=100", "page=499&per_page=2", "per_page=1"} {
		admin.want(200, "GET", "/audit?"+q, nil, nil)
	}
}

func TestAPILoginOverSSHAndMetrics(t *testing.T) {
	s, base := MustRunWeb(t)
	k := s.User("alice")
	out, errOut, code := s.SSH(k, nil, "login")
	if code != 0 || !strings.HasPrefix(out, base+"/login/") {
		t.Fatalf("ssh login: %d %q %q", code, out, errOut)
	}
	link := strings.TrimSpace(out)
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("login page: %d", res.StatusCode)
	}
	// The GET did not use the link up; the POST does, once.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	secret := link[strings.LastIndexByte(link, '/')+1:]
	for i, want := range []int{http.StatusSeeOther, http.StatusUnauthorized} {
		res, err := noRedirect.PostForm(base+"/login", url.Values{"link": {secret}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("login #%d: %d, want %d", i+1, res.StatusCode, want)
		}
		if i == 0 {
			ck := res.Cookies()
			if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || ck[0].Secure {
				t.Fatalf("cookie %+v", ck)
			}
		}
	}

	res, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`gatehouse_ssh_auth_total{result="accepted"} 1`,
		`gatehouse_ssh_connections_total 1`,
		`gatehouse_http_requests_total{code="200",method="GET",route="/login/{secret}"} 1`,
		`gatehouse_git_operations_total{outcome="ok",service="upload-pack"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
