package main_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds the browser the page tests drive. A missing browser
// fails the test: .ci/run installs it, and a skipped browser test would
// hide a broken panel.
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("GATEHOUSE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	tb.Fatal("page tests need chromium on PATH or GATEHOUSE_CHROMIUM (.ci/run installs it)")
	return ""
}

// artifactsDir is where screenshots go: $GATEHOUSE_ARTIFACTS, or
// artifacts/panel at the top of the repository (git-ignored).
func artifactsDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("GATEHOUSE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts")
	}
	dir = filepath.Join(dir, "panel")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// Browser is one headless Chromium for a test.
type Browser struct {
	tb  testing.TB
	ctx context.Context
	dir string // screenshots
}

func NewBrowser(tb testing.TB) *Browser {
	tb.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(tb)),
		chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1200, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	tb.Cleanup(func() { cancel(); cancelAlloc() })
	// The first Run starts the browser, on the long-lived context.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		tb.Fatalf("start chromium: %v", err)
	}
	return &Browser{tb: tb, ctx: ctx, dir: artifactsDir(tb)}
}

// Do runs steps with a time limit, failing the test on error.
func (b *Browser) Do(steps ...chromedp.Action[chromedp.Void]) {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		b.tb.Fatalf("browser at %s: %v", loc, err)
	}
}

// Text returns the text of the first element matching css.
func (b *Browser) Text(css string) string {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		b.tb.Fatalf("text of %s: %v", css, err)
	}
	return s
}

// Shot writes a PNG of the whole page as name.png.
func (b *Browser) Shot(name string) {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.tb.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644); err != nil {
		b.tb.Fatal(err)
	}
}

// Login opens a one-time link and presses the button.
func (b *Browser) Login(link string) {
	b.tb.Helper()
	b.Do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#login")))
	b.Shot("login")
	b.ClickAndWait("#login")
	b.Do(chromedp.WaitVisible(chromedp.CSS("section.cards")))
}

// Submit fills the form matching form (a CSS selector), submits it and
// waits for the page that answers.
func (b *Browser) Submit(form string, fields map[string]string) {
	b.tb.Helper()
	var steps []chromedp.Action[chromedp.Void]
	for name, v := range fields {
		steps = append(steps, chromedp.SetValue(chromedp.CSS(form+` [name="`+name+`"]`), v))
	}
	b.Do(steps...)
	b.ClickAndWait(form + ` button[type="submit"]`)
}

// ClickAndWait clicks css and waits until a new document has loaded:
// the old one is marked first, since a click returns before navigation.
func (b *Browser) ClickAndWait(css string) {
	b.tb.Helper()
	b.Do(
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[any](`document.documentElement.dataset.old = "1"`)(ctx, t)
			return err
		}),
		chromedp.Click(chromedp.CSS(css)),
		// Polled from Go: a poll inside the page dies with the page.
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			for {
				ok, err := chromedp.Evaluate[bool](`document.readyState === "complete" && !document.documentElement.dataset.old && !!document.querySelector("main h1")`)(ctx, t)
				if err == nil && ok {
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("waiting for the next page: %w (last error %v)", ctx.Err(), err)
				case <-time.After(20 * time.Millisecond):
				}
			}
		}),
	)
}

func (s *Server) LoginLink(user, base string) string {
	s.tb.Helper()
	out := s.MustCLI("login-link", user, "--url", base)
	return strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
}

// TestPanelBrowser walks the panel in headless Chromium as a person
// would: log in with a link, add a key, create a repository, grant a
// collaborator, then clone over SSH with that key; screenshots of every
// page go to the artifacts folder.
func TestPanelBrowser(t *testing.T) {
	s, base := MustRunWeb(t)
	s.MustCLI("user", "add", "alice")
	bobKey := s.User("bob")
	b := NewBrowser(t)

	b.Login(s.LoginLink("alice", base))
	b.Shot("dashboard")

	// Add a key by pasting it.
	aliceKey := NewKey(t)
	b.Do(chromedp.Navigate(base + "/users/alice"))
	b.Submit(`form[action="/users/alice/keys"]`, map[string]string{"key": aliceKey.Public})
	if got := b.Text("p.flash"); !strings.Contains(got, "Added key SHA256:") {
		t.Fatalf("after adding a key: %q", got)
	}
	if got := b.Text("main table"); !strings.Contains(got, "ssh-ed25519") || !strings.Contains(got, "never") {
		t.Errorf("key table: %q", got)
	}
	// A token, shown once.
	b.Submit(`form[action="/users/alice/tokens"]`, map[string]string{"name": "laptop"})
	if tok := b.Text("#new-token"); !strings.HasPrefix(tok, "gh_tok_") {
		t.Errorf("new token shown as %q", tok)
	}
	b.Shot("user-keys")

	// A bad key is refused with the CLI's message.
	b.Submit(`form[action="/users/alice/keys"]`, map[string]string{"key": "ssh-rsa AAAAB3NzaC1yc2E tiny"})
	if got := b.Text("p.error"); got == "" {
		t.Error("bad key accepted")
	}

	// Create a repository.
	b.Do(chromedp.Navigate(base + "/repos"))
	b.Submit(`form[action="/repos"]`, map[string]string{"name": "panel", "description": "made in a browser"})
	if got := b.Text("main h1"); got != "alice/panel" {
		t.Fatalf("after create: heading %q", got)
	}
	clone := b.Text("#clone-url")
	if !strings.Contains(clone, "ssh://git@127.0.0.1:"+s.Port+"/alice/panel.git") {
		t.Errorf("clone URL %q", clone)
	}
	// A new repository's few files still have a size on disk.
	if got := b.Text("main"); !regexp.MustCompile(`\d+(\.\d)? (B|KiB) on disk`).MatchString(got) {
		t.Errorf("repository page shows no size:\n%s", got)
	}

	// Grant bob write, protect main, add a deploy key.
	b.Submit(`form[action="/repos/alice/panel/collaborators"]`, map[string]string{"user": "bob", "level": "write"})
	if got := b.Text("p.flash"); !strings.Contains(got, "bob now has write") {
		t.Fatalf("grant: %q", got)
	}
	b.Submit(`form[action="/repos/alice/panel/protected"]`, map[string]string{"pattern": "release/*"})
	b.Submit(`form[action="/repos/alice/panel/deploy-keys"]`, map[string]string{"key": NewKey(t).Public})
	b.Do(chromedp.Navigate(base + "/repos/alice/panel"))
	b.Shot("repo")
	// And on a phone.
	b.Do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)), chromedp.Navigate(base+"/repos/alice/panel"), chromedp.WaitVisible(chromedp.CSS("#clone-url")))
	b.Shot("repo-phone")
	b.Do(chromedp.EmulateViewport(1200, 900))

	b.Do(chromedp.Navigate(base + "/repos"))
	b.Shot("repos")

	// Clone over SSH with the key added in the browser; bob, granted
	// write in the browser, clones and pushes.
	work := t.TempDir()
	s.MustGit(aliceKey, work, "clone", "-q", s.URL("alice/panel"), "a")
	Commits(t, filepath.Join(work, "a"), "alice", 1)
	s.MustGit(aliceKey, filepath.Join(work, "a"), "push", "-q", "origin", "HEAD:main")
	s.MustGit(bobKey, work, "clone", "-q", s.URL("alice/panel"), "b")
	if _, err := os.Stat(filepath.Join(work, "b", "alice-0.txt")); err != nil {
		t.Fatalf("bob's clone: %v", err)
	}
	Commits(t, filepath.Join(work, "b"), "bob", 1)
	s.MustGit(bobKey, filepath.Join(work, "b"), "push", "-q", "origin", "HEAD:main")
	s.Fsck("alice/panel")

	// The key's last use now shows, and the dashboard lists the pushes.
	b.Do(chromedp.Navigate(base + "/users/alice"))
	if got := b.Text("main table"); strings.Contains(got, "never") && !strings.Contains(got, "UTC") {
		t.Errorf("key last use not shown: %q", got)
	}
	b.Do(chromedp.Navigate(base + "/"))
	if got := b.Text("main"); !strings.Contains(got, "refs/heads/main") {
		t.Errorf("dashboard lacks the push: %q", got)
	}
	b.Shot("dashboard-pushes")

	b.Do(chromedp.Navigate(base + "/audit"))
	b.Shot("audit-alice")

	// Log out; the panel is closed again.
	b.ClickAndWait(`form[action="/logout"] button`)
	b.Shot("logged-out")
	b.Do(chromedp.Navigate(base+"/repos"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	if got := b.Text("main h1"); got != "Log in" {
		t.Errorf("after logout /repos shows %q", got)
	}

	// The admin's pages.
	b.Login(s.LoginLink("admin", base))
	b.Do(chromedp.Navigate(base + "/users"))
	b.Submit(`form[action="/users"]`, map[string]string{"name": "carol"})
	b.Shot("users")
	b.Do(chromedp.Navigate(base + "/users/carol"))
	b.ClickAndWait(`form[action="/users/carol/update"] button[value="disable"]`)
	if got := b.Text("p.flash"); !strings.Contains(got, "disabled") {
		t.Errorf("disable carol: %q", got)
	}
	b.Shot("user-admin-view")
	b.Do(chromedp.Navigate(base + "/audit"))
	if got := b.Text("main table"); !strings.Contains(got, "collab.set") || !strings.Contains(got, "push") {
		t.Errorf("audit page lacks events: %q", got)
	}
	b.Shot("audit")
	b.Do(chromedp.Navigate(base + "/hostkeys"))
	if got := b.Text("#known-hosts"); !strings.Contains(got, "[127.0.0.1]:"+s.Port+" ssh-ed25519 ") {
		t.Errorf("known_hosts lines: %q", got)
	}
	b.Shot("hostkeys")

	// A form whose CSRF token was tampered with is refused.
	b.Do(chromedp.Navigate(base + "/users"))
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](`document.querySelector('form[action="/users"] input[name="csrf"]').value = "forged"`)); err != nil {
		t.Fatal(err)
	}
	b.Submit(`form[action="/users"]`, map[string]string{"name": "mallory"})
	if got := b.Text("main h1"); got != "Refused" {
		t.Errorf("forged CSRF: page %q", got)
	}
	b.Shot("csrf-refused")
	if _, err := s.CLI("user", "show", "mallory"); err == nil {
		t.Error("forged form created a user")
	}
}
