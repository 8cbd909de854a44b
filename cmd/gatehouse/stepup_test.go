package main_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	main "gatehouse/cmd/gatehouse"
	"gatehouse/keys"
)

// testTOTP is the tests' own RFC 6238 generator (SHA-1, 30 s, 6 digits),
// written apart from the server's: the code of the step offset steps
// from now.
func testTOTP(secret []byte, offset int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(time.Now().Unix()/30+offset))
	mac := hmac.New(sha1.New, secret)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	o := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[o:o+4])&0x7fffffff)%1000000)
}

// wrongTOTP is a code no step near now has.
func wrongTOTP(secret []byte) string {
	for c := 0; ; c++ {
		code, near := fmt.Sprintf("%06d", c), false
		for off := int64(-2); off <= 2; off++ {
			near = near || testTOTP(secret, off) == code
		}
		if !near {
			return code
		}
	}
}

// Enrol gives user a confirmed TOTP secret through the server's own
// store (the panel's enrolment has its own browser test) and returns it.
func (s *Server) Enrol(user string) []byte {
	s.tb.Helper()
	st := keys.NewStepUpService(s.DB)
	secret := []byte("secret-of-" + user + "-0123456789")[:20]
	ctx := context.Background()
	if err := st.BeginEnrollment(ctx, user, secret); err != nil {
		s.tb.Fatal(err)
	}
	if _, err := st.ConfirmEnrollment(ctx, user, "", testTOTP(secret, -1)); err != nil {
		s.tb.Fatal(err)
	}
	return secret
}

// verifyHint is what a refusal tells the user to run.
func (s *Server) verifyHint() string {
	return "ssh -p " + s.Port + " git@127.0.0.1 2fa-verify <code>"
}

func auditByAction(t *testing.T, s *Server) map[string][]string {
	t.Helper()
	var events []struct{ Action, Actor, Detail string }
	if err := json.Unmarshal([]byte(s.MustCLI("audit", "--limit", "1000", "--json")), &events); err != nil {
		t.Fatal(err)
	}
	m := map[string][]string{}
	for _, e := range events {
		m[e.Action] = append(m[e.Action], e.Actor+": "+e.Detail)
	}
	return m
}

// TestStepUpVerify runs `2fa-verify` with the real ssh client: a valid
// code opens a window; reused, expired and wrong codes are refused and
// audited; wrong codes lock the user out, even from a right code.
func TestStepUpVerify(t *testing.T) {
	s := MustRunMain(t)
	alice, bob, carol := s.User("alice"), s.User("bob"), s.User("carol")
	aliceSecret, bobSecret := s.Enrol("alice"), s.Enrol("bob")

	code := testTOTP(aliceSecret, 0)
	out, errOut, rc := s.SSH(alice, nil, "2fa-verify "+code)
	if rc != 0 || !strings.Contains(out, "Second factor verified: operations from 127.0.0.1 are allowed until") {
		t.Fatalf("valid code: exit %d, %q %q", rc, out, errOut)
	}
	for name, c := range map[string]string{"reused": code, "expired": testTOTP(aliceSecret, -3), "wrong": wrongTOTP(aliceSecret)} {
		if out, errOut, rc := s.SSH(alice, nil, "2fa-verify "+c); rc == 0 || !strings.Contains(errOut, "ERROR: wrong, used or expired code") {
			t.Errorf("%s code: exit %d, %q %q", name, rc, out, errOut)
		}
	}
	// The next step's code is fine (clock drift), and --json answers the window.
	out, errOut, rc = s.SSH(alice, nil, "2fa-verify --json "+testTOTP(aliceSecret, 1))
	var w struct {
		User, Address string
		ExpiresAt     time.Time `json:"expires_at"`
	}
	if rc != 0 || json.Unmarshal([]byte(out), &w) != nil || w.User != "alice" || w.Address != "127.0.0.1" ||
		time.Until(w.ExpiresAt) < 14*time.Minute || time.Until(w.ExpiresAt) > 15*time.Minute {
		t.Fatalf("--json: exit %d, %q %q", rc, out, errOut)
	}
	if st := s.MustCLI("2fa", "status", "alice"); !strings.Contains(st, "alice: enrolled") || !strings.Contains(st, "window  127.0.0.1") {
		t.Errorf("status: %q", st)
	}

	// Five wrong codes lock bob out; then even a right one is refused.
	for i := 1; i <= 5; i++ {
		_, errOut, rc := s.SSH(bob, nil, "2fa-verify "+wrongTOTP(bobSecret))
		want := "ERROR: wrong, used or expired code"
		if i == 5 {
			want = "ERROR: too many wrong codes; try again after"
		}
		if rc == 0 || !strings.Contains(errOut, want) {
			t.Fatalf("wrong code %d: exit %d, %q", i, rc, errOut)
		}
	}
	if _, errOut, rc := s.SSH(bob, nil, "2fa-verify "+testTOTP(bobSecret, 0)); rc == 0 || !strings.Contains(errOut, "too many wrong codes") {
		t.Fatalf("right code while locked out: exit %d, %q", rc, errOut)
	}
	// An admin's reset clears bob's lockout and secret.
	s.MustCLI("2fa", "reset", "bob")
	if _, errOut, rc := s.SSH(bob, nil, "2fa-verify "+testTOTP(bobSecret, 0)); rc == 0 || !strings.Contains(errOut, "ERROR: you have no second factor enrolled; enrol on the Two-factor page of the web panel\n") {
		t.Fatalf("after reset: exit %d, %q", rc, errOut)
	}
	if _, errOut, rc := s.SSH(carol, nil, "2fa-verify 123456"); rc == 0 || !strings.Contains(errOut, "you have no second factor enrolled") {
		t.Fatalf("not enrolled: exit %d, %q", rc, errOut)
	}
	if _, errOut, rc := s.SSH(carol, nil, "2fa-verify"); rc == 0 || !strings.Contains(errOut, "usage: 2fa-verify CODE") {
		t.Fatalf("no code: exit %d, %q", rc, errOut)
	}

	a := auditByAction(t, s)
	if len(a["2fa.verify"]) != 2 {
		t.Errorf("2fa.verify entries: %q", a["2fa.verify"])
	}
	if len(a["2fa.failed"]) < 8 || len(a["2fa.reset"]) != 1 || !strings.HasPrefix(a["2fa.reset"][0], "cli: bob") {
		t.Errorf("failures %q, resets %q", a["2fa.failed"], a["2fa.reset"])
	}
}

// TestStepUpPushPolicy pushes with real git under the site's write
// policy: refused without a window (with the command to run), accepted
// with one; deploy keys are exempt, users without a second factor are
// told to enrol, and admin commands over SSH need the window too.
func TestStepUpPushPolicy(t *testing.T) {
	s := MustRunMain(t)
	alice, dave := s.User("alice"), s.User("dave")
	secret := s.Enrol("alice")
	s.MustCLI("repo", "create", "alice/app")
	s.MustCLI("collab", "add", "alice/app", "dave", "write")
	deploy := NewKey(t)
	s.MustCLI("deploy-key", "add", "alice/app", deploy.Public, "--write")
	if out := s.MustCLI("2fa", "policy", "write"); !strings.Contains(out, "step-up policy of the site: write") {
		t.Fatalf("policy: %q", out)
	}

	work := Work(t, "main", 1)
	s.MustGit(alice, work, "remote", "add", "origin", s.URL("alice/app"))
	out, err := s.Git(alice, work, "push", "-q", "origin", "main")
	if err == nil || !strings.Contains(out, "ERROR: pushing to alice/app needs a second factor: run "+s.verifyHint()) {
		t.Fatalf("push without a window: %v\n%s", err, out)
	}
	// A refused push creates nothing.
	if out, err := s.Git(alice, work, "push", "-q", s.URL("alice/fresh"), "main"); err == nil || !strings.Contains(out, "needs a second factor") {
		t.Fatalf("push creating a repository without a window: %v\n%s", err, out)
	}
	if out, err := s.CLI("repo", "show", "alice/fresh"); err == nil {
		t.Fatalf("refused push created alice/fresh: %s", out)
	}
	// Reads need no window under write.
	s.MustGit(alice, t.TempDir(), "clone", "-q", s.URL("alice/app"), "c")
	// An admin command over SSH needs one too.
	if _, errOut, rc := s.SSH(alice, nil, "repo set alice/app --description x"); rc == 0 || !strings.Contains(errOut, "`repo set` needs a second factor") {
		t.Fatalf("repo set without a window: exit %d, %q", rc, errOut)
	}

	if _, errOut, rc := s.SSH(alice, nil, "2fa-verify "+testTOTP(secret, 0)); rc != 0 {
		t.Fatalf("verify: %q", errOut)
	}
	s.MustGit(alice, work, "push", "-q", "origin", "main")
	if _, errOut, rc := s.SSH(alice, nil, "repo set alice/app --description x"); rc != 0 {
		t.Fatalf("repo set with a window: %q", errOut)
	}

	// A deploy key is a machine: exempt.
	Commits(t, work, "deploy", 1)
	s.MustGit(deploy, work, "push", "-q", "origin", "main")

	// dave has no second factor: told to enrol, for pushes and admin commands.
	Commits(t, work, "dave", 1)
	out, err = s.Git(dave, work, "push", "-q", "origin", "main")
	if err == nil || !strings.Contains(out, "pushing to alice/app needs a second factor, and you have none enrolled: enrol on the Two-factor page of the web panel") {
		t.Fatalf("dave's push: %v\n%s", err, out)
	}
	if _, errOut, rc := s.SSH(dave, nil, "keys add"); rc == 0 || !strings.Contains(errOut, "none enrolled") {
		t.Fatalf("dave's keys add: exit %d, %q", rc, errOut)
	}

	// Under all, reads need a window too: dave may no longer clone.
	s.MustCLI("2fa", "policy", "all")
	if out, err := s.Git(dave, t.TempDir(), "clone", "-q", s.URL("alice/app"), "d"); err == nil || !strings.Contains(out, "reading alice/app needs a second factor") {
		t.Fatalf("clone under all: %v\n%s", err, out)
	}
	s.MustGit(alice, t.TempDir(), "clone", "-q", s.URL("alice/app"), "a")
	s.MustGit(deploy, t.TempDir(), "clone", "-q", s.URL("alice/app"), "k")

	a := auditByAction(t, s)
	refusals := strings.Join(a["refused"], "\n")
	for _, want := range []string{"alice: git-receive-pack: second factor required (step-up policy write)", "dave: git-upload-pack: second factor required (step-up policy all)"} {
		if !strings.Contains(refusals, want) {
			t.Errorf("audit lacks %q:\n%s", want, refusals)
		}
	}
	if len(a["2fa.policy"]) != 2 {
		t.Errorf("policy changes audited: %q", a["2fa.policy"])
	}
}

// TestStepUpOrgAndProtectedPolicy combines policies: an organization's
// write policy binds its repositories only, and a site policy for
// protected branches only refuses just the refs that touch them.
func TestStepUpOrgAndProtectedPolicy(t *testing.T) {
	s := MustRunMain(t)
	erin := s.User("erin")
	s.Enrol("erin")
	s.MustCLI("org", "create", "acme")
	s.MustCLI("org", "member", "add", "acme", "erin", "admin")
	s.MustCLI("repo", "create", "acme/lib")
	s.MustCLI("repo", "create", "erin/own")
	s.MustCLI("2fa", "policy", "--org", "acme", "write")
	if out := s.MustCLI("2fa", "policy", "--org", "acme", "--json"); !strings.Contains(out, `"level": "write"`) {
		t.Fatalf("org policy: %s", out)
	}

	work := Work(t, "main", 1)
	if out, err := s.Git(erin, work, "push", "-q", s.URL("acme/lib"), "main"); err == nil || !strings.Contains(out, "pushing to acme/lib needs a second factor") {
		t.Fatalf("push to the org's repository: %v\n%s", err, out)
	}
	s.MustGit(erin, work, "push", "-q", s.URL("erin/own"), "main")

	// The site asks for protected branches only; the org's policy is
	// off now, so erin's own repository follows the site's alone.
	s.MustCLI("2fa", "policy", "--org", "acme", "off")
	s.MustCLI("2fa", "policy", "write", "--protected-only")
	s.MustCLI("protect", "add", "erin/own", "main")
	s.MustGit(erin, work, "push", "-q", s.URL("acme/lib"), "main") // no protected branches there
	Commits(t, work, "more", 1)
	s.MustGit(erin, work, "push", "-q", s.URL("erin/own"), "main:feature")
	out, err := s.Git(erin, work, "push", s.URL("erin/own"), "main")
	if err == nil || !strings.Contains(out, "[remote rejected] main -> main (protected branch: second factor required, run "+s.verifyHint()+")") {
		t.Fatalf("push to a protected branch: %v\n%s", err, out)
	}
	// The org's write policy and the site's protected-only combine to
	// the stricter: every push to acme/lib.
	s.MustCLI("2fa", "policy", "--org", "acme", "write")
	s.MustCLI("protect", "add", "acme/lib", "main")
	if out, err := s.Git(erin, work, "push", "-q", s.URL("acme/lib"), "main:other"); err == nil || !strings.Contains(out, "needs a second factor") {
		t.Fatalf("push to acme/lib under both: %v\n%s", err, out)
	}
}

// TestStepUpWindowExpires opens a short window and pushes before and
// after it ends.
func TestStepUpWindowExpires(t *testing.T) {
	s := MustRunMain(t, func(c *main.Config) { c.StepUpWindow = 3 * time.Second })
	alice := s.User("alice")
	secret := s.Enrol("alice")
	s.MustCLI("2fa", "policy", "write")
	work := Work(t, "main", 1)
	s.MustGit(alice, work, "remote", "add", "origin", s.URL("alice/app"))
	if _, errOut, rc := s.SSH(alice, nil, "2fa-verify "+testTOTP(secret, 0)); rc != 0 {
		t.Fatalf("verify: %q", errOut)
	}
	opened := time.Now()
	s.MustGit(alice, work, "push", "-q", "origin", "main") // creates alice/app
	time.Sleep(time.Until(opened.Add(3500 * time.Millisecond)))
	Commits(t, work, "late", 1)
	if out, err := s.Git(alice, work, "push", "-q", "origin", "main"); err == nil || !strings.Contains(out, "needs a second factor") {
		t.Fatalf("push after the window: %v\n%s", err, out)
	}
}

// BenchmarkPushStepUp measures a push (real git over ssh) with step-up
// off and under a write policy with an open window: the difference is
// what the check costs.
func BenchmarkPushStepUp(b *testing.B) {
	for _, policy := range []string{"off", "write"} {
		b.Run(policy, func(b *testing.B) {
			s := MustRunMain(b)
			alice := s.User("alice")
			secret := s.Enrol("alice")
			s.MustCLI("2fa", "policy", policy)
			if _, errOut, rc := s.SSH(alice, nil, "2fa-verify "+testTOTP(secret, 0)); rc != 0 {
				b.Fatalf("verify: %q", errOut)
			}
			work := Work(b, "main", 1)
			s.MustGit(alice, work, "push", "-q", s.URL("alice/app"), "main")
			times := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				Commits(b, work, fmt.Sprintf("c%d", i), 1)
				b.StartTimer()
				start := time.Now()
				s.MustGit(alice, work, "push", "-q", s.URL("alice/app"), "main")
				times = append(times, time.Since(start))
			}
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
		})
	}
}

// TestStepUpAPI sets policies and resets a user's second factor over
// the JSON API, with the access each needs.
func TestStepUpAPI(t *testing.T) {
	s, base := MustRunWeb(t)
	s.MustCLI("user", "add", "root", "--admin")
	s.User("alice")
	s.Enrol("alice")
	s.MustCLI("org", "create", "acme")
	s.MustCLI("org", "member", "add", "acme", "alice", "admin")
	root, alice := apiClient{t, base, s.Token("root")}, apiClient{t, base, s.Token("alice")}

	var p struct {
		Level         string
		ProtectedOnly bool `json:"protected_only"`
	}
	if code := root.do("PUT", "/2fa/policy", map[string]any{"level": "write", "protected_only": true}, &p); code != 200 || p.Level != "write" || !p.ProtectedOnly {
		t.Fatalf("site policy: %d %+v", code, p)
	}
	if code := alice.do("PUT", "/2fa/policy", map[string]any{"level": "off"}, nil); code != 403 {
		t.Fatalf("site policy by a non-admin: %d", code)
	}
	if code := alice.do("PUT", "/2fa/orgs/acme/policy", map[string]any{"level": "all"}, &p); code != 200 || p.Level != "all" {
		t.Fatalf("org policy by its admin: %d %+v", code, p)
	}
	if code := alice.do("PUT", "/2fa/policy", map[string]any{"level": "some"}, nil); code != 400 && code != 422 {
		t.Fatalf("bad level: %d", code)
	}
	if code := alice.do("GET", "/2fa/policy", nil, &p); code != 200 || p.Level != "write" {
		t.Fatalf("site policy read by a user: %d %+v", code, p)
	}
	var st struct {
		Enrolled          bool
		RecoveryCodesLeft int `json:"recovery_codes_left"`
	}
	if code := alice.do("GET", "/users/alice/2fa", nil, &st); code != 200 || !st.Enrolled || st.RecoveryCodesLeft != 10 {
		t.Fatalf("own status: %d %+v", code, st)
	}
	if code := alice.do("DELETE", "/users/alice/2fa", nil, nil); code != 403 {
		t.Fatalf("reset by a non-admin: %d", code)
	}
	if code := root.do("DELETE", "/users/alice/2fa", nil, &st); code != 200 || st.Enrolled {
		t.Fatalf("reset: %d %+v", code, st)
	}
	if a := auditByAction(t, s); len(a["2fa.reset"]) != 1 || !strings.HasPrefix(a["2fa.reset"][0], "root: alice") {
		t.Errorf("reset audit: %q", a["2fa.reset"])
	}
}
