package browse_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gatehouse"
	"gatehouse/gittest"
	"gatehouse/repos/browse"
)

// fixture makes a bare repository with a few commits by the real git and
// returns a Browser on it and the work tree.
func fixture(t testing.TB) (*browse.Browser, *gatehouse.Repo, string) {
	t.Helper()
	root := t.TempDir()
	work := filepath.Join(root, "work")
	bare := filepath.Join(root, "o", "r.git")
	gittest.Run(t, root, "init", "-q", "-b", "main", work)
	write := func(name, content string) {
		p := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var lines []string
	for i := range 500 {
		lines = append(lines, "line "+strconv.Itoa(i))
	}
	write("README.md", "# Hello\n")
	write("src/main.go", strings.Join(lines, "\n")+"\n")
	write("bin.dat", "a\x00b")
	gittest.Run(t, work, "add", ".")
	gittest.Run(t, work, "commit", "-q", "-m", "first\n\nbody")
	lines[10] = "changed 10"
	lines[400] = "changed 400"
	lines = append(lines[:200], lines[205:]...)
	write("src/main.go", strings.Join(lines, "\n")+"\n")
	write("NEW", "new file\n")
	gittest.Run(t, work, "add", ".")
	gittest.Run(t, work, "commit", "-q", "-m", "second")
	gittest.Run(t, work, "tag", "-a", "-m", "v1", "v1.0")
	gittest.Run(t, root, "clone", "-q", "--bare", work, bare)
	b := &browse.Browser{Dir: func(owner, name string) (string, error) { return filepath.Join(root, owner, name+".git"), nil }}
	return b, &gatehouse.Repo{Owner: "o", Name: "r"}, work
}

func TestBrowse(t *testing.T) {
	b, r, work := fixture(t)
	ctx := context.Background()
	o, err := b.Overview(ctx, r, 10)
	if err != nil {
		t.Fatal(err)
	}
	if o.Head != "main" || o.Readme != "README.md" || len(o.Branches) != 1 || len(o.Tags) != 1 || o.Tags[0].Name != "v1.0" {
		t.Fatalf("overview refs: %+v", o)
	}
	if len(o.Log) != 2 || o.Log[0].Subject != "second" || o.Log[1].Subject != "first" || o.Log[0].Author == "" {
		t.Fatalf("log: %+v", o.Log)
	}
	if want := strings.TrimSpace(gittest.Run(t, work, "rev-parse", "HEAD")); o.Log[0].ID != want || o.Tags[0].ID == "" {
		t.Fatalf("log tip %s, want %s", o.Log[0].ID, want)
	}

	tr, err := b.Tree(ctx, r, "v1.0", "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, it := range tr.Items {
		names = append(names, it.Name)
	}
	if got := strings.Join(names, " "); got != "src NEW README.md bin.dat" {
		t.Fatalf("tree: %s", got)
	}
	f, err := b.File(ctx, r, "main", "src/main.go")
	if err != nil || f.Binary || f.TooLarge || strings.Count(string(f.Content), "\n") != 495 {
		t.Fatalf("file: %v %+v", err, f)
	}
	if f, err := b.File(ctx, r, "main", "bin.dat"); err != nil || !f.Binary || f.Content != nil {
		t.Fatalf("binary file: %v %+v", err, f)
	}
	small := *b
	small.MaxFileSize = 100
	if f, err := small.File(ctx, r, "main", "src/main.go"); err != nil || !f.TooLarge || f.Content != nil {
		t.Fatalf("large file: %v %+v", err, f)
	}

	c, err := b.Commit(ctx, r, "main")
	if err != nil {
		t.Fatal(err)
	}
	// The counts agree with git's own.
	numstat := strings.Fields(gittest.Run(t, work, "diff", "--numstat", "HEAD~", "HEAD"))
	var got []string
	for _, ch := range c.Changes {
		got = append(got, fmt.Sprint(ch.Added), fmt.Sprint(ch.Deleted), ch.Path)
	}
	if strings.Join(got, " ") != strings.Join(numstat, " ") {
		t.Fatalf("changes %v, git says %v", got, numstat)
	}
	if c.Changes[1].Lines[0] != "@@ -8,7 +8,7 @@" {
		t.Fatalf("hunks: %q", c.Changes[1].Lines)
	}
	if root, err := b.Commit(ctx, r, "main~"); err == nil {
		t.Fatalf("main~ resolved: %+v", root)
	}
	first, err := b.Commit(ctx, r, o.Log[1].ID)
	if err != nil || len(first.Changes) != 3 || first.Changes[0].Status != "added" || first.Changes[1].Skipped != "binary file" {
		t.Fatalf("root commit: %v %+v", err, first)
	}
	for _, bad := range []struct{ ref, path string }{{"main", "../x"}, {"main", "src/../src"}, {"..", ""}, {"main", "/etc"}, {"main", "nope"}, {"nope", ""}} {
		_, err := b.Tree(ctx, r, bad.ref, bad.path)
		if !errors.Is(err, gatehouse.ErrInvalid) && !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("tree %q %q: %v", bad.ref, bad.path, err)
		}
	}
}

// A commit no ref leads to any more (a force push dropped it) is not
// shown by id, though its objects are still stored; one a ref reaches,
// however deep, is.
func TestUnreachableCommitHidden(t *testing.T) {
	b, r, work := fixture(t)
	ctx := context.Background()
	bare := filepath.Join(filepath.Dir(work), "o", "r.git")
	first := strings.TrimSpace(gittest.Run(t, bare, "rev-parse", "main~1"))
	second := strings.TrimSpace(gittest.Run(t, bare, "rev-parse", "main"))
	// Tags v1.0 (annotated) points at second too: drop it, then rewind
	// main, so second is stored and unreachable.
	gittest.Run(t, bare, "tag", "-d", "v1.0")
	gittest.Run(t, bare, "update-ref", "refs/heads/main", first)
	if out := gittest.Run(t, bare, "cat-file", "-t", second); strings.TrimSpace(out) != "commit" {
		t.Fatalf("second is not stored: %q", out)
	}
	for name, page := range map[string]func() error{
		"commit": func() error { _, err := b.Commit(ctx, r, second); return err },
		"tree":   func() error { _, err := b.Tree(ctx, r, second, ""); return err },
		"file":   func() error { _, err := b.File(ctx, r, second, "NEW"); return err },
		"raw": func() error {
			_, rc, err := b.Raw(ctx, r, second, "NEW")
			if rc != nil {
				rc.Close()
			}
			return err
		},
	} {
		if err := page(); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("%s of an unreachable commit: %v, want not found", name, err)
		}
	}
	if _, err := b.Commit(ctx, r, first); err != nil {
		t.Fatalf("a reachable commit by id: %v", err)
	}
}
