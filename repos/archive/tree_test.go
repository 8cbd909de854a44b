package archive_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gatehouse/gittest"
	"gatehouse/repos/archive"
)

// TestLargeTree archives a directory whose tree is many times the
// window it is streamed through, with names of every length up to a
// long one, so that entries are cut at every place by the window's end.
func TestLargeTree(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	gittest.Run(t, dir, "init", "-q", "-b", "main", work)
	want := map[string]string{}
	for i := range 400 {
		name := fmt.Sprintf("d/%03d-%s", i, strings.Repeat("n", i%200))
		want[name] = fmt.Sprintf("file %d\n", i)
	}
	want["d/"+strings.Repeat("L", 250)] = "long\n"
	for name, body := range want {
		os.MkdirAll(filepath.Join(work, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(work, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gittest.Run(t, work, "add", ".")
	gittest.Run(t, work, "commit", "-q", "-m", "many")
	gittest.Run(t, dir, "clone", "-q", "--bare", work, "repo.git")
	repo := filepath.Join(dir, "repo.git")
	if size, _ := strconv.Atoi(gittest.Run(t, repo, "cat-file", "-s", "main:d")); size < 40<<10 {
		t.Fatalf("tree of %d bytes, want one of tens of KiB", size)
	}
	files := tarFiles(t, repo, "main", archive.Options{})
	for name, body := range want {
		if got, ok := files[name]; !ok || string(got) != body {
			t.Errorf("%s: %q (present %v), want %q", name, got, ok, body)
		}
	}
	for name := range files {
		if _, ok := want[name]; !ok && strings.HasPrefix(name, "d/") && name != "d/" {
			t.Errorf("%s: not in the tree", name)
		}
	}
}
