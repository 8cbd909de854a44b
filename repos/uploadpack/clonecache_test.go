package uploadpack_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cachedPacks lists the full-clone packs cached in the repository.
func cachedPacks(t *testing.T, e *gitEnv) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(e.path("server.git"), "gatehouse-cache", "clone-*.pack"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCloneCache(t *testing.T) {
	e := newGitEnv(t)
	e.newServer()
	e.commits("work", "a.txt", 30)
	e.git("work", "tag", "-a", "-m", "v1", "v1")
	e.git("work", "push", "-q", "origin", "main", "v1")

	clone := func(name string, extra ...string) string {
		t.Helper()
		_, errOut := e.up("", append(append([]string{"clone", "--bare", "-q"}, extra...), e.url("server.git"), name)...)
		e.git(name, "fsck", "--full", "--strict")
		return errOut
	}
	clone("c1")
	if n := len(cachedPacks(t, e)); n != 1 {
		t.Fatalf("%d cached packs after a clone, want 1", n)
	}
	before := e.git("c1", "for-each-ref")
	clone("c2")
	if got := e.git("c2", "for-each-ref"); got != before {
		t.Fatalf("refs of the cached clone differ:\n%s\nwant\n%s", got, before)
	}
	if n := len(cachedPacks(t, e)); n != 1 {
		t.Fatalf("%d cached packs after a second clone, want 1", n)
	}

	// A client without ofs-delta gets a pack of its own.
	_, _, err := e.run("", nil, "-c", "protocol.version=0", "-c", "repack.useDeltaBaseOffset=false", "clone", "--bare", "-q", "--upload-pack="+e.exe, e.url("server.git"), "c3")
	if err != nil {
		t.Fatal(err)
	}
	e.git("c3", "fsck", "--full")

	// New tips: the old entry must not be served.
	e.commits("work", "b.txt", 3)
	e.git("work", "push", "-q", "origin", "main")
	clone("c4")
	want := strings.TrimSpace(e.git("work", "rev-parse", "main"))
	if got := strings.TrimSpace(e.git("c4", "rev-parse", "main")); got != want {
		t.Fatalf("clone after a push has main at %s, want %s", got, want)
	}

	// A damaged entry is never accepted, and is dropped.
	for _, p := range cachedPacks(t, e) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.takeResults()
	if _, _, err := e.upRun("", nil, "clone", "--bare", "-q", e.url("server.git"), "c5"); err == nil {
		t.Fatal("a clone from a damaged cached pack succeeded")
	}
	e.takeResults()
	clone("c6")
	if got := strings.TrimSpace(e.git("c6", "rev-parse", "main")); got != want {
		t.Fatalf("clone after damage has main at %s, want %s", got, want)
	}
}

// TestCloneCacheConcurrent clones the same tips at once, with nothing
// cached: every clone gets a whole pack, and the cache ends with one
// entry and no temporary files.
func TestCloneCacheConcurrent(t *testing.T) {
	e := newGitEnv(t)
	e.newServer()
	e.commits("work", "a.txt", 40)
	e.git("work", "push", "-q", "origin", "main")
	const n = 6
	env := e.environ() // once: environ moves the clock
	errs := make(chan error, n)
	for i := range n {
		go func() {
			cmd := exec.Command("git", "-c", "protocol.version=2", "clone", "--bare", "-q", "--upload-pack="+e.exe, e.url("server.git"), e.path(fmt.Sprintf("cc%d", i)))
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				err = fmt.Errorf("clone %d: %v\n%s", i, err, out)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		return
	}
	for i := range n {
		e.git(fmt.Sprintf("cc%d", i), "fsck", "--full", "--strict")
	}
	if got := len(cachedPacks(t, e)); got != 1 {
		t.Errorf("%d cached packs, want 1", got)
	}
	tmps, _ := filepath.Glob(filepath.Join(e.path("server.git"), "gatehouse-cache", "tmp-*"))
	if len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
}
