package uploadpack_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// thinServer makes a server whose newest commit shortens a large file,
// repacked so that the new version is stored as a delta against the old
// one (git deltifies the smaller against the larger), and a bare clone
// "dst.git" of the commit before. It returns the new tip.
func thinServer(e *gitEnv) string {
	e.t.Helper()
	e.newServer()
	var big strings.Builder
	for i := range 400 {
		fmt.Fprintf(&big, "line %d of a file that deltas well against its next version\n", i)
	}
	e.commit("work", "big.txt", big.String())
	e.git("work", "push", "-q", "origin", "main")
	e.up("", "clone", "-q", "--bare", e.url("server.git"), "dst.git")
	e.wantResults(1)
	e.commit("work", "big.txt", strings.Replace(big.String(), "line 200 of", "", 1))
	e.git("work", "push", "-q", "origin", "main")
	e.git("server.git", "repack", "-adfq")
	return strings.TrimSpace(e.git("server.git", "rev-parse", "main"))
}

var totalDeltaRE = regexp.MustCompile(`remote: Total (\d+) \(delta (\d+)\)`)

// TestFetchThin checks that a client asking for a thin pack gets the new
// version of a file as a delta against the version it has, which it
// completes from its own objects, in both protocol versions.
func TestFetchThin(t *testing.T) {
	for _, proto := range protocols {
		t.Run("v"+proto, func(t *testing.T) {
			e := newGitEnv(t)
			tip := thinServer(e)
			// unpackLimit=1: index-pack, which says how many local
			// objects completed the pack.
			unpackLimit := []string{"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=fetch.unpackLimit", "GIT_CONFIG_VALUE_0=1"}
			_, stderr, err := e.upV(proto, "dst.git", unpackLimit, "fetch", "origin", "+refs/heads/*:refs/heads/*")
			if err != nil {
				t.Fatalf("fetch: %v\n%s", err, stderr)
			}
			e.wantResults(1)
			m := totalDeltaRE.FindStringSubmatch(stderr)
			if m == nil {
				t.Fatalf("no \"remote: Total N (delta M)\" in:\n%s", stderr)
			}
			if d, _ := strconv.Atoi(m[2]); d == 0 {
				t.Errorf("no deltas sent:\n%s", stderr)
			}
			if !regexp.MustCompile(`completed with [1-9]\d* local object`).MatchString(stderr) {
				t.Errorf("the pack was not thin:\n%s", stderr)
			}
			e.git("dst.git", "fsck", "--full", "--strict")
			if got := strings.TrimSpace(e.git("dst.git", "rev-parse", "main")); got != tip {
				t.Errorf("main is %s on the client, want %s", got, tip)
			}
		})
	}
}

// TestFetchNotThin checks that a client that did not ask for a thin pack
// gets a complete one: git fetch-pack without --thin indexes the pack
// without completing it, which fails on a delta against a missing base.
func TestFetchNotThin(t *testing.T) {
	for _, proto := range protocols {
		t.Run("v"+proto, func(t *testing.T) {
			e := newGitEnv(t)
			tip := thinServer(e)
			_, stderr, err := e.run("dst.git", nil, "-c", "protocol.version="+proto, "-c", "fetch.unpackLimit=1",
				"fetch-pack", "--upload-pack="+e.exe, "-k", e.url("server.git"), "refs/heads/main")
			if err != nil {
				t.Fatalf("fetch-pack: %v\n%s", err, stderr)
			}
			e.wantResults(1)
			if strings.Contains(stderr, "local object") {
				t.Errorf("the pack was thin:\n%s", stderr)
			}
			e.git("dst.git", "update-ref", "refs/heads/main", tip)
			e.git("dst.git", "fsck", "--full", "--strict")
		})
	}
}
