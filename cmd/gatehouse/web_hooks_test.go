package main_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"gatehouse"
	main "gatehouse/cmd/gatehouse"
)

// The API's webhook routes: repository admins manage their hooks, others
// do not see them, site hooks are for site admins, a read token cannot
// add one, the secret never comes back, and deliveries can be listed and
// sent again.
func TestWebhookAPI(t *testing.T) {
	s := MustRunMain(t, allowLoopback, func(c *main.Config) { c.HTTPAddr = "127.0.0.1:0" })
	base := "http://" + s.HTTP.ListenAddr().String()
	rcv := newHookReceiver(t, "127.0.0.1:0", nil)
	alice := s.User("alice")
	s.User("bob")
	s.MustCLI("repo", "create", "alice/r")
	s.MustCLI("org", "create", "acme")
	a := apiClient{tb: t, base: base, token: s.Token("alice")}
	aRead := apiClient{tb: t, base: base, token: s.Token("alice", "--scope", "read")}
	b := apiClient{tb: t, base: base, token: s.Token("bob")}

	var h map[string]any
	if code := a.do("POST", "/repos/alice/r/hooks", map[string]any{"url": rcv.URL + "/in", "secret": "topsecret", "events": []string{"push"}}, &h); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	if h["has_secret"] != true || h["secret"] != nil || h["target"] != "alice/r" || h["scope"] != "repo" {
		t.Errorf("created hook %v", h)
	}
	for _, c := range []struct {
		who    apiClient
		method string
		path   string
		body   any
		want   int
	}{
		{b, "POST", "/repos/alice/r/hooks", map[string]any{"url": rcv.URL}, http.StatusNotFound},
		{b, "GET", "/repos/alice/r/hooks", nil, http.StatusNotFound},
		{a, "POST", "/hooks", map[string]any{"url": rcv.URL}, http.StatusForbidden},
		{a, "POST", "/orgs/acme/hooks", map[string]any{"url": rcv.URL}, http.StatusNotFound},
		{aRead, "POST", "/repos/alice/r/hooks", map[string]any{"url": rcv.URL}, http.StatusForbidden},
		{a, "POST", "/repos/alice/r/hooks", map[string]any{"url": "file:///etc/passwd"}, http.StatusBadRequest},
		{a, "GET", "/orgs/acme/hooks/1", nil, http.StatusNotFound},
		{b, "DELETE", "/repos/alice/r/hooks/1", nil, http.StatusNotFound},
	} {
		if code := c.who.do(c.method, c.path, c.body, nil); code != c.want && !(c.want == http.StatusBadRequest && code == http.StatusUnprocessableEntity) {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, code, c.want)
		}
	}
	var list []map[string]any
	aRead.do("GET", "/repos/alice/r/hooks", nil, &list)
	if len(list) != 1 || list[0]["url"] != rcv.URL+"/in" {
		t.Errorf("list %v", list)
	}

	work := Work(t, "main", 1)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	first := rcv.wait(t, 1)[0]
	checkSignature(t, first, "topsecret")
	var ds []*gatehouse.Delivery
	waitFor := func() {
		for range 200 {
			ds = nil
			a.do("GET", "/repos/alice/r/hooks/1/deliveries", nil, &ds)
			if len(ds) == 1 && ds[0].Status == gatehouse.DeliveryDelivered {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("deliveries %+v", ds)
	}
	waitFor()
	if ds[0].ID != first.Header.Get("X-Gatehouse-Delivery") || len(ds[0].Log) != 1 || ds[0].Log[0].StatusCode != 200 {
		t.Errorf("delivery %+v", ds[0])
	}
	var one struct {
		ID      string
		Payload struct {
			Ref   string `json:"ref"`
			After string `json:"after"`
		}
	}
	if code := a.do("GET", "/repos/alice/r/hooks/1/deliveries/"+ds[0].ID, nil, &one); code != http.StatusOK || one.ID != ds[0].ID ||
		one.Payload.Ref != "refs/heads/main" || one.Payload.After != run(t, work, "git", "rev-parse", "HEAD") {
		t.Errorf("one delivery: %d %+v", code, one)
	}
	if code := b.do("GET", "/repos/alice/r/hooks/1/deliveries/"+ds[0].ID, nil, nil); code != http.StatusNotFound {
		t.Errorf("bob reads a delivery: %d", code)
	}
	var again gatehouse.Delivery
	if code := a.do("POST", "/repos/alice/r/hooks/1/deliveries/"+ds[0].ID+"/attempts", nil, &again); code != http.StatusAccepted {
		t.Fatalf("redeliver: %d", code)
	}
	second := rcv.wait(t, 2)[1]
	if second.Header.Get("X-Gatehouse-Delivery") != again.ID || string(second.Body) != string(first.Body) {
		t.Errorf("redelivered %s as %s", again.ID, second.Header.Get("X-Gatehouse-Delivery"))
	}
	if code := a.do("DELETE", "/repos/alice/r/hooks/1", nil, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	list = nil
	a.do("GET", "/repos/alice/r/hooks", nil, &list)
	if len(list) != 0 {
		t.Errorf("after delete: %v", list)
	}
	if out := s.MustCLI("audit", "--repo", "alice/r"); !strings.Contains(out, "webhook.create") || !strings.Contains(out, "webhook.redeliver") || !strings.Contains(out, "webhook.delete") {
		t.Errorf("audit:\n%s", out)
	}
}
