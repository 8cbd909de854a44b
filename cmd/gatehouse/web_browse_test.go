package main_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// readme is a README with markup that must stay inert.
const readme = "# Code\n\nSome *text*. <script>window.pwned = 1</script>\n\n" +
	"<img src=x onerror=\"window.pwned = 2\">\n\n" +
	"[click me](javascript:window.pwned=3) [source](src/main.go) [up](../../../etc/passwd)\n\n" +
	"![logo](docs/logo.png)\n\n```go\nfunc main() {}\n```\n"

// browseFixture pushes alice/code (private): a 500-line file, a PNG, a
// binary file, a README, two commits and a tag. It returns the work tree.
func browseFixture(t testing.TB, s *Server) string {
	t.Helper()
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/code")
	work := t.TempDir()
	run(t, work, "git", "init", "-q", "-b", "main")
	write := func(name string, data []byte) {
		p := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var lines []string
	for i := range 500 {
		lines = append(lines, fmt.Sprintf("func f%d() int { return %d } // <b>not bold</b>", i, i))
	}
	write("src/main.go", []byte("package main\n"+strings.Join(lines[1:], "\n")+"\n"))
	img := image.NewRGBA(image.Rect(0, 0, 40, 20))
	for x := range 40 {
		for y := range 20 {
			img.Set(x, y, color.RGBA{R: uint8(6 * x), G: 90, B: 200, A: 255})
		}
	}
	var pngData bytes.Buffer
	if err := png.Encode(&pngData, img); err != nil {
		t.Fatal(err)
	}
	write("docs/logo.png", pngData.Bytes())
	write("hello.go", []byte("package main\n"+lines[1]+"\n"))
	write("data.bin", []byte("\x00\x01\x02binary"))
	write("README.md", []byte(readme))
	run(t, work, "git", "add", ".")
	run(t, work, "git", "commit", "-q", "-m", "first import")
	lines[10] = "// changed line ten"
	write("src/main.go", []byte("package main\n"+strings.Join(lines[1:], "\n")+"\n"))
	run(t, work, "git", "commit", "-q", "-am", "second change")
	run(t, work, "git", "tag", "v1.0")
	s.MustGit(alice, work, "push", "-q", s.URL("alice/code"), "main", "v1.0")
	return work
}

// TestPanelBrowseCode reads a repository's code in headless Chromium: the
// repository page's refs and log, the tree, a text file with line
// numbers, an image, a binary file offered as a download, a commit's
// diff, the dashboard's pushes; an outsider gets the 404 of a missing
// repository.
func TestPanelBrowseCode(t *testing.T) {
	s, base := MustRunWeb(t)
	work := browseFixture(t, s)
	head := run(t, work, "git", "rev-parse", "HEAD")
	s.MustCLI("user", "add", "bob")
	b := NewBrowser(t)
	b.Login(s.LoginLink("alice", base))

	if got := b.Text("main"); !strings.Contains(got, "second change") || !strings.Contains(got, head[:10]) || strings.Contains(got, head) {
		t.Errorf("dashboard pushes want short id %s and subject:\n%s", head[:10], got)
	}
	b.Shot("browse-dashboard")

	b.Do(chromedp.Navigate(base + "/repos/alice/code"))
	log := b.Text("#log")
	if !strings.Contains(log, head[:10]) || !strings.Contains(log, "second change") || !strings.Contains(log, "first import") || !strings.Contains(log, "Test") || !strings.Contains(log, "just now") {
		t.Errorf("log: %q", log)
	}
	if got := b.Text("#branches"); got != "main" {
		t.Errorf("branches %q", got)
	}
	if got := b.Text("#tags"); got != "v1.0" {
		t.Errorf("tags %q", got)
	}
	// The README: rendered, its links resolved in the repository, its
	// script and javascript: link inert.
	if got := b.Text("#readme h1"); got != "Code" {
		t.Errorf("README heading %q", got)
	}
	if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#readme script, #readme [onerror], #readme iframe").length + (window.pwned ? 100 : 0)`)); err != nil || n != 0 {
		t.Errorf("README markup not inert: %d %v", n, err)
	}
	links, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#readme a")).map(a => a.textContent + "=" + a.getAttribute("href"))`))
	if err != nil || len(links) != 3 || links[0] != "click me=" || links[1] != "source=/repos/alice/code/blob?path=src%2Fmain.go&ref=main" || links[2] != "up=/repos/alice/code/blob?path=etc%2Fpasswd&ref=main" {
		t.Errorf("README links %q %v", links, err)
	}
	if got := b.Text("#readme pre .hl-k"); got != "func" {
		t.Errorf("README code block not highlighted: %q", got)
	}
	b.Do(chromedp.Click(chromedp.CSS(`#readme a`)))
	if w := imageWidth(b, "#readme img"); w != 40 {
		t.Errorf("README image width %d", w)
	}
	if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`window.pwned ? 1 : 0`)); err != nil || n != 0 {
		t.Errorf("clicking the javascript: link ran it: %d %v", n, err)
	}
	b.Shot("browse-repo")

	b.ClickAndWait("#browse")
	if got := b.Text("#tree"); !strings.Contains(got, "docs/") || !strings.Contains(got, "src/") || !strings.Contains(got, "README.md") || !strings.Contains(got, "data.bin") {
		t.Errorf("tree: %q", got)
	}
	b.Shot("browse-tree")
	b.ClickAndWait(`#tree a[href*="path=src"]`)
	b.ClickAndWait(`#tree a[href*="main.go"]`)
	if got := b.Text("#L500"); !strings.Contains(got, "500") || !strings.Contains(got, "f499") {
		t.Errorf("line 500: %q", got)
	}
	if got := b.Text("#L11"); !strings.Contains(got, "changed line ten") {
		t.Errorf("line 11: %q", got)
	}
	// Markup in a file is text.
	if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#file b").length`)); err != nil || n != 0 {
		t.Errorf("file markup became elements: %d %v", n, err)
	}
	b.Shot("browse-file")
	// Go is highlighted: keywords, numbers and comments have classes (in
	// a small file, which the time budget of highlighting allows even
	// under the race detector).
	b.Do(chromedp.Navigate(base + "/repos/alice/code/blob?path=hello.go"))
	if got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll("#L2 span")).map(e => e.className + ":" + e.textContent).join(" ")`)); err != nil ||
		!strings.Contains(got, "hl-k:func") || !strings.Contains(got, "hl-m:1") || !strings.Contains(got, "hl-c:// <b>not bold</b>") {
		t.Errorf("highlighting of line 2: %q %v", got, err)
	}

	b.Do(chromedp.Navigate(base + "/repos/alice/code/blob?ref=v1.0&path=docs/logo.png"))
	b.Do(chromedp.WaitVisible(chromedp.CSS("#image")))
	if w := imageWidth(b, "#image"); w != 40 {
		t.Errorf("image width %d", w)
	}
	b.Shot("browse-image")
	b.Do(chromedp.Navigate(base + "/repos/alice/code/blob?path=data.bin"))
	if got := b.Text("#nopreview"); !strings.Contains(got, "binary") {
		t.Errorf("binary file: %q", got)
	}
	if href, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("#download").getAttribute("href")`)); err != nil || !strings.Contains(href, "/raw?") {
		t.Errorf("download link %q %v", href, err)
	}

	b.Do(chromedp.Navigate(base + "/repos/alice/code"))
	b.ClickAndWait(`#log a[href*="` + head + `"]`)
	if got := b.Text("main"); !strings.Contains(got, "+// changed line ten") || !strings.Contains(got, "-func f10() int") || !strings.Contains(got, "src/main.go") {
		t.Errorf("commit page:\n%s", got)
	}
	b.Shot("browse-commit")

	b.Do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)), chromedp.Navigate(base+"/repos/alice/code/blob?path=src/main.go"), chromedp.WaitVisible(chromedp.CSS("#L1")))
	b.Shot("browse-file-phone")
	b.Do(chromedp.Navigate(base+"/repos/alice/code"), chromedp.WaitVisible(chromedp.CSS("#log")))
	b.Shot("browse-repo-phone")
	b.Do(chromedp.EmulateViewport(1200, 900))

	// Raw files: images as themselves, anything else as a download,
	// never as a page of the site.
	p := newPanelClient(t, base)
	p.login(s.LoginLink("alice", base))
	for _, c := range []struct{ path, typ, disposition, body string }{
		{"data.bin", "application/octet-stream", `attachment; filename=data.bin`, "\x00\x01\x02binary"},
		{"README.md", "application/octet-stream", `attachment; filename=README.md`, readme},
		{"docs/logo.png", "image/png", "", ""},
	} {
		res, err := p.c.Get(base + "/repos/alice/code/raw?path=" + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		h := res.Header
		if res.StatusCode != 200 || h.Get("Content-Type") != c.typ || h.Get("Content-Disposition") != c.disposition ||
			h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") ||
			c.body != "" && string(body) != c.body {
			t.Errorf("raw %s: %s %v %q", c.path, res.Status, h, body)
		}
	}

	// Bad paths are refused, not followed.
	b.Do(chromedp.Navigate(base + "/repos/alice/code/tree?path=src/../.."))
	if got := b.Text("main h1"); got != "Unprocessable Entity" {
		t.Errorf("path with ..: %q", got)
	}

	// bob may not read alice/code: every page is the 404 of a missing
	// repository, word for word.
	b.ClickAndWait(`form[action="/logout"] button`)
	b.Login(s.LoginLink("bob", base))
	b.Do(chromedp.Navigate(base + "/repos/alice/none/tree"))
	missing := b.Text("main")
	for _, p := range []string{"", "/tree", "/blob?path=README.md", "/raw?path=README.md", "/commit?ref=" + head} {
		b.Do(chromedp.Navigate(base + "/repos/alice/code" + p))
		if got := b.Text("main"); got != strings.Replace(missing, "none", "code", 1) || !strings.Contains(got, "Not Found") {
			t.Errorf("bob sees %s: %q, a missing repository: %q", p, got, missing)
		}
	}
	if got := b.Text("main"); strings.Contains(got, "second change") {
		t.Error("bob sees alice's commit")
	}
	b.Shot("browse-outsider-404")
	b.Do(chromedp.Navigate(base + "/"))
	if got := b.Text("main"); strings.Contains(got, "second change") || strings.Contains(got, head[:10]) {
		t.Errorf("bob's dashboard shows alice's push: %q", got)
	}
}

// imageWidth waits up to 10 seconds for the image css to load and
// returns its width in pixels, 0 if it did not load.
func imageWidth(b *Browser, css string) int {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		w, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`(function(i){ return i && i.complete ? i.naturalWidth : -1 })(document.querySelector(`+strconv.Quote(css)+`))`))
		if err == nil && w >= 0 {
			return w
		}
	}
	return 0
}
