package uploadpack_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

func TestCloneEmpty(t *testing.T) {
	e := newGitEnv(t)
	e.git("", "init", "-q", "--bare", "-b", "main", "empty.git")
	_, stderr := e.up("", "clone", e.url("empty.git"), "dst")
	if !strings.Contains(stderr, "You appear to have cloned an empty repository") {
		t.Errorf("clone of an empty repository said:\n%s", stderr)
	}
	e.wantResults(1)
	if out := e.git("dst", "rev-parse", "--git-dir"); strings.TrimSpace(out) != ".git" {
		t.Errorf("clone is not a repository: %q", out)
	}
}

func TestClone(t *testing.T) {
	for _, proto := range []string{"0", "2"} {
		t.Run("protocol.version="+proto, func(t *testing.T) {
			e := newGitEnv(t)
			e.newServer()
			e.commit("work", "dir/a.txt", "a\n")
			e.commit("work", "dir/sub/b.txt", "b\n")
			e.git("work", "checkout", "-q", "-b", "topic")
			e.commit("work", "topic.txt", "topic\n")
			e.git("work", "checkout", "-q", "main")
			e.commit("work", "dir/a.txt", "a2\n")
			e.git("work", "merge", "-q", "--no-ff", "-m", "merge topic", "topic")
			// Big objects: many side-band packets, go-git's streamed
			// large objects, and a delta between two versions.
			big := make([]byte, 3<<20)
			rand.NewChaCha8([32]byte{1}).Read(big)
			e.commit("work", "big.bin", string(big))
			big[100] ^= 0xff
			e.commit("work", "big.bin", string(big))
			e.git("work", "push", "-q", "origin", "main", "topic")

			// A client asking for v2 is answered in v0, which it accepts.
			_, stderr, err := e.run("", nil, "-c", "protocol.version="+proto, "clone", "--progress",
				"--upload-pack="+e.exe, e.url("server.git"), "dst")
			if err != nil {
				t.Fatalf("clone: %v\n%s", err, stderr)
			}
			e.wantResults(1)
			for _, want := range []string{"remote: Enumerating objects: ", "remote: Total "} {
				if !strings.Contains(stderr, want) {
					t.Errorf("no %q in the client's stderr:\n%s", want, stderr)
				}
			}
			if got, want := total(t, stderr), countLines(e.git("server.git", "rev-list", "--objects", "--all")); got != want {
				t.Errorf("clone got %d objects, the repository has %d", got, want)
			}
			e.git("dst", "fsck", "--full", "--strict")
			server := e.git("server.git", "for-each-ref", "--format=%(objectname) %(refname:lstrip=2)", "refs/heads")
			client := e.git("dst", "for-each-ref", "--format=%(objectname) %(refname:lstrip=3)", "refs/remotes/origin")
			client = dropLines(client, " HEAD")
			if !sameLines(server, client) {
				t.Errorf("branches differ:\nserver:\n%s\nclient:\n%s", server, client)
			}
			if head := strings.TrimSpace(e.git("dst", "symbolic-ref", "HEAD")); head != "refs/heads/main" {
				t.Errorf("clone HEAD = %s, want refs/heads/main (from symref)", head)
			}
		})
	}
}

// dropLines removes the lines ending in suffix.
func dropLines(s, suffix string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasSuffix(l, suffix) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// sameLines compares two line lists, ignoring order and blank lines.
func sameLines(a, b string) bool {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		if l != "" {
			count[l]++
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if l != "" {
			count[l]--
		}
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

// newTaggedServer adds annotated, lightweight and nested tags, and tags of
// a tree and a blob, to a new server.
func newTaggedServer(e *gitEnv) {
	e.newServer()
	e.git("work", "tag", "light")
	e.git("work", "tag", "-a", "-m", "v1", "v1")
	e.commit("work", "b.txt", "b\n")
	e.git("work", "tag", "-a", "-m", "v2", "v2")
	e.git("work", "tag", "-a", "-m", "tag of v2", "v2-outer", "v2")
	e.git("work", "tag", "-a", "-m", "a tree", "tree-tag", "HEAD^{tree}")
	e.git("work", "tag", "-a", "-m", "a blob", "blob-tag", "HEAD:b.txt")
	e.git("work", "push", "-q", "origin", "main", "--tags")
}

func TestLsRemote(t *testing.T) {
	e := newGitEnv(t)
	newTaggedServer(e)
	// Packed refs carry peeled values; loose ones are peeled by reading.
	e.git("server.git", "pack-refs", "--all")
	e.git("work", "tag", "-a", "-m", "loose", "v3")
	e.git("work", "push", "-q", "origin", "v3")

	got, _ := e.up("", "ls-remote", e.url("server.git"))
	e.wantResults(1)
	// git's own upload-pack is the reference.
	want, _, err := e.run("", nil, "-c", "protocol.version=0", "ls-remote", e.url("server.git"))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("ls-remote:\n%s\nwant (git upload-pack):\n%s", got, want)
	}
}

func TestCloneTags(t *testing.T) {
	e := newGitEnv(t)
	newTaggedServer(e)
	e.up("", "clone", "--bare", e.url("server.git"), "dst.git")
	e.wantResults(1)
	e.git("dst.git", "fsck", "--full", "--strict")
	format := "--format=%(objectname) %(objecttype) %(refname) %(*objectname)"
	server := e.git("server.git", "for-each-ref", format, "refs/tags")
	client := e.git("dst.git", "for-each-ref", format, "refs/tags")
	if server != client {
		t.Errorf("tags differ:\nserver:\n%s\nclient:\n%s", server, client)
	}
	for _, tag := range []string{"light", "v1", "v2", "v2-outer"} {
		s := e.git("server.git", "rev-parse", tag+"^{}")
		c := e.git("dst.git", "rev-parse", tag+"^{}")
		if s != c {
			t.Errorf("%s^{} = %s on the client, %s on the server", tag, c, s)
		}
	}
}

func TestFetchIncremental(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		step int64 // how commit times move while the new commits are made
	}{
		{"1 commit", 1, 1},
		{"50 commits", 50, 1},
		{"50 commits, equal times", 50, 0},
		{"50 commits, times going backwards", 50, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newGitEnv(t)
			e.newServer()
			for i := 0; i < 20; i++ {
				e.commit("work", fmt.Sprintf("old/%d.txt", i), fmt.Sprint("old ", i))
			}
			e.git("work", "push", "-q", "origin", "main")
			e.up("", "clone", "--bare", e.url("server.git"), "dst.git")
			e.wantResults(1)
			old := strings.TrimSpace(e.git("server.git", "rev-parse", "main"))

			e.step = tc.step
			for i := 0; i < tc.n; i++ {
				e.commit("work", fmt.Sprintf("new/%d.txt", i%7), fmt.Sprint("new ", i))
			}
			e.git("work", "push", "-q", "origin", "main")
			before := countObjects(e, "dst.git")
			_, stderr := e.up("dst.git", "fetch", "origin", "+refs/heads/*:refs/heads/*")
			e.wantResults(1)
			want := countLines(e.git("server.git", "rev-list", "--objects", "main", "^"+old))
			if got := total(t, stderr); got != want {
				t.Errorf("fetch sent %d objects, want the %d new ones", got, want)
			}
			if got := countObjects(e, "dst.git") - before; got != want {
				t.Errorf("the client gained %d objects, want %d", got, want)
			}
			e.git("dst.git", "fsck", "--full", "--strict")
			if s, c := e.git("server.git", "rev-parse", "main"), e.git("dst.git", "rev-parse", "main"); s != c {
				t.Errorf("main is %s on the client, %s on the server", c, s)
			}
		})
	}
}

// countObjects is the number of objects in a repository, loose and packed.
func countObjects(e *gitEnv, dir string) int {
	e.t.Helper()
	n := 0
	for _, l := range strings.Split(e.git(dir, "count-objects", "-v"), "\n") {
		var v int
		if _, err := fmt.Sscanf(l, "count: %d", &v); err == nil {
			n += v
		}
		if _, err := fmt.Sscanf(l, "in-pack: %d", &v); err == nil {
			n += v
		}
	}
	return n
}

func TestFetchUpToDate(t *testing.T) {
	e := newGitEnv(t)
	e.newServer()
	e.up("", "clone", e.url("server.git"), "dst")
	_, stderr := e.up("dst", "fetch", "origin")
	e.wantResults(2)
	if strings.Contains(stderr, "remote:") {
		t.Errorf("up-to-date fetch got a pack:\n%s", stderr)
	}
}

// The client has commits the server does not, so it sends haves we must
// answer "not common" for, in rounds of 16 and more, before reaching the
// history we share. git's own upload-pack, given the same client, must
// answer the same ACKs and NAKs.
func TestFetchDiverged(t *testing.T) {
	for _, shared := range []int{10, 100, 1000} {
		t.Run(fmt.Sprintf("%d shared", shared), func(t *testing.T) {
			e := newGitEnv(t)
			e.newServer()
			e.commits("work", "shared.txt", shared)
			e.git("work", "push", "-q", "origin", "main")
			e.up("", "clone", e.url("server.git"), "dst")
			e.wantResults(1)
			base := strings.TrimSpace(e.git("server.git", "rev-parse", "main"))
			e.commits("dst", "local.txt", 40)
			e.commits("work", "server.txt", 5)
			e.git("work", "push", "-q", "origin", "main")
			e.git("", "clone", "-q", "--mirror", e.path("dst"), "ref.git")
			e.git("ref.git", "remote", "set-url", "origin", e.url("server.git"))
			e.git("ref.git", "config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*")

			trace := []string{"GIT_TRACE_PACKET=1"}
			_, stderr, err := e.upRun("dst", trace, "fetch", "origin")
			if err != nil {
				t.Fatalf("fetch: %v\n%s", err, stderr)
			}
			e.wantResults(1)
			if haves := strings.Count(stderr, "> have "); haves <= 16 {
				t.Errorf("client sent %d haves, the test wants more than 16", haves)
			}
			want := countLines(e.git("server.git", "rev-list", "--objects", "main", "^"+base))
			if got := total(t, stderr); got != want {
				t.Errorf("fetch sent %d objects, want the %d new ones", got, want)
			}
			e.git("dst", "fsck", "--full", "--strict")
			e.git("dst", "merge", "-q", "-m", "merge", "origin/main")

			_, refStderr, err := e.run("ref.git", trace, "-c", "protocol.version=0", "fetch", "origin")
			if err != nil {
				t.Fatalf("fetch from git upload-pack: %v\n%s", err, refStderr)
			}
			if got, want := acks(stderr), acks(refStderr); got != want {
				t.Errorf("server answers:\n%s\ngit upload-pack answers:\n%s", got, want)
			}
			if os.Getenv("UPLOADPACK_TRACE") != "" {
				t.Log(stderr)
			}
		})
	}
}

// acks picks the server's ACK and NAK lines out of a packet trace.
func acks(trace string) string {
	var out []string
	for _, l := range strings.Split(trace, "\n") {
		if _, after, ok := strings.Cut(l, "fetch< "); ok && (strings.HasPrefix(after, "ACK") || strings.HasPrefix(after, "NAK")) {
			out = append(out, after)
		}
	}
	return strings.Join(out, "\n")
}

// A new annotated tag on a new commit comes in the same pack
// (include-tag), so the client needs one conversation, not two.
func TestFetchIncludeTag(t *testing.T) {
	e := newGitEnv(t)
	e.newServer()
	e.up("", "clone", e.url("server.git"), "dst")
	e.wantResults(1)
	e.commit("work", "c.txt", "c\n")
	e.git("work", "tag", "-a", "-m", "release", "v9")
	e.git("work", "push", "-q", "origin", "main", "v9")

	_, stderr := e.up("dst", "fetch", "origin")
	e.wantResults(1)
	if !strings.Contains(stderr, "[new tag]") {
		t.Errorf("the tag did not come:\n%s", stderr)
	}
	if s, c := e.git("server.git", "rev-parse", "v9"), e.git("dst", "rev-parse", "v9"); s != c {
		t.Errorf("v9 is %s on the client, %s on the server", c, s)
	}
	e.git("dst", "fsck", "--full", "--strict")
}

// The client's commit H is dated before its parent X, which the server's
// new merge also reaches through another branch; the walk meets X as a
// candidate before learning from H that the client has it, and must then
// take back X's whole history, not send it.
func TestFetchSkewedMerge(t *testing.T) {
	e := newGitEnv(t)
	e.newServer()
	e.commits("work", "old.txt", 20)
	x := strings.TrimSpace(e.git("work", "rev-parse", "HEAD"))
	e.clock -= 100_000
	e.commit("work", "h.txt", "h\n")
	e.clock += 200_000
	h := strings.TrimSpace(e.git("work", "rev-parse", "HEAD"))
	e.git("work", "push", "-q", "origin", "main")
	e.up("", "clone", "--bare", e.url("server.git"), "dst.git")
	e.wantResults(1)

	e.git("work", "checkout", "-q", "-b", "side", x)
	e.commit("work", "z.txt", "z\n")
	e.git("work", "checkout", "-q", "main")
	e.git("work", "merge", "-q", "--no-ff", "-m", "merge side", "side")
	e.git("work", "push", "-q", "origin", "main")

	_, stderr := e.up("dst.git", "fetch", "origin", "+refs/heads/main:refs/heads/main")
	e.wantResults(1)
	want := countLines(e.git("server.git", "rev-list", "--objects", "main", "^"+h))
	if got := total(t, stderr); got != want {
		t.Errorf("fetch sent %d objects, want the %d new ones", got, want)
	}
	e.git("dst.git", "fsck", "--full", "--strict")
}

// Shallow clones and fetches: each step runs against our upload-pack and
// against git's own, and both clients must end up with the same shallow
// boundary and the same commits.
func TestShallow(t *testing.T) {
	e := newGitEnv(t)
	e.newServer()
	e.commits("work", "history.txt", 20)
	e.git("work", "push", "-q", "origin", "main")

	step := func(name string, clientArgs ...string) {
		t.Helper()
		dir := "."
		if clientArgs[0] != "clone" {
			dir = "ours"
		}
		_, stderr, err := e.upRun(dir, nil, clientArgs...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, stderr)
		}
		e.wantResults(1)
		if clientArgs[0] == "clone" {
			clientArgs = append(clientArgs[:len(clientArgs)-1], "ref")
		} else {
			dir = "ref"
		}
		refArgs := append([]string{"-c", "protocol.version=0", clientArgs[0], "--progress"}, clientArgs[1:]...)
		_, refStderr, err := e.run(dir, nil, refArgs...)
		if err != nil {
			t.Fatalf("%s with git upload-pack: %v\n%s", name, err, refStderr)
		}
		t.Logf("%s: ours %d, git %d", name, total(t, stderr), total(t, refStderr))
		for _, args := range [][]string{
			{"rev-list", "--all"},
			{"rev-parse", "--is-shallow-repository"},
		} {
			if got, want := e.git("ours", args...), e.git("ref", args...); got != want {
				t.Errorf("%s: git %s:\n%s\nwith git upload-pack:\n%s", name, strings.Join(args, " "), got, want)
			}
		}
		got, _ := os.ReadFile(e.path("ours/.git/shallow"))
		want, _ := os.ReadFile(e.path("ref/.git/shallow"))
		if !sameLines(string(got), string(want)) {
			t.Errorf("%s: shallow boundary:\n%s\nwith git upload-pack:\n%s", name, got, want)
		}
		e.git("ours", "fsck", "--strict")
	}

	step("clone --depth 1", "clone", "--depth", "1", e.url("server.git"), "ours")
	if n := strings.TrimSpace(e.git("ours", "rev-list", "--count", "HEAD")); n != "1" {
		t.Errorf("depth 1 clone has %s commits", n)
	}
	e.commits("work", "history.txt", 3)
	e.git("work", "push", "-q", "origin", "main")
	step("fetch into a shallow clone", "fetch", "origin")
	step("fetch --depth 10", "fetch", "--depth", "10", "origin")
	if n := strings.TrimSpace(e.git("ours", "rev-list", "--count", "origin/main")); n != "10" {
		t.Errorf("after fetch --depth 10, origin/main has %s commits", n)
	}
	step("fetch --depth 2", "fetch", "--depth", "2", "origin")
	step("fetch --unshallow", "fetch", "--unshallow", "origin")
	e.git("ours", "fsck", "--full", "--strict")
	if got, want := e.git("ours", "rev-list", "--count", "origin/main"), e.git("server.git", "rev-list", "--count", "main"); got != want {
		t.Errorf("unshallowed clone has %s commits, the server %s", got, want)
	}
}
