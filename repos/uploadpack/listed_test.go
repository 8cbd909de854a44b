package uploadpack_test

import (
	"strings"
	"testing"
)

// TestV2FetchWhatWasListed: a v2 client lists refs, then fetches the tips
// it saw. A push that moves a ref in between (here a force-push that
// leaves the old tip reachable from nothing) must not turn that fetch into
// "not our ref": the session advertised the tip, as a v0 advertisement
// does for its one fetch. An id the session never showed and no ref
// reaches is still refused.
func TestV2FetchWhatWasListed(t *testing.T) {
	e := newGitEnv(t)
	e.newServer()
	e.commit("work", "second.txt", "2\n")
	e.git("work", "push", "-q", "origin", "main")
	listed := strings.TrimSpace(e.git("server.git", "rev-parse", "main"))
	base := strings.TrimSpace(e.git("server.git", "rev-parse", "main~1"))

	c, _ := e.dialEnv("server.git", "GIT_PROTOCOL=version=2")
	c.send("command=ls-refs", "object-format=sha1")
	c.w.Delim()
	c.send("ref-prefix refs/heads/", "")
	if got := c.readUntilFlush(); len(got) != 1 || got[0] != listed+" refs/heads/main" {
		t.Fatalf("ls-refs: %q", got)
	}
	// A force-push lands: main goes back, nothing reaches the listed tip.
	e.git("server.git", "update-ref", "refs/heads/main", base)

	c.send("command=fetch")
	c.w.Delim()
	c.send("want "+listed, "done", "no-progress", "")
	if _, line := c.read(); line != "packfile" {
		t.Fatalf("fetch of a listed tip: %q, want packfile", line)
	}
	c.in.Close()

	// A fresh session never showed it: refused like any unreachable id.
	c, _ = e.dialEnv("server.git", "GIT_PROTOCOL=version=2")
	c.send("command=fetch")
	c.w.Delim()
	c.send("want "+listed, "done", "")
	if _, line := c.read(); line != "ERR upload-pack: not our ref "+listed {
		t.Errorf("fetch of an id this session never showed: %q", line)
	}
}

// TestLsRefsPrefixBytesBounded: what a client's ref-prefix lines hold is
// bounded. A prefix longer than any ref name matches nothing, as it
// should, without being kept whole; prefixes past maxRefPrefixBytes in
// all are dropped and every ref is listed, as git does past its count of
// prefixes, which is never wrong, only longer.
func TestLsRefsPrefixBytesBounded(t *testing.T) {
	e := newGitEnv(t)
	e.newServer()
	main := strings.TrimSpace(e.git("server.git", "rev-parse", "main"))
	long := "ref-prefix refs/heads/" + strings.Repeat("x", 2000)
	for _, tc := range []struct {
		prefixes int
		want     []string
	}{
		{10, nil}, // each matches nothing
		{5000, []string{main + " HEAD", main + " refs/heads/main"}}, // over 4 MiB held: all refs
	} {
		c, _ := e.dialEnv("server.git", "GIT_PROTOCOL=version=2")
		c.send("command=ls-refs", "object-format=sha1")
		c.w.Delim()
		for range tc.prefixes {
			c.send(long)
		}
		c.send("")
		if got := c.readUntilFlush(); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%d long prefixes: ls-refs %q, want %q", tc.prefixes, got, tc.want)
		}
		c.in.Close()
	}
}
