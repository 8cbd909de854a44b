package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	main "gatehouse/cmd/gatehouse"
)

// manyRefs makes a working repository with two commits on main and n
// more refs, a third each under refs/heads/, refs/tags/ and
// refs/pull/N/head, written straight into packed-refs (git update-ref
// would take longer than the push). It returns the repository and git's
// own listing of its refs, "id name" lines.
func manyRefs(tb testing.TB, n int) (dir string, want []string) {
	tb.Helper()
	dir = Work(tb, "main", 2)
	ids := []string{run(tb, dir, "git", "rev-parse", "HEAD~1"), run(tb, dir, "git", "rev-parse", "HEAD")}
	var lines []string
	for i := range n {
		var name string
		switch i % 3 {
		case 0:
			name = fmt.Sprintf("refs/heads/topic/b%05d", i)
		case 1:
			name = fmt.Sprintf("refs/tags/v%05d", i)
		default:
			name = fmt.Sprintf("refs/pull/%d/head", i)
		}
		lines = append(lines, ids[i%2]+" "+name)
	}
	slices.SortFunc(lines, func(a, b string) int { return strings.Compare(a[41:], b[41:]) })
	packed := "# pack-refs with: peeled fully-peeled sorted \n" + strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, ".git", "packed-refs"), []byte(packed), 0o644); err != nil {
		tb.Fatal(err)
	}
	want = strings.Split(run(tb, dir, "git", "for-each-ref", "--format=%(objectname) %(refname)"), "\n")
	if len(want) != n+1 {
		tb.Fatalf("made %d refs, want %d", len(want), n+1)
	}
	return dir, want
}

// TestPushMirrorManyRefs: a mirror push of 20,000 refs goes in whole, in
// one push, and the server holds every one of them with its id.
func TestPushMirrorManyRefs(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/big")
	work, want := manyRefs(t, 20000)

	s.MustGit(alice, work, "push", "--quiet", "--mirror", s.URL("alice/big"))

	// What the server holds, as git itself reads it.
	got := strings.Split(run(t, s.RepoDir("alice/big"), "git", "for-each-ref", "--format=%(objectname) %(refname)"), "\n")
	if len(got) != len(want) {
		t.Fatalf("server holds %d refs, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("server ref %d = %q, want %q", i, got[i], want[i])
		}
	}
	s.Fsck("alice/big")
	// And what clients are shown, in both protocols.
	for _, proto := range []string{"2", "0"} {
		// stdout apart from stderr: ssh makes its stderr non-blocking,
		// which would make git's writes to a shared pipe lose data.
		cmd := exec.Command("git", "-c", "protocol.version="+proto, "ls-remote", s.URL("alice/big"))
		cmd.Dir, cmd.Env = work, s.gitEnv(alice)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.Output()
		if err != nil {
			t.Fatalf("ls-remote v%s: %v\n%s", proto, err, stderr.String())
		}
		out := string(stdout)
		var listed []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			id, name, _ := strings.Cut(l, "\t")
			if name != "HEAD" {
				listed = append(listed, id+" "+name)
			}
		}
		if len(listed) != len(want) {
			t.Fatalf("ls-remote v%s lists %d refs, want %d", proto, len(listed), len(want))
		}
		for i := range want {
			if listed[i] != want[i] {
				t.Fatalf("ls-remote v%s ref %d = %q, want %q", proto, i, listed[i], want[i])
			}
		}
	}
	// So many new refs go straight into packed-refs; once any repack the
	// push started is over, no loose ref and no lock file is left behind.
	var locks, loose []string
	for deadline := time.Now().Add(5 * time.Minute); ; {
		locks, loose = nil, nil
		filepath.WalkDir(s.RepoDir("alice/big"), func(p string, d os.DirEntry, err error) error {
			switch {
			case err != nil:
			case strings.HasSuffix(p, ".lock"):
				locks = append(locks, p)
			case !d.IsDir() && strings.Contains(p, "/refs/"):
				loose = append(loose, p)
			}
			return nil
		})
		if len(locks)+len(loose) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(locks) > 0 {
		t.Fatalf("lock files left: %v", locks)
	}
	if len(loose) > 0 {
		t.Fatalf("%d loose refs left after the repack, e.g. %s", len(loose), loose[0])
	}
	if got := strings.Split(run(t, s.RepoDir("alice/big"), "git", "for-each-ref", "--format=%(objectname) %(refname)"), "\n"); !slices.Equal(got, want) {
		t.Fatalf("refs changed by the repack")
	}
	s.Fsck("alice/big")
}

// TestPushOverMaxRefUpdates: a push of more refs than --max-ref-updates
// is refused whole, the client is told why (not "hung up"), and nothing
// changes.
func TestPushOverMaxRefUpdates(t *testing.T) {
	s := MustRunMain(t, func(c *main.Config) { c.MaxRefUpdates = 100 })
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/r")
	work, _ := manyRefs(t, 150)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main~1:refs/heads/main")
	before := run(t, s.RepoDir("alice/r"), "git", "for-each-ref", "--format=%(objectname) %(refname)")
	objects := run(t, s.RepoDir("alice/r"), "git", "count-objects", "-v")

	out, err := s.Git(alice, work, "push", "--mirror", s.URL("alice/r"))
	if err == nil {
		t.Fatalf("push of 151 refs went through:\n%s", out)
	}
	if !strings.Contains(out, "push has more than 100 ref updates (--max-ref-updates)") || strings.Contains(out, "hung up") {
		t.Fatalf("client output:\n%s", out)
	}
	if got := run(t, s.RepoDir("alice/r"), "git", "for-each-ref", "--format=%(objectname) %(refname)"); got != before {
		t.Fatalf("refs changed:\n%s\nwant\n%s", got, before)
	}
	if got := run(t, s.RepoDir("alice/r"), "git", "count-objects", "-v"); got != objects {
		t.Fatalf("objects changed:\n%s\nwant\n%s", got, objects)
	}
	s.Fsck("alice/r")

	// Within the limit the same client gets through.
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main", "refs/tags/v00001")
}
