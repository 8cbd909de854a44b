package main_test

import (
	"context"
	"encoding/base32"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestStepUpPanelBrowser enrols a second factor in headless Chromium
// (QR code and secret, a wrong then a right code, the recovery codes
// shown once), then logs in with a link that now asks for a code: a
// wrong one is refused, a TOTP code and a recovery code each let in.
func TestStepUpPanelBrowser(t *testing.T) {
	s, base := MustRunWeb(t)
	s.MustCLI("user", "add", "alice")
	b := NewBrowser(t)
	b.Login(s.LoginLink("alice", base))

	b.Do(chromedp.Navigate(base + "/2fa"))
	if got := b.Text("#not-enrolled"); !strings.Contains(got, "no second factor") {
		t.Fatalf("before enrolment: %q", got)
	}
	b.ClickAndWait("#enroll")
	text := b.Text("#totp-secret")
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(text)
	if err != nil || len(secret) != 20 {
		t.Fatalf("secret %q: %v", text, err)
	}
	// The QR code is inline SVG, drawn under the panel's CSP.
	var qrWidth float64
	b.Do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		var err error
		qrWidth, err = chromedp.Evaluate[float64](`document.querySelector("#qr path").getBoundingClientRect().width`)(ctx, tg)
		return err
	}))
	if qrWidth < 100 {
		t.Errorf("QR code %v px wide", qrWidth)
	}
	b.Shot("2fa-enrol")

	b.Submit(`form[action="/2fa/confirm"]`, map[string]string{"code": wrongTOTP(secret)})
	if got := b.Text("p.error"); !strings.Contains(got, "wrong or expired") {
		t.Fatalf("wrong code at enrolment: %q", got)
	}
	b.Submit(`form[action="/2fa/confirm"]`, map[string]string{"code": testTOTP(secret, 0)})
	codes := strings.Fields(b.Text("#recovery-codes"))
	if len(codes) != 10 || len(codes[0]) != 19 {
		t.Fatalf("recovery codes: %q", codes)
	}
	if got := b.Text("#enrolled"); !strings.Contains(got, "10 recovery codes left") {
		t.Errorf("after enrolment: %q", got)
	}
	b.Shot("2fa-recovery-codes")
	// Shown once: the page itself no longer has them.
	b.Do(chromedp.Navigate(base + "/2fa"))
	if got := b.Text("main"); strings.Contains(got, codes[0]) {
		t.Error("recovery codes shown again")
	}

	// A login link now asks for a code.
	loginWithCode := func(code string) string {
		t.Helper()
		b.ClickAndWait(`form[action="/logout"] button`)
		b.Do(chromedp.Navigate(s.LoginLink("alice", base)), chromedp.WaitVisible(chromedp.CSS("#login")))
		b.ClickAndWait("#login")
		if got := b.Text("main h1"); got != "Two-factor code" {
			t.Fatalf("after the link: %q", got)
		}
		b.Shot("2fa-login")
		b.Submit(`form[action="/login"]`, map[string]string{"code": code})
		return b.Text("main h1")
	}
	if got := loginWithCode(wrongTOTP(secret)); got != "Two-factor code" || !strings.Contains(b.Text("p.error"), "wrong, used or expired") {
		t.Fatalf("wrong code at login: %q", got)
	}
	// The link is still good after a wrong code; the right one lets in.
	b.Submit(`form[action="/login"]`, map[string]string{"code": testTOTP(secret, 1)})
	b.Do(chromedp.WaitVisible(chromedp.CSS("section.cards")))
	if got := loginWithCode(codes[3]); got == "Two-factor code" {
		t.Fatalf("recovery code refused: %q", b.Text("main"))
	}
	b.Do(chromedp.WaitVisible(chromedp.CSS("section.cards")))

	a := auditByAction(t, s)
	if len(a["2fa.enroll"]) != 1 || len(a["2fa.failed"]) != 2 || len(a["web.login"]) != 3 {
		t.Errorf("audit: enrol %q, failed %q, logins %q", a["2fa.enroll"], a["2fa.failed"], a["web.login"])
	}
}
