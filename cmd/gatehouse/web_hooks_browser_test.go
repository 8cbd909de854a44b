package main_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"gatehouse"
	main "gatehouse/cmd/gatehouse"
)

// TestPanelWebhooks adds a repository webhook in headless Chromium, sees
// a push's deliveries listed with their answers, sends one again and
// removes the hook; someone else is not shown the page.
func TestPanelWebhooks(t *testing.T) {
	s := MustRunMain(t, allowLoopback, func(c *main.Config) { c.HTTPAddr = "127.0.0.1:0" })
	base := "http://" + s.HTTP.ListenAddr().String()
	rcv := newHookReceiver(t, "127.0.0.1:0", nil)
	alice := s.User("alice")
	s.User("bob")
	s.MustCLI("repo", "create", "alice/r")
	b := NewBrowser(t)
	b.Login(s.LoginLink("alice", base))

	b.Do(chromedp.Navigate(base + "/repos/alice/r"))
	b.ClickAndWait(`a[href="/repos/alice/r/hooks"]`)
	if got := b.Text("main h1"); got != "Webhooks of alice/r" {
		t.Fatalf("hooks page heading %q", got)
	}
	b.Submit(`form[action="/repos/alice/r/hooks"]`, map[string]string{"url": rcv.URL + "/ci", "secret": "panel-secret"})
	if got := b.Text("p.flash"); got != "Added webhook 1" {
		t.Fatalf("add: %q", got)
	}
	if got := b.Text("main"); strings.Contains(got, "panel-secret") || !strings.Contains(got, "secret set") {
		t.Errorf("hook shown as %q", got)
	}

	work := Work(t, "main", 1)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	first := rcv.wait(t, 2)
	checkSignature(t, first[0], "panel-secret")
	waitDeliveries(t, s, 1, func(d *gatehouse.Delivery) bool { return d.Status == gatehouse.DeliveryDelivered })
	b.Do(chromedp.Navigate(base + "/repos/alice/r/hooks"))
	if got := b.Text("main table"); !strings.Contains(got, "push") || !strings.Contains(got, "create") || !strings.Contains(got, "delivered") || !strings.Contains(got, "1: 200") {
		t.Errorf("deliveries table: %q", got)
	}
	b.Shot("webhooks")
	b.ClickAndWait(`tr.delivery form button`)
	if got := b.Text("p.flash"); !strings.HasPrefix(got, "Queued again as ") {
		t.Fatalf("send again: %q", got)
	}
	rcv.wait(t, 3)

	// bob administers nothing here.
	p := newPanelClient(t, base)
	p.login(s.LoginLink("bob", base))
	if code, _ := p.get("/repos/alice/r/hooks"); code != http.StatusNotFound {
		t.Errorf("bob sees alice's webhooks: %d", code)
	}
	if code, _ := p.postCSRF("/repos/alice/r/hooks/1/remove", url.Values{}); code != http.StatusNotFound {
		t.Errorf("bob removes alice's webhook: %d", code)
	}
	if code, _ := p.get("/hooks"); code != http.StatusForbidden {
		t.Errorf("bob sees the site's webhooks: %d", code)
	}

	b.ClickAndWait(`form[action="/repos/alice/r/hooks/1/remove"] button`)
	if got := b.Text("p.flash"); got != "Removed webhook 1" {
		t.Fatalf("remove: %q", got)
	}
}
