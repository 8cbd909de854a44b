package main_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gatehouse"
	main "gatehouse/cmd/gatehouse"
)

// hookReceiver is a real HTTP server on loopback that records what
// webhooks send it and answers with answer(n) for the nth request (200
// when nil).
type hookReceiver struct {
	*httptest.Server
	answer func(n int, r *http.Request) int

	mu  sync.Mutex
	got []hookRequest
}

type hookRequest struct {
	Header http.Header
	Body   []byte
	Path   string
}

// Event is the X-Gatehouse-Event header.
func (r hookRequest) Event() string { return r.Header.Get("X-Gatehouse-Event") }

// newHookReceiver starts a receiver on addr ("127.0.0.1:0" for any port).
func newHookReceiver(tb testing.TB, addr string, answer func(n int, r *http.Request) int) *hookReceiver {
	tb.Helper()
	h := &hookReceiver{answer: answer}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, hookRequest{Header: r.Header.Clone(), Body: body, Path: r.URL.Path})
		n := len(h.got)
		h.mu.Unlock()
		code := http.StatusOK
		if h.answer != nil {
			code = h.answer(n, r)
		}
		if code >= 300 && code < 400 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(code)
		io.WriteString(w, "thanks, "+r.Header.Get("X-Gatehouse-Delivery"))
	}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	tb.Cleanup(srv.Close)
	h.Server = srv
	return h
}

// requests returns what arrived so far.
func (h *hookReceiver) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.got...)
}

// wait returns the requests once at least n have arrived.
func (h *hookReceiver) wait(tb testing.TB, n int) []hookRequest {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := h.requests()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			tb.Fatalf("receiver got %d requests, want %d", len(got), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// allowLoopback lets webhooks reach the test's receivers and retries
// come quickly.
func allowLoopback(c *main.Config) {
	c.WebhookAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	c.WebhookBackoff = 200 * time.Millisecond
}

// pushPayload is what the tests read of a push payload: GitHub's names.
type pushPayload struct {
	Ref        string       `json:"ref"`
	Before     string       `json:"before"`
	After      string       `json:"after"`
	Created    bool         `json:"created"`
	Deleted    bool         `json:"deleted"`
	Forced     bool         `json:"forced"`
	Commits    []hookCommit `json:"commits"`
	HeadCommit *hookCommit  `json:"head_commit"`
	Repository struct {
		FullName      string `json:"full_name"`
		Name          string `json:"name"`
		Owner         struct{ Login string }
		Private       bool   `json:"private"`
		SSHURL        string `json:"ssh_url"`
		DefaultBranch string `json:"default_branch"`
	} `json:"repository"`
	Pusher struct{ Name string }  `json:"pusher"`
	Sender struct{ Login string } `json:"sender"`
}

type hookCommit struct {
	ID        string `json:"id"`
	Message   string `json:"message"`
	Timestamp string `json:"timestamp"`
	Author    struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"author"`
}

// checkSignature fails unless r carries the headers of a delivery signed
// with secret.
func checkSignature(tb testing.TB, r hookRequest, secret string) {
	tb.Helper()
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(r.Body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	if got := r.Header.Get("X-Hub-Signature-256"); !hmac.Equal([]byte(got), []byte(want)) {
		tb.Errorf("signature %q, want %q", got, want)
	}
	if r.Header.Get("X-GitHub-Event") != r.Event() || r.Event() == "" || r.Header.Get("Content-Type") != "application/json" ||
		!strings.HasPrefix(r.Header.Get("User-Agent"), "Gatehouse-Hookshot/") || len(r.Header.Get("X-Gatehouse-Delivery")) != 36 {
		tb.Errorf("headers %v", r.Header)
	}
}

// byEvent splits requests by event, keeping their order.
func byEvent(rs []hookRequest) map[string][]hookRequest {
	m := map[string][]hookRequest{}
	for _, r := range rs {
		m[r.Event()] = append(m[r.Event()], r)
	}
	return m
}

// A push is delivered signed, with what was pushed: the ref, before and
// after, the commits oldest first with their messages and authors; a new
// ref also makes a create event, a deleted one a delete event, and a
// forced update says so.
func TestWebhookPush(t *testing.T) {
	s := MustRunMain(t, allowLoopback)
	rcv := newHookReceiver(t, "127.0.0.1:0", nil)
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/r")
	out := s.MustCLI("webhook", "add", "alice/r", rcv.URL+"/hook", "--secret", "s3cr3t")
	if !strings.Contains(out, "webhook 1") {
		t.Fatalf("webhook add said %q", out)
	}
	if out := s.MustCLI("webhook", "list", "alice/r", "--json"); strings.Contains(out, "s3cr3t") || !strings.Contains(out, `"has_secret": true`) {
		t.Fatalf("webhook list shows the secret or not that there is one:\n%s", out)
	}

	work := Work(t, "main", 3)
	zero := strings.Repeat("0", 40)
	head := run(t, work, "git", "rev-parse", "HEAD")
	ids := strings.Fields(run(t, work, "git", "rev-list", "--reverse", "HEAD"))
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	got := byEvent(rcv.wait(t, 2))
	if len(got["push"]) != 1 || len(got["create"]) != 1 {
		t.Fatalf("events %v", got)
	}
	checkSignature(t, got["push"][0], "s3cr3t")
	var p pushPayload
	if err := json.Unmarshal(got["push"][0].Body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Ref != "refs/heads/main" || p.Before != zero || p.After != head || !p.Created || p.Deleted || p.Forced {
		t.Errorf("push payload %+v", p)
	}
	if len(p.Commits) != 3 {
		t.Fatalf("commits %+v", p.Commits)
	}
	for i, c := range p.Commits {
		if c.ID != ids[i] || c.Message != "file "+string(rune('0'+i))+"\n" || c.Author.Name != "Test" || c.Author.Email != "test@example.com" || c.Timestamp == "" {
			t.Errorf("commit %d: %+v, want %s", i, c, ids[i])
		}
	}
	if p.HeadCommit == nil || p.HeadCommit.ID != head {
		t.Errorf("head_commit %+v", p.HeadCommit)
	}
	if r := p.Repository; r.FullName != "alice/r" || r.Name != "r" || r.Owner.Login != "alice" || !r.Private ||
		r.SSHURL != "ssh://git@127.0.0.1:"+s.Port+"/alice/r.git" || r.DefaultBranch != "main" {
		t.Errorf("repository %+v", r)
	}
	if p.Pusher.Name != "alice" || p.Sender.Login != "alice" {
		t.Errorf("pusher %+v sender %+v", p.Pusher, p.Sender)
	}
	var c struct {
		Ref     string `json:"ref"`
		RefType string `json:"ref_type"`
	}
	json.Unmarshal(got["create"][0].Body, &c)
	if c.Ref != "main" || c.RefType != "branch" {
		t.Errorf("create payload %s", got["create"][0].Body)
	}

	// Two more commits, then a forced rewind and a tag, then a delete.
	Commits(t, work, "more", 2)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	got = byEvent(rcv.wait(t, 3))
	json.Unmarshal(got["push"][1].Body, &p)
	if p.Before != head || len(p.Commits) != 2 || p.Commits[1].Message != "more 1\n" || p.Created {
		t.Errorf("second push %+v", p)
	}
	s.MustGit(alice, work, "push", "--force", s.URL("alice/r"), "main~4:refs/heads/main", "main:refs/tags/v1")
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main:refs/heads/gone")
	s.MustGit(alice, work, "push", s.URL("alice/r"), ":refs/heads/gone")
	got = byEvent(rcv.wait(t, 10))
	var forced, tag, deleted pushPayload
	for _, r := range got["push"] {
		var q pushPayload
		json.Unmarshal(r.Body, &q)
		switch {
		case q.Ref == "refs/heads/main" && q.Forced:
			forced = q
		case q.Ref == "refs/tags/v1":
			tag = q
		case q.Ref == "refs/heads/gone" && q.Deleted:
			deleted = q
		}
	}
	if forced.After != ids[0] || len(forced.Commits) != 0 {
		t.Errorf("forced push %+v", forced)
	}
	if !tag.Created || tag.HeadCommit == nil || tag.HeadCommit.ID != run(t, work, "git", "rev-parse", "main") {
		t.Errorf("tag push %+v", tag)
	}
	if deleted.After != zero || deleted.HeadCommit != nil {
		t.Errorf("delete push %+v", deleted)
	}
	var refTypes []string
	for _, r := range append(got["create"], got["delete"]...) {
		var c struct {
			Ref     string `json:"ref"`
			RefType string `json:"ref_type"`
		}
		json.Unmarshal(r.Body, &c)
		refTypes = append(refTypes, r.Event()+" "+c.RefType+" "+c.Ref)
	}
	if strings.Join(refTypes, ",") != "create branch main,create tag v1,create branch gone,delete branch gone" {
		t.Errorf("create and delete events: %v", refTypes)
	}

	// Deliveries are listed with their attempts, and one sent again is a
	// new delivery of the same payload.
	var ds []*gatehouse.Delivery
	if err := json.Unmarshal([]byte(s.MustCLI("webhook", "deliveries", "1", "--json")), &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds) != 10 || ds[0].Status != gatehouse.DeliveryDelivered || ds[0].Attempts != 1 || len(ds[0].Log) != 1 || ds[0].Log[0].StatusCode != 200 ||
		!strings.HasPrefix(ds[0].Log[0].Response, "thanks, ") {
		t.Fatalf("deliveries: %d, newest %+v", len(ds), ds[0])
	}
	first := ds[len(ds)-1]
	out = s.MustCLI("webhook", "redeliver", first.ID)
	again := rcv.wait(t, 11)[10]
	if !strings.Contains(out, again.Header.Get("X-Gatehouse-Delivery")) || again.Header.Get("X-Gatehouse-Delivery") == first.ID ||
		string(again.Body) != string(got["push"][0].Body) {
		t.Errorf("redelivery %q: %s", out, again.Body)
	}
	s.MustCLI("webhook", "rm", "1")
	if out := s.MustCLI("webhook", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("after rm: %s", out)
	}
}

// Repository, member, organization and site hooks: each hears the events
// of its own scope.
func TestWebhookScopes(t *testing.T) {
	s := MustRunMain(t, allowLoopback)
	site := newHookReceiver(t, "127.0.0.1:0", nil)
	org := newHookReceiver(t, "127.0.0.1:0", nil)
	s.User("bob")
	s.MustCLI("org", "create", "acme")
	s.MustCLI("team", "create", "acme/devs")
	s.MustCLI("webhook", "add", "--site", site.URL, "--events", "repository")
	s.MustCLI("webhook", "add", "acme", org.URL, "--events", "member,repository")
	s.MustCLI("repo", "create", "acme/api")
	s.MustCLI("collab", "add", "acme/api", "bob", "write")
	s.MustCLI("collab", "add", "acme/api", "@acme/devs", "read")
	s.MustCLI("repo", "rename", "acme/api", "acme/svc")
	s.MustCLI("repo", "rm", "acme/svc")

	var got []string
	for _, r := range org.wait(t, 5) {
		var p struct {
			Action string `json:"action"`
			Member *struct{ Login string }
			Team   *struct{ Slug string }
			Perm   string `json:"permission"`
			Repo   struct {
				FullName string `json:"full_name"`
			} `json:"repository"`
		}
		json.Unmarshal(r.Body, &p)
		line := r.Event() + " " + p.Action + " " + p.Repo.FullName
		if p.Member != nil {
			line += " " + p.Member.Login + " " + p.Perm
		}
		if p.Team != nil {
			line += " team " + p.Team.Slug + " " + p.Perm
		}
		got = append(got, line)
	}
	// Sent in parallel: their order is not kept.
	slices.Sort(got)
	want := "member added acme/api bob write,member added acme/api team devs read,repository created acme/api,repository deleted acme/svc,repository renamed acme/svc"
	if strings.Join(got, ",") != want {
		t.Errorf("org hook heard\n%s\nwant\n%s", strings.Join(got, ","), want)
	}
	if n := len(site.wait(t, 3)); n != 3 {
		t.Errorf("site hook heard %d events", n)
	}
}

// Down, then up: the delivery is retried until it arrives, each attempt
// recorded; a 500 counts as a failure too.
func TestWebhookRetry(t *testing.T) {
	s := MustRunMain(t, allowLoopback)
	// A port with nothing listening, until the receiver starts on it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/r")
	s.MustCLI("webhook", "add", "alice/r", "http://"+addr+"/", "--events", "push")
	work := Work(t, "main", 1)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")

	waitDeliveries(t, s, 1, func(d *gatehouse.Delivery) bool { return d.Attempts >= 2 })
	rcv := newHookReceiver(t, addr, func(n int, _ *http.Request) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	if got := rcv.wait(t, 2); got[0].Header.Get("X-Gatehouse-Delivery") != got[1].Header.Get("X-Gatehouse-Delivery") {
		t.Errorf("retries carry different delivery IDs")
	}
	d := waitDeliveries(t, s, 1, func(d *gatehouse.Delivery) bool { return d.Status == gatehouse.DeliveryDelivered })[0]
	n := len(d.Log)
	if n < 4 || d.Log[0].Error == "" || d.Log[n-2].StatusCode != 503 || d.Log[n-1].StatusCode != 200 {
		t.Errorf("attempts: %d", n)
		for _, a := range d.Log {
			t.Logf("%+v", a)
		}
	}
}

// waitDeliveries waits until hook id's deliveries all satisfy ok.
func waitDeliveries(tb testing.TB, s *Server, id int, ok func(*gatehouse.Delivery) bool) []*gatehouse.Delivery {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ds []*gatehouse.Delivery
		if err := json.Unmarshal([]byte(s.MustCLI("webhook", "deliveries", itoa(int64(id)), "--json")), &ds); err != nil {
			tb.Fatal(err)
		}
		all := len(ds) > 0
		for _, d := range ds {
			all = all && ok(d)
		}
		if all {
			return ds
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(ds, "", "  ")
			tb.Fatalf("deliveries never got there:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Without --webhook-allow a loopback target is refused when dialled, the
// reason recorded; a redirect is not followed.
func TestWebhookSafety(t *testing.T) {
	s := MustRunMain(t, func(c *main.Config) { c.WebhookBackoff = 200 * time.Millisecond })
	rcv := newHookReceiver(t, "127.0.0.1:0", nil)
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/r")
	s.MustCLI("webhook", "add", "alice/r", rcv.URL+"/", "--events", "push")
	// A name that resolves to loopback is refused the same way.
	s.MustCLI("webhook", "add", "alice/r", strings.Replace(rcv.URL, "127.0.0.1", "localhost", 1)+"/", "--events", "push")
	work := Work(t, "main", 1)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	for _, id := range []int{1, 2} {
		d := waitDeliveries(t, s, id, func(d *gatehouse.Delivery) bool {
			return d.Attempts >= 1 && len(d.Log) > 0 && d.Log[0].Error != "interrupted"
		})[0]
		if !strings.Contains(d.Log[0].Error, "loopback address; allow it with --webhook-allow") {
			t.Errorf("hook %d: attempt %+v", id, d.Log[0])
		}
	}
	if n := len(rcv.requests()); n != 0 {
		t.Fatalf("receiver reached %d times", n)
	}

	s2 := MustRunMain(t, allowLoopback)
	redirect := newHookReceiver(t, "127.0.0.1:0", func(int, *http.Request) int { return http.StatusFound })
	bob := s2.User("bob")
	s2.MustCLI("repo", "create", "bob/r")
	s2.MustCLI("webhook", "add", "bob/r", redirect.URL+"/hook", "--events", "push")
	s2.MustGit(bob, work, "push", s2.URL("bob/r"), "main")
	d := waitDeliveries(t, s2, 1, func(d *gatehouse.Delivery) bool { return d.Status == gatehouse.DeliveryFailed })[0]
	if d.Attempts != 1 || d.Log[0].StatusCode != http.StatusFound {
		t.Errorf("redirected delivery %+v %+v", d, d.Log[0])
	}
	time.Sleep(300 * time.Millisecond)
	for _, r := range redirect.requests() {
		if r.Path != "/hook" {
			t.Errorf("redirect followed to %s", r.Path)
		}
	}
}

// A server without webhooks asks the database nothing about them when a
// push happens.
func TestWebhookNoneNoQuery(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	work := Work(t, "main", 2)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main", "main~1:refs/heads/b")
	s.MustCLI("collab", "add", "alice/r", "alice", "read")
	if n := s.Webhooks.MatchQueries(); n != 0 {
		t.Fatalf("%d webhook queries with no webhooks", n)
	}
	rcv := newHookReceiver(t, "127.0.0.1:0", nil)
	s.MustCLI("webhook", "add", "--site", rcv.URL, "--events", "repository")
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main:refs/heads/c")
	if n := s.Webhooks.MatchQueries(); n == 0 {
		t.Fatal("a webhook added by the command line is not seen by the server")
	}
}

// TestHelperServe runs the server in a process of its own when the test
// binary is started again with GATEHOUSE_TEST_SERVE (its arguments, one a
// line), so that a test can kill it.
func TestHelperServe(t *testing.T) {
	args := os.Getenv("GATEHOUSE_TEST_SERVE")
	if args == "" {
		return
	}
	// As the real main: SIGTERM shuts down.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(main.Run(ctx, strings.Split(args, "\n"), os.Stdin, os.Stdout, os.Stderr))
}

// startServeProcess starts the server on data in another process and
// returns it with its SSH port.
func startServeProcess(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServe$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GATEHOUSE_TEST_SERVE="+strings.Join(args, "\n"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", stderr.String())
		}
	})
	sc := bufio.NewScanner(stdout)
	re := regexp.MustCompile(`SSH listening on 127\.0\.0\.1:(\d+)`)
	timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stdout)
			return cmd, m[1]
		}
	}
	t.Fatalf("server did not start:\n%s", stderr.String())
	return nil, ""
}

// Deliveries queued when the server is killed (SIGKILL, right after the
// push was acknowledged) or while the receiver is down are all delivered
// after a restart, each once.
func TestWebhookRestart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	data := t.TempDir()
	key := NewKey(t)
	keyFile := filepath.Join(t.TempDir(), "admin.pub")
	if err := os.WriteFile(keyFile, []byte(key.Public+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--data", data, "--ssh-addr", "127.0.0.1:0", "--http-addr", "", "--admin-key", keyFile,
		"--webhook-allow", "127.0.0.1/32", "--webhook-backoff", "300ms"}
	srv, port := startServeProcess(t, args...)
	s := &Server{tb: t, Data: data, Port: port, KnownHosts: filepath.Join(t.TempDir(), "known_hosts")}
	kh, err := exec.Command("ssh-keyscan", "-p", port, "-t", "ed25519", "127.0.0.1").Output()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(s.KnownHosts, kh, 0o644)

	s.MustCLI("repo", "create", "admin/r")
	s.MustCLI("webhook", "add", "admin/r", "http://"+addr+"/", "--secret", "k")
	work := Work(t, "main", 3)
	s.MustGit(key, work, "push", s.URL("admin/r"), "main", "main~1:refs/heads/b", "main:refs/tags/v1")
	// The receiver is down: every delivery is tried and fails.
	waitDeliveries(t, s, 1, func(d *gatehouse.Delivery) bool { return d.Attempts >= 1 })
	Commits(t, work, "more", 1)
	s.MustGit(key, work, "push", s.URL("admin/r"), "main")
	srv.Process.Signal(syscall.SIGKILL)
	srv.Wait()

	rcv := newHookReceiver(t, addr, nil)
	startServeProcess(t, args...)
	ds := waitDeliveries(t, s, 1, func(d *gatehouse.Delivery) bool { return d.Status == gatehouse.DeliveryDelivered })
	if len(ds) != 7 {
		t.Fatalf("%d deliveries, want 3 pushes, 3 creates and a push", len(ds))
	}
	time.Sleep(500 * time.Millisecond) // a duplicate would have come by now
	seen := map[string]int{}
	for _, r := range rcv.requests() {
		checkSignature(t, r, "k")
		seen[r.Header.Get("X-Gatehouse-Delivery")]++
	}
	for _, d := range ds {
		if seen[d.ID] != 1 {
			t.Errorf("delivery %s (%s) arrived %d times", d.ID, d.Event, seen[d.ID])
		}
	}
	if len(seen) != len(ds) {
		t.Errorf("receiver saw %d deliveries, the server lists %d", len(seen), len(ds))
	}
}

// BenchmarkPushWebhook is a push of one new commit over SSH with the
// real git, with no webhook and with one (its receiver answering at
// once): what the webhook adds to a push before it is acknowledged.
func BenchmarkPushWebhook(b *testing.B) {
	for _, hooks := range []int{0, 1} {
		b.Run(fmt.Sprintf("webhooks=%d", hooks), func(b *testing.B) {
			s := MustRunMain(b, allowLoopback)
			alice := s.User("alice")
			s.MustCLI("repo", "create", "alice/r")
			if hooks > 0 {
				rcv := newHookReceiver(b, "127.0.0.1:0", nil)
				s.MustCLI("webhook", "add", "alice/r", rcv.URL, "--secret", "k")
			}
			work := Work(b, "main", 1)
			s.MustGit(alice, work, "push", "-q", s.URL("alice/r"), "main")
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				Commits(b, work, fmt.Sprint("c", i), 1)
				b.StartTimer()
				s.MustGit(alice, work, "push", "-q", s.URL("alice/r"), "main")
			}
		})
	}
}

// SIGTERM while a receiver hangs: the server exits at once, the cut
// attempt is recorded, and the delivery is sent again at the next start;
// the receiver sees it twice, and two attempts say why.
func TestWebhookShutdown(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	rcv := newHookReceiver(t, "127.0.0.1:0", func(n int, r *http.Request) int {
		if n == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		return http.StatusOK
	})
	data := t.TempDir()
	key := NewKey(t)
	keyFile := filepath.Join(t.TempDir(), "admin.pub")
	os.WriteFile(keyFile, []byte(key.Public+"\n"), 0o644)
	args := []string{"--data", data, "--ssh-addr", "127.0.0.1:0", "--http-addr", "", "--admin-key", keyFile,
		"--webhook-allow", "127.0.0.1/32", "--webhook-backoff", "1h"}
	srv, port := startServeProcess(t, args...)
	s := &Server{tb: t, Data: data, Port: port, KnownHosts: filepath.Join(t.TempDir(), "known_hosts")}
	kh, _ := exec.Command("ssh-keyscan", "-p", port, "-t", "ed25519", "127.0.0.1").Output()
	os.WriteFile(s.KnownHosts, kh, 0o644)
	s.MustCLI("repo", "create", "admin/r")
	s.MustCLI("webhook", "add", "admin/r", rcv.URL, "--events", "push")
	s.MustGit(key, Work(t, "main", 1), "push", s.URL("admin/r"), "main")
	rcv.wait(t, 1)

	// Waiting out the receiver would record a timeout, not the
	// interruption asserted below.
	srv.Process.Signal(syscall.SIGTERM)
	if err := srv.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	var ds []*gatehouse.Delivery
	json.Unmarshal([]byte(s.MustCLI("webhook", "deliveries", "1", "--json")), &ds)
	if len(ds) != 1 || ds[0].Status != gatehouse.DeliveryPending || len(ds[0].Log) != 1 || ds[0].Log[0].Error != "interrupted by shutdown" {
		t.Fatalf("after shutdown: %+v", ds)
	}

	startServeProcess(t, args...)
	d := waitDeliveries(t, s, 1, func(d *gatehouse.Delivery) bool { return d.Status == gatehouse.DeliveryDelivered })[0]
	got := rcv.requests()
	if d.Attempts != 2 || len(got) != 2 || got[1].Header.Get("X-Gatehouse-Delivery") != d.ID {
		t.Errorf("delivery %+v; receiver saw %d", d, len(got))
	}
}
