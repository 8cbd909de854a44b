package uploadpack_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"gatehouse/repos/pktline"
)

// upV runs a git command against our upload-pack with the protocol
// version forced.
func (e *gitEnv) upV(proto, dir string, env []string, args ...string) (string, string, error) {
	full := []string{"-c", "protocol.version=" + proto, args[0], "--upload-pack=" + e.exe}
	if args[0] == "clone" || args[0] == "fetch" {
		full = append(full, "--progress")
	}
	return e.run(dir, env, append(full, args[1:]...)...)
}

// refV runs the same command against git's own upload-pack.
func (e *gitEnv) refV(proto, dir string, args ...string) (string, string, error) {
	full := []string{"-c", "protocol.version=" + proto, args[0]}
	if args[0] == "clone" || args[0] == "fetch" {
		full = append(full, "--progress")
	}
	return e.run(dir, nil, append(full, args[1:]...)...)
}

var protocols = []string{"0", "2"}

// TestV2Wire checks a v2 client is answered in v2: the capability
// advertisement, ls-refs and fetch, and nothing of v0.
func TestV2Wire(t *testing.T) {
	e := newGitEnv(t)
	newTaggedServer(e)
	trace := e.path("trace")
	_, stderr, err := e.upV("2", "", []string{"GIT_TRACE_PACKET=" + trace}, "clone", e.url("server.git"), "dst")
	if err != nil {
		t.Fatalf("clone: %v\n%s", err, stderr)
	}
	e.wantResults(1)
	b, _ := os.ReadFile(trace)
	// With sideband-all the answer's lines ride on channel 1 ("\1").
	b = bytes.ReplaceAll(b, []byte(`\1`), nil)
	for _, want := range []string{"< version 2", "< ls-refs=unborn", "< fetch=shallow wait-for-done filter sideband-all", "> sideband-all",
		"< agent=gatehouse/test", "> command=ls-refs", "> command=fetch", "< packfile"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("no %q in the packet trace", want)
		}
	}
	e.git("dst", "fsck", "--full", "--strict")
	format := "--format=%(objectname) %(refname)"
	if got, want := e.git("dst", "for-each-ref", format, "refs/tags"), e.git("server.git", "for-each-ref", format, "refs/tags"); got != want {
		t.Errorf("tags:\n%s\nserver:\n%s", got, want)
	}
}

// TestLsRefs compares ls-remote (symrefs, peeled tags, prefixes) with
// git's own upload-pack in v2.
func TestLsRefs(t *testing.T) {
	e := newGitEnv(t)
	newTaggedServer(e)
	e.git("server.git", "pack-refs", "--all")
	e.git("work", "tag", "-a", "-m", "loose", "v3")
	e.git("work", "push", "-q", "origin", "v3")
	for _, args := range [][]string{
		{"ls-remote", "--symref", e.url("server.git")},
		{"ls-remote", "--tags", e.url("server.git")},
		{"ls-remote", e.url("server.git"), "refs/heads/*"},
		{"ls-remote", e.url("server.git"), "HEAD"},
	} {
		got, stderr, err := e.upV("2", "", nil, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr)
		}
		e.wantResults(1)
		want, _, err := e.refV("2", "", args...)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%v:\n%s\nwant (git upload-pack):\n%s", args[:2], got, want)
		}
	}
}

// TestV2Unborn: cloning an empty repository in v2 learns the default
// branch from "unborn HEAD".
func TestV2Unborn(t *testing.T) {
	e := newGitEnv(t)
	e.git("", "init", "-q", "--bare", "-b", "trunk", "empty.git")
	// The client's own default would be "other": only the server's
	// "unborn HEAD symref-target:refs/heads/trunk" can make it trunk.
	_, stderr, err := e.run("", nil, "-c", "init.defaultBranch=other", "-c", "protocol.version=2", "clone",
		"--upload-pack="+e.exe, e.url("empty.git"), "dst")
	if err != nil {
		t.Fatalf("clone: %v\n%s", err, stderr)
	}
	e.wantResults(1)
	if head := strings.TrimSpace(e.git("dst", "symbolic-ref", "HEAD")); head != "refs/heads/trunk" {
		t.Errorf("clone of an empty repository has HEAD %s, want refs/heads/trunk", head)
	}
}

// TestV2Negotiation: a fetch after both sides moved on negotiates over
// several rounds and sends only what is new.
func TestV2Negotiation(t *testing.T) {
	e := newGitEnv(t)
	e.newServer()
	e.commits("work", "a.txt", 50)
	e.git("work", "push", "-q", "origin", "main")
	e.up("", "clone", e.url("server.git"), "dst")
	e.takeResults()
	// The client grows its own history, so it has many haves to offer
	// that the server does not know.
	e.commits("dst", "mine.txt", 100)
	e.commits("work", "a.txt", 3)
	e.git("work", "push", "-q", "origin", "main")
	trace := e.path("trace")
	_, stderr, err := e.upV("2", "dst", []string{"GIT_TRACE_PACKET=" + trace}, "fetch", "origin")
	if err != nil {
		t.Fatalf("fetch: %v\n%s", err, stderr)
	}
	b, _ := os.ReadFile(trace)
	b = bytes.ReplaceAll(b, []byte(`\1`), nil)
	for _, want := range []string{"< acknowledgments", "< ACK ", "< ready", "< packfile"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("no %q in the packet trace:\n%s", want, b)
		}
	}
	// 3 commits, 3 trees, 3 blobs.
	if n := total(t, stderr); n != 9 {
		t.Errorf("fetch sent %d objects, want 9", n)
	}
	e.git("dst", "fsck", "--full", "--strict")
	if got, want := e.git("dst", "rev-parse", "origin/main"), e.git("server.git", "rev-parse", "main"); got != want {
		t.Errorf("origin/main %s, server main %s", got, want)
	}
}

// TestShallowModes runs every shallow mode in both protocols and compares
// the client's history and boundary with what git's own upload-pack gives.
func TestShallowModes(t *testing.T) {
	for _, proto := range protocols {
		t.Run("protocol.version="+proto, func(t *testing.T) {
			e := newGitEnv(t)
			e.newServer()
			e.commits("work", "history.txt", 10)
			e.git("work", "tag", "old")
			e.commits("work", "history.txt", 10)
			e.git("work", "checkout", "-q", "-b", "side", "HEAD~5")
			e.commits("work", "side.txt", 4)
			e.git("work", "checkout", "-q", "main")
			e.git("work", "merge", "-q", "--no-ff", "-m", "merge side", "side")
			e.git("work", "push", "-q", "origin", "main", "side", "old")
			since := strings.TrimSpace(e.git("work", "log", "-1", "--format=%ct", "main~6"))

			step := func(name string, args ...string) {
				t.Helper()
				dir := "ours"
				if args[0] == "clone" {
					dir = "."
				}
				_, stderr, err := e.upV(proto, dir, nil, args...)
				if err != nil {
					t.Fatalf("%s: %v\n%s", name, err, stderr)
				}
				e.wantResults(1)
				if args[0] == "clone" {
					args = append(args[:len(args)-1:len(args)-1], "ref")
				} else {
					dir = "ref"
				}
				if _, refStderr, err := e.refV(proto, dir, args...); err != nil {
					t.Fatalf("%s with git upload-pack: %v\n%s", name, err, refStderr)
				}
				for _, a := range [][]string{{"rev-list", "--all"}, {"rev-parse", "--is-shallow-repository"}} {
					if got, want := e.git("ours", a...), e.git("ref", a...); got != want {
						t.Errorf("%s: git %s:\n%s\nwith git upload-pack:\n%s", name, strings.Join(a, " "), got, want)
					}
				}
				got, _ := os.ReadFile(e.path("ours/.git/shallow"))
				want, _ := os.ReadFile(e.path("ref/.git/shallow"))
				if !sameLines(string(got), string(want)) {
					t.Errorf("%s: shallow boundary:\n%s\nwith git upload-pack:\n%s", name, got, want)
				}
				e.git("ours", "fsck", "--strict")
			}
			step("clone --shallow-since", "clone", "--no-single-branch", "--shallow-since="+since, e.url("server.git"), "ours")
			step("fetch --deepen 2", "fetch", "--deepen=2", "origin")
			step("fetch --depth 3", "fetch", "--depth=3", "origin")
			step("fetch --shallow-exclude", "fetch", "--shallow-exclude=old", "origin")
			e.commits("work", "history.txt", 2)
			e.git("work", "push", "-q", "origin", "main")
			step("fetch into a shallow clone", "fetch", "origin")
			step("fetch --unshallow", "fetch", "--unshallow", "origin")
			e.git("ours", "fsck", "--full", "--strict")
			os.RemoveAll(e.path("ours"))
			os.RemoveAll(e.path("ref"))
			step("clone --shallow-exclude", "clone", "--shallow-exclude=side", e.url("server.git"), "ours")
		})
	}
}

// TestShallowErrors: requests git refuses are refused with a readable
// line, not a hang.
func TestShallowErrors(t *testing.T) {
	for _, proto := range protocols {
		t.Run("protocol.version="+proto, func(t *testing.T) {
			e := newGitEnv(t)
			e.newServer()
			_, stderr, err := e.upV(proto, "", nil, "clone", "--shallow-exclude=nosuchref", e.url("server.git"), "a")
			if err == nil || !strings.Contains(stderr, "deepen-not is not a ref: nosuchref") {
				t.Errorf("clone --shallow-exclude of a missing ref: %v\n%s", err, stderr)
			}
			_, stderr, err = e.upV(proto, "", nil, "clone", "--shallow-since=2100-01-01", e.url("server.git"), "b")
			if err == nil || !strings.Contains(stderr, "no commits selected for shallow requests") {
				t.Errorf("clone --shallow-since in the future: %v\n%s", err, stderr)
			}
		})
	}
}

// TestPartialClone clones with each filter in both protocols, checks the
// objects left out match git's own upload-pack, then checks out, which
// fetches the missing blobs by id through our upload-pack.
func TestPartialClone(t *testing.T) {
	for _, proto := range protocols {
		for _, filter := range []string{"blob:none", "blob:limit=1k", "tree:0", "tree:1"} {
			t.Run(fmt.Sprintf("protocol.version=%s/%s", proto, filter), func(t *testing.T) {
				e := newGitEnv(t)
				e.newServer()
				e.git("server.git", "config", "uploadpack.allowFilter", "true")
				e.git("server.git", "config", "uploadpack.allowAnySHA1InWant", "true")
				e.commit("work", "dir/sub/small.txt", "small\n")
				e.commit("work", "big.txt", strings.Repeat("big\n", 1000))
				e.commit("work", "dir/other.txt", "other\n")
				e.git("work", "push", "-q", "origin", "main")
				args := []string{"clone", "--no-checkout", "--filter=" + filter, e.url("server.git")}
				if _, stderr, err := e.upV(proto, "", nil, append(args, "ours")...); err != nil {
					t.Fatalf("clone: %v\n%s", err, stderr)
				}
				e.wantResults(1)
				if _, stderr, err := e.refV(proto, "", append(args, "ref")...); err != nil {
					t.Fatalf("clone with git upload-pack: %v\n%s", err, stderr)
				}
				missing := []string{"rev-list", "--objects", "--all", "--missing=print"}
				got, want := e.git("ours", missing...), e.git("ref", missing...)
				if !sameLines(got, want) {
					t.Errorf("objects and missing objects:\n%s\nwith git upload-pack:\n%s", got, want)
				}
				if !strings.Contains(got, "?") && filter != "blob:limit=1k" {
					t.Errorf("the filter left nothing out:\n%s", got)
				}
				// The lazy fetch runs our upload-pack again: clone does
				// not keep --upload-pack, the remote's config does.
				e.git("ours", "config", "remote.origin.uploadpack", e.exe)
				if _, stderr, err := e.run("ours", nil, "-c", "protocol.version="+proto, "checkout", "-q", "main"); err != nil {
					t.Fatalf("checkout (lazy fetch): %v\n%s", err, stderr)
				}
				lazy := e.takeResults()
				if len(lazy) == 0 {
					t.Errorf("checkout did not fetch through our upload-pack")
				}
				for _, r := range lazy {
					if r != "ok" {
						t.Errorf("lazy fetch: upload-pack said %s", r)
					}
				}
				if b, err := os.ReadFile(e.path("ours/big.txt")); err != nil || len(b) != 4000 {
					t.Errorf("big.txt after checkout: %d bytes, %v", len(b), err)
				}
				e.git("ours", "fsck", "--strict")
			})
		}
	}
}

// readUntilFlush reads pkt-lines up to a flush and returns them; a delimiter
// is shown as "0001".
func (c *rawConn) readUntilFlush() []string {
	c.t.Helper()
	var lines []string
	for {
		kind, line := c.read()
		switch kind {
		case pktline.FlushPkt:
			return lines
		case pktline.DelimPkt:
			line = "0001"
		}
		lines = append(lines, line)
	}
}

// TestV2Raw speaks v2 by hand: several commands on one connection,
// wait-for-done, and the refusals real git never provokes.
func TestV2Raw(t *testing.T) {
	e := newGitEnv(t)
	newTaggedServer(e)
	main := strings.TrimSpace(e.git("server.git", "rev-parse", "main"))
	parent := strings.TrimSpace(e.git("server.git", "rev-parse", "main~1"))
	v1 := strings.TrimSpace(e.git("server.git", "rev-parse", "v1"))
	v1peeled := strings.TrimSpace(e.git("server.git", "rev-parse", "v1^{}"))
	v2env := "GIT_PROTOCOL=version=2"

	c, caps := e.dialEnv("server.git", v2env)
	if caps[0] != "version 2" || !slices.Contains(caps, "fetch=shallow wait-for-done filter sideband-all") {
		t.Fatalf("capabilities: %q", caps)
	}
	c.send("command=ls-refs", "agent=test", "object-format=sha1")
	c.w.Delim()
	c.send("peel", "symrefs", "ref-prefix HEAD", "ref-prefix refs/tags/v1", "")
	got := c.readUntilFlush()
	want := []string{main + " HEAD symref-target:refs/heads/main", v1 + " refs/tags/v1 peeled:" + v1peeled}
	if !slices.Equal(got, want) {
		t.Errorf("ls-refs:\n%q\nwant\n%q", got, want)
	}
	// The same connection serves a fetch: with wait-for-done there is no
	// "ready", however much is common.
	c.send("command=fetch")
	c.w.Delim()
	c.send("want "+main, "have "+parent, "wait-for-done", "")
	got = c.readUntilFlush()
	if want := []string{"acknowledgments", "ACK " + parent}; !slices.Equal(got, want) {
		t.Errorf("fetch with wait-for-done:\n%q\nwant\n%q", got, want)
	}
	c.send("command=fetch")
	c.w.Delim()
	c.send("want "+main, "have "+parent, "done", "no-progress", "")
	if _, line := c.read(); line != "packfile" {
		t.Errorf("after done: %q, want packfile", line)
	}
	c.in.Close()
	io.Copy(io.Discard, c.out)
	if err := c.cmd.Wait(); err != nil {
		t.Errorf("upload-pack: %v", err)
	}
	e.wantResults(1)

	if err := os.WriteFile(e.path("dangling.txt"), []byte("no ref reaches this\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dangling := strings.TrimSpace(e.git("server.git", "hash-object", "-w", e.path("dangling.txt")))
	for _, tc := range []struct {
		name  string
		lines []string // "0001" is a delimiter
		want  string
	}{
		{"unknown command", []string{"command=push", "0001", ""}, "ERR upload-pack: invalid command 'push'"},
		{"sha256", []string{"command=ls-refs", "object-format=sha256", "0001", ""}, "ERR upload-pack: unsupported object format 'sha256'"},
		{"unknown argument", []string{"command=ls-refs", "0001", "bogus", ""}, "ERR upload-pack: unexpected line: 'bogus'"},
		{"unreachable want", []string{"command=fetch", "0001", "want " + dangling, "done", ""}, "ERR upload-pack: not our ref " + dangling},
		{"filter", []string{"command=fetch", "0001", "want " + main, "filter sparse:oid=x", ""}, "ERR upload-pack: filter 'sparse:oid=x' not supported (use blob:none, blob:limit=N or tree:N)"},
		{"no command", []string{"agent=x", ""}, "ERR upload-pack: expected a command, got 'agent=x'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := e.dialEnv("server.git", v2env)
			for _, l := range tc.lines {
				if l == "0001" {
					c.w.Delim()
				} else {
					c.send(l)
				}
			}
			if _, line := c.read(); line != tc.want {
				t.Errorf("got %q, want %q", line, tc.want)
			}
			if err := c.wait(); err == nil {
				t.Errorf("upload-pack succeeded after refusing")
			}
			e.takeResults()
		})
	}
}

// TestV2IncludeTag: a v2 fetch gets a new annotated tag on a fetched
// commit in the same pack (one upload-pack run, not a second fetch).
func TestV2IncludeTag(t *testing.T) {
	e := newGitEnv(t)
	e.newServer()
	e.up("", "clone", e.url("server.git"), "dst")
	e.wantResults(1)
	e.commit("work", "c.txt", "c\n")
	e.git("work", "tag", "-a", "-m", "release", "v9")
	e.git("work", "push", "-q", "origin", "main", "v9")
	trace := e.path("trace")
	_, stderr, err := e.upV("2", "dst", []string{"GIT_TRACE_PACKET=" + trace}, "fetch", "origin")
	if err != nil {
		t.Fatalf("fetch: %v\n%s", err, stderr)
	}
	e.wantResults(1)
	if b, _ := os.ReadFile(trace); !bytes.Contains(b, []byte("fetch> include-tag")) {
		t.Errorf("the client did not ask for include-tag")
	}
	if !strings.Contains(stderr, "[new tag]") {
		t.Errorf("the tag did not come:\n%s", stderr)
	}
	if s, c := e.git("server.git", "rev-parse", "v9"), e.git("dst", "rev-parse", "v9"); s != c {
		t.Errorf("v9 is %s on the client, %s on the server", c, s)
	}
	e.git("dst", "fsck", "--full", "--strict")
}
