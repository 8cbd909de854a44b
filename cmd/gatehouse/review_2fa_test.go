package main_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	main "gatehouse/cmd/gatehouse"
	"gatehouse/gittest"
	"gatehouse/keys"
)

// The least-privileged callers of the policy and two-factor endpoints:
// an outsider, an organization's plain member, an organization's admin
// (who administers the organization, not its members' accounts), a site
// admin holding a read-scoped token, and nobody at all. Each is refused,
// a private organization answers as if it did not exist, and nothing
// changed afterwards.
func TestPolicyEndpointsLeastPrivilege(t *testing.T) {
	s, base := MustRunWeb(t)
	s.MustCLI("user", "add", "root", "--admin")
	for _, u := range []string{"alice", "carol", "mallory"} {
		s.User(u)
	}
	s.Enrol("carol")
	s.MustCLI("org", "create", "acme")
	s.MustCLI("org", "member", "add", "acme", "alice", "admin")
	s.MustCLI("org", "member", "add", "acme", "carol", "member")
	s.MustCLI("policy", "keys", "--user", "carol", "sk-only")

	rootRead := apiClient{t, base, s.Token("root", "--scope", "read")}
	alice := apiClient{t, base, s.Token("alice", "--scope", "admin")}
	carol := apiClient{t, base, s.Token("carol", "--scope", "admin")}
	mallory := apiClient{t, base, s.Token("mallory", "--scope", "admin")}
	anon := apiClient{t, base, ""}

	// A read-scoped token changes nothing, even a site admin's.
	rootRead.want(http.StatusForbidden, "PUT", "/policies/keys", map[string]string{"policy": "sk-verify"}, nil)
	rootRead.want(http.StatusForbidden, "PUT", "/users/carol/policies/keys", map[string]string{"policy": "any"}, nil)
	rootRead.want(http.StatusForbidden, "PUT", "/orgs/acme/policies/keys", map[string]string{"policy": "any"}, nil)
	rootRead.want(http.StatusForbidden, "PUT", "/2fa/policy", map[string]any{"level": "all"}, nil)
	rootRead.want(http.StatusForbidden, "PUT", "/2fa/orgs/acme/policy", map[string]any{"level": "all"}, nil)
	rootRead.want(http.StatusForbidden, "DELETE", "/users/carol/2fa", nil, nil)

	// An outsider learns nothing of a private organization: the same 404
	// as for one that does not exist, reading or writing.
	for _, org := range []string{"acme", "nosuch"} {
		mallory.want(http.StatusNotFound, "GET", "/orgs/"+org+"/policies/keys", nil, nil)
		mallory.want(http.StatusNotFound, "PUT", "/orgs/"+org+"/policies/keys", map[string]string{"policy": "any"}, nil)
		mallory.want(http.StatusNotFound, "GET", "/2fa/orgs/"+org+"/policy", nil, nil)
		mallory.want(http.StatusNotFound, "PUT", "/2fa/orgs/"+org+"/policy", map[string]any{"level": "off"}, nil)
	}
	// Nor of other users' accounts.
	mallory.want(http.StatusNotFound, "GET", "/users/carol/2fa", nil, nil)
	mallory.want(http.StatusNotFound, "GET", "/users/carol/policies/keys", nil, nil)
	mallory.want(http.StatusForbidden, "PUT", "/policies/keys", map[string]string{"policy": "any"}, nil)

	// A plain member reads the organization's policies but sets neither,
	// and cannot loosen the policy put on them.
	carol.want(http.StatusOK, "GET", "/2fa/orgs/acme/policy", nil, nil)
	carol.want(http.StatusForbidden, "PUT", "/2fa/orgs/acme/policy", map[string]any{"level": "off"}, nil)
	carol.want(http.StatusForbidden, "PUT", "/orgs/acme/policies/keys", map[string]string{"policy": "any"}, nil)
	carol.want(http.StatusForbidden, "PUT", "/users/carol/policies/keys", map[string]string{"policy": "any"}, nil)
	carol.want(http.StatusForbidden, "DELETE", "/users/carol/2fa", nil, nil)

	// An organization's admin administers the organization, not its
	// members' accounts: no reset, no look at their second factor, no
	// key policy on them.
	alice.want(http.StatusForbidden, "DELETE", "/users/carol/2fa", nil, nil)
	alice.want(http.StatusNotFound, "GET", "/users/carol/2fa", nil, nil)
	alice.want(http.StatusNotFound, "PUT", "/users/carol/policies/keys", map[string]string{"policy": "any"}, nil)

	// No token at all.
	for _, p := range []string{"/policies/keys", "/2fa/policy", "/orgs/acme/policies/keys", "/2fa/orgs/acme/policy", "/users/carol/2fa"} {
		anon.want(http.StatusUnauthorized, "GET", p, nil, nil)
		anon.want(http.StatusUnauthorized, "PUT", p, map[string]string{"policy": "any", "level": "off"}, nil)
	}
	anon.want(http.StatusUnauthorized, "DELETE", "/users/carol/2fa", nil, nil)

	// Nothing moved.
	if out := s.MustCLI("policy", "keys", "--user", "carol"); !strings.Contains(out, "sk-only") {
		t.Errorf("carol's key policy: %q", out)
	}
	if out := s.MustCLI("2fa", "status", "carol"); !strings.Contains(out, "carol: enrolled") {
		t.Errorf("carol's second factor: %q", out)
	}
	a := auditByAction(t, s)
	if len(a["2fa.reset"]) != 0 || len(a["2fa.policy"]) != 0 || len(a["key-policy.set"]) != 1 {
		t.Errorf("refused calls changed something: %q %q %q", a["2fa.reset"], a["2fa.policy"], a["key-policy.set"])
	}
}

// enrolWithRecovery is Enrol that also returns the recovery codes.
func (s *Server) enrolWithRecovery(user string) ([]byte, []string) {
	s.tb.Helper()
	ctx := context.Background()
	st := keys.NewStepUpService(s.DB)
	secret := []byte("recovery-" + user + "-0123456789")[:20]
	if err := st.BeginEnrollment(ctx, user, secret); err != nil {
		s.tb.Fatal(err)
	}
	recovery, err := st.ConfirmEnrollment(ctx, user, "", testTOTP(secret, -1))
	if err != nil {
		s.tb.Fatal(err)
	}
	return secret, recovery
}

// sshFrom runs the real ssh client from source address from (any
// 127.0.0.0/8 address reaches the loopback server).
func sshFrom(s *Server, k *Key, from, command string) (string, string, int) {
	return s.SSH(k, []string{"-b", from}, command)
}

// TestStepUpCodesAndAddresses: a window holds for the address that
// opened it only; one code raced over two connections opens one window;
// a recovery code works once; wrong codes are counted per address across
// users and per user across addresses.
func TestStepUpCodesAndAddresses(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	secret, recovery := s.enrolWithRecovery("alice")
	s.MustCLI("repo", "create", "alice/app")
	s.MustCLI("2fa", "policy", "write")
	admin := "repo set alice/app --description x"

	// A window opened from 127.0.0.2 is no window for 127.0.0.1.
	if _, errOut, rc := sshFrom(s, alice, "127.0.0.2", "2fa-verify "+testTOTP(secret, 0)); rc != 0 {
		t.Fatalf("verify from 127.0.0.2: %q", errOut)
	}
	if _, errOut, rc := sshFrom(s, alice, "127.0.0.1", admin); rc == 0 || !strings.Contains(errOut, "needs a second factor") {
		t.Fatalf("window of 127.0.0.2 used from 127.0.0.1: exit %d, %q", rc, errOut)
	}
	if _, errOut, rc := sshFrom(s, alice, "127.0.0.2", admin); rc != 0 {
		t.Fatalf("from the window's own address: %q", errOut)
	}

	// One code sent over two connections at once opens one window.
	code := testTOTP(secret, 1)
	var wg sync.WaitGroup
	rcs := make([]int, 2)
	for i, from := range []string{"127.0.0.3", "127.0.0.4"} {
		wg.Go(func() { _, _, rcs[i] = sshFrom(s, alice, from, "2fa-verify "+code) })
	}
	wg.Wait()
	if (rcs[0] == 0) == (rcs[1] == 0) {
		t.Fatalf("one code raced twice: exits %v, want exactly one success", rcs)
	}

	// A recovery code works once, whatever address it comes from next.
	if _, errOut, rc := sshFrom(s, alice, "127.0.0.5", "2fa-verify "+recovery[0]); rc != 0 {
		t.Fatalf("recovery code: %q", errOut)
	}
	if _, errOut, rc := sshFrom(s, alice, "127.0.0.6", "2fa-verify "+strings.ToUpper(recovery[0])); rc == 0 || !strings.Contains(errOut, "wrong, used or expired") {
		t.Fatalf("recovery code used twice: exit %d, %q", rc, errOut)
	}

	// Per address: 20 wrong codes from one address spread over five
	// users (four each, under a user's bound) lock the address, so a
	// sixth user's right code from it is refused, but not from elsewhere.
	var users []*Key
	var secrets [][]byte
	for _, n := range []string{"u1", "u2", "u3", "u4", "u5", "u6"} {
		users = append(users, s.User(n))
		secrets = append(secrets, s.Enrol(n))
	}
	for i := range 20 {
		u := i % 5
		_, errOut, rc := sshFrom(s, users[u], "127.0.0.9", "2fa-verify "+wrongTOTP(secrets[u]))
		if rc == 0 || (i == 19) != strings.Contains(errOut, "too many wrong codes") {
			t.Fatalf("wrong code %d from 127.0.0.9: exit %d, %q", i+1, rc, errOut)
		}
	}
	if _, errOut, rc := sshFrom(s, users[5], "127.0.0.9", "2fa-verify "+testTOTP(secrets[5], 0)); rc == 0 || !strings.Contains(errOut, "too many wrong codes") {
		t.Fatalf("right code from a locked address: exit %d, %q", rc, errOut)
	}
	if _, errOut, rc := sshFrom(s, users[5], "127.0.0.1", "2fa-verify "+testTOTP(secrets[5], 0)); rc != 0 {
		t.Fatalf("right code from another address: %q", errOut)
	}
	if _, errOut, rc := sshFrom(s, users[0], "127.0.0.1", "2fa-verify "+testTOTP(secrets[0], 0)); rc != 0 {
		t.Fatalf("a user under their own bound: %q", errOut)
	}

	// Per user: five wrong codes from five addresses lock the user
	// everywhere.
	bob := s.User("bob")
	bobSecret := s.Enrol("bob")
	for i := range 5 {
		from := "127.0.1." + string(rune('1'+i))
		_, errOut, rc := sshFrom(s, bob, from, "2fa-verify "+wrongTOTP(bobSecret))
		if rc == 0 || (i == 4) != strings.Contains(errOut, "too many wrong codes") {
			t.Fatalf("bob's wrong code %d from %s: exit %d, %q", i+1, from, rc, errOut)
		}
	}
	if _, errOut, rc := sshFrom(s, bob, "127.0.2.1", "2fa-verify "+testTOTP(bobSecret, 0)); rc == 0 || !strings.Contains(errOut, "too many wrong codes") {
		t.Fatalf("bob's right code from a fresh address: exit %d, %q", rc, errOut)
	}
}

// TestPanelLoginStepUpAndCSRF: an enrolled user's login link without its
// code, or with a wrong one, gives no cookie at all (there is no
// half-logged-in state to take to another page); the enrolment forms
// refuse a post without the session's CSRF token, and a wrong code
// confirms nothing.
func TestPanelLoginStepUpAndCSRF(t *testing.T) {
	s, base := MustRunWeb(t)
	s.User("alice")
	s.User("carol")
	secret := s.Enrol("alice")

	p := newPanelClient(t, base)
	link := s.LoginLink("alice", base)
	link = link[strings.LastIndexByte(link, '/')+1:]
	noCookie := func(what string) {
		u, _ := url.Parse(base)
		if cs := p.c.Jar.Cookies(u); len(cs) != 0 {
			t.Fatalf("%s: cookies %v", what, cs)
		}
		if code, _ := p.get("/"); code == http.StatusOK {
			t.Fatalf("%s: dashboard answered 200", what)
		}
	}
	if code, body := p.post("/login", url.Values{"link": {link}}); code != http.StatusOK || !strings.Contains(body, `name="code"`) {
		t.Fatalf("login without a code: %d", code)
	}
	noCookie("login without a code")
	if code, _ := p.post("/login", url.Values{"link": {link}, "code": {wrongTOTP(secret)}}); code != http.StatusUnauthorized {
		t.Fatalf("login with a wrong code: %d", code)
	}
	noCookie("login with a wrong code")
	if code, _ := p.post("/login", url.Values{"link": {link}, "code": {testTOTP(secret, 0)}}); code != http.StatusSeeOther {
		t.Fatalf("login with the right code: %d", code)
	}
	if code, _ := p.get("/"); code != http.StatusOK {
		t.Fatalf("dashboard after the right code: %d", code)
	}

	c := newPanelClient(t, base)
	c.login(s.LoginLink("carol", base))
	if code, _ := c.post("/2fa/enroll", url.Values{}); code != http.StatusForbidden {
		t.Fatalf("enrol without the CSRF token: %d", code)
	}
	if out := s.MustCLI("2fa", "status", "carol"); !strings.Contains(out, "carol: not enrolled") {
		t.Fatalf("after a forged enrolment: %q", out)
	}
	if code, _ := c.postCSRF("/2fa/enroll", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("enrol: %d", code)
	}
	if code, _ := c.post("/2fa/confirm", url.Values{"code": {"000000"}}); code != http.StatusForbidden {
		t.Fatalf("confirm without the CSRF token: %d", code)
	}
	for _, bad := range []string{"", "000000x", "12345", "aaaa-bbbb-cccc-dddd"} {
		if code, _ := c.postCSRF("/2fa/confirm", url.Values{"code": {bad}}); code != http.StatusUnprocessableEntity {
			t.Fatalf("confirm with %q: %d", bad, code)
		}
	}
	if out := s.MustCLI("2fa", "status", "carol"); !strings.Contains(out, "carol: enrolment waiting for its first code") {
		t.Fatalf("enrolment confirmed without a valid code: %q", out)
	}
}

// TestPostgres_StepUpAcrossNodes: two nodes on one PostgreSQL database
// share the two-factor state: one code raced through both opens one
// window, a window opened on one node holds on the other (from the same
// address only), a recovery code spent on one is spent on both, and
// wrong codes spread over the nodes add up to one lockout.
func TestPostgres_StepUpAcrossNodes(t *testing.T) {
	dbURL := gittest.PostgresURL(t)
	a := MustRunMain(t, func(c *main.Config) { c.DB = dbURL })
	b := MustRunMain(t, func(c *main.Config) { c.Data, c.DB = a.Data, dbURL })
	alice, bob := a.User("alice"), a.User("bob")
	secret, recovery := a.enrolWithRecovery("alice")
	bobSecret := a.Enrol("bob")
	a.MustCLI("repo", "create", "alice/app")
	a.MustCLI("2fa", "policy", "write")
	admin := "repo set alice/app --description x"

	code := testTOTP(secret, 0)
	var wg sync.WaitGroup
	rcs := make([]int, 2)
	for i, n := range []*Server{a, b} {
		wg.Go(func() { _, _, rcs[i] = n.SSH(alice, nil, "2fa-verify "+code) })
	}
	wg.Wait()
	if (rcs[0] == 0) == (rcs[1] == 0) {
		t.Fatalf("one code raced through two nodes: exits %v, want exactly one success", rcs)
	}
	for _, n := range []*Server{a, b} {
		if _, errOut, rc := n.SSH(alice, nil, admin); rc != 0 {
			t.Fatalf("window on the other node: %q", errOut)
		}
		if _, errOut, rc := sshFrom(n, alice, "127.0.0.2", admin); rc == 0 || !strings.Contains(errOut, "needs a second factor") {
			t.Fatalf("window used from another address: exit %d, %q", rc, errOut)
		}
	}

	if _, errOut, rc := a.SSH(alice, nil, "2fa-verify "+recovery[0]); rc != 0 {
		t.Fatalf("recovery code on node a: %q", errOut)
	}
	if _, errOut, rc := b.SSH(alice, nil, "2fa-verify "+recovery[0]); rc == 0 || !strings.Contains(errOut, "wrong, used or expired") {
		t.Fatalf("recovery code again on node b: exit %d, %q", rc, errOut)
	}

	for i := range 5 {
		n := []*Server{a, b}[i%2]
		if _, errOut, rc := n.SSH(bob, nil, "2fa-verify "+wrongTOTP(bobSecret)); rc == 0 || (i == 4) != strings.Contains(errOut, "too many wrong codes") {
			t.Fatalf("bob's wrong code %d: exit %d, %q", i+1, rc, errOut)
		}
	}
	for _, n := range []*Server{a, b} {
		if _, errOut, rc := n.SSH(bob, nil, "2fa-verify "+testTOTP(bobSecret, 0)); rc == 0 || !strings.Contains(errOut, "too many wrong codes") {
			t.Fatalf("bob's right code while locked out: exit %d, %q", rc, errOut)
		}
	}
}

// TestStepUpRepoListUnderAll: under a policy that puts reads behind a
// window, `repo list` shows no more than `repo info` and a clone would:
// refused outright under the site's, and without the organization's
// repositories under an organization's, until a code opens the window.
func TestStepUpRepoListUnderAll(t *testing.T) {
	s := MustRunMain(t)
	carol := s.User("carol")
	secret := s.Enrol("carol")
	s.MustCLI("org", "create", "acme")
	s.MustCLI("org", "member", "add", "acme", "carol", "member")
	s.MustCLI("repo", "create", "acme/plans", "--description", "the-secret-plan")
	s.MustCLI("repo", "create", "carol/own")

	s.MustCLI("2fa", "policy", "--org", "acme", "all")
	out, errOut, rc := s.SSH(carol, nil, "repo list")
	if rc != 0 || !strings.Contains(out, "carol/own") || strings.Contains(out, "acme/plans") || strings.Contains(out, "the-secret-plan") {
		t.Fatalf("repo list under the organization's all, no window: exit %d, %q %q", rc, out, errOut)
	}
	if out, _, _ := s.SSH(carol, nil, "repo list --json"); strings.Contains(out, "acme") {
		t.Fatalf("repo list --json under the organization's all, no window: %q", out)
	}
	if _, errOut, rc := s.SSH(carol, nil, "repo info acme/plans"); rc == 0 || !strings.Contains(errOut, "needs a second factor") {
		t.Fatalf("repo info under the organization's all: exit %d, %q", rc, errOut)
	}

	s.MustCLI("2fa", "policy", "--org", "acme", "off")
	s.MustCLI("2fa", "policy", "all")
	if out, errOut, rc := s.SSH(carol, nil, "repo list"); rc == 0 || out != "" || !strings.Contains(errOut, "`repo list` needs a second factor") {
		t.Fatalf("repo list under the site's all, no window: exit %d, %q %q", rc, out, errOut)
	}

	if _, errOut, rc := s.SSH(carol, nil, "2fa-verify "+testTOTP(secret, 0)); rc != 0 {
		t.Fatalf("verify: %q", errOut)
	}
	s.MustCLI("2fa", "policy", "--org", "acme", "all")
	if out, errOut, rc := s.SSH(carol, nil, "repo list"); rc != 0 || !strings.Contains(out, "acme/plans") || !strings.Contains(out, "carol/own") {
		t.Fatalf("repo list with a window: exit %d, %q %q", rc, out, errOut)
	}
}
