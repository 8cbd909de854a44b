package uploadpack_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gatehouse/repos/uploadpack"
)

// TestPushDuringSession: a push (its pack, its index, then the ref) or a
// push and a repack (a new pack, the old ones deleted) that lands after
// upload-pack opened the objects and before it read the refs is served
// whole: the new tip is advertised and its objects are found in the pack
// that came after the store was opened, while the packs deleted under
// the session still read. Both protocols; the hook makes the window
// certain.
func TestPushDuringSession(t *testing.T) {
	for _, repack := range []bool{false, true} {
		for _, proto := range protocols {
			name := "v" + proto + " push"
			if repack {
				name += " and repack"
			}
			t.Run(name, func(t *testing.T) {
				e := newGitEnv(t)
				e.newServer()
				e.commits("work", "history.txt", 5)
				e.git("work", "push", "-q", "origin", "main")
				// Pushes arrive as packs, as with our receive-pack; the
				// history so far is one pack the session opens.
				e.git("server.git", "config", "receive.unpackLimit", "1")
				e.git("server.git", "repack", "-adq")
				e.commit("work", "new.txt", "pushed while the session is open\n")
				tip := strings.TrimSpace(e.git("work", "rev-parse", "HEAD"))
				blob := strings.TrimSpace(e.git("work", "rev-parse", "HEAD:new.txt"))

				var hookErr []string
				calls := 0
				defer uploadpack.SetOpenedHook(func() {
					calls++
					if _, errOut, err := e.run("work", nil, "push", "-q", "origin", "main"); err != nil {
						hookErr = append(hookErr, "push: "+err.Error()+": "+errOut)
					}
					if repack {
						if _, errOut, err := e.run("server.git", nil, "repack", "-adq"); err != nil {
							hookErr = append(hookErr, "repack: "+err.Error()+": "+errOut)
						}
					}
				})()
				before, _ := filepath.Glob(e.path("server.git/objects/pack/*.pack"))

				var in, protocol string
				if proto == "2" {
					protocol = "version=2"
					in = script("command=fetch", "0001", "want "+tip, "ofs-delta", "no-progress", "done", "0000")
				} else {
					in = script("want "+tip+" ofs-delta no-progress", "0000", "done")
				}
				out, err := serveScript(t, e.path("server.git"), protocol, in)
				if calls != 1 || len(hookErr) > 0 {
					t.Fatalf("hook ran %d times: %q", calls, hookErr)
				}
				if err != nil {
					t.Fatalf("Serve: %v\n%q", err, out)
				}
				after, _ := filepath.Glob(e.path("server.git/objects/pack/*.pack"))
				if repack && slices.ContainsFunc(before, func(p string) bool { return slices.Contains(after, p) }) {
					t.Fatalf("the repack kept an old pack: %q then %q", before, after)
				}
				var pack []byte
				if proto == "2" {
					_, pack = splitV2(t, out)
				} else {
					_, pack = splitV0(t, out)
				}
				ids := packObjects(t, e, pack)
				if want := strings.Count(e.git("server.git", "rev-list", "--objects", tip), "\n"); len(ids) != want {
					t.Errorf("the pack holds %d objects, want %d", len(ids), want)
				}
				for _, id := range []string{tip, blob} {
					if !slices.Contains(ids, id) {
						t.Errorf("the pack lacks %s", id)
					}
				}
			})
		}
	}
}
