package fsck_test

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/gittest"
	"gatehouse/repos/fsck"
)

// bare makes a bare repository with a few commits on main (packed) and
// one more commit, with a new blob, on topic (loose), and returns its
// path and the topic blob's id.
func bare(t *testing.T) (string, string) {
	t.Helper()
	work := t.TempDir()
	gittest.Run(t, work, "init", "-q", "-b", "main")
	for i := range 3 {
		os.WriteFile(filepath.Join(work, "f.txt"), []byte(strings.Repeat("line\n", i+1)), 0o644)
		os.MkdirAll(filepath.Join(work, "dir", "sub"), 0o755)
		os.WriteFile(filepath.Join(work, "dir", "sub", "g.txt"), []byte{byte('a' + i)}, 0o644)
		gittest.Run(t, work, "add", "-A")
		gittest.Run(t, work, "commit", "-q", "-m", "c")
	}
	gittest.Run(t, work, "tag", "-a", "-m", "v1", "v1")
	dir := filepath.Join(t.TempDir(), "r.git")
	gittest.Run(t, "", "clone", "-q", "--bare", work, dir)
	gittest.Run(t, dir, "repack", "-a", "-d", "-q")
	blob := gittest.Cmd{Dir: dir, Stdin: "topic only\n"}.Run(t, "hash-object", "-w", "--stdin")
	tree := gittest.Cmd{Dir: dir, Stdin: "100644 blob " + blob + "\tnew.txt\n"}.Run(t, "mktree")
	commit := gittest.Run(t, dir, "commit-tree", tree, "-p", "main", "-m", "topic")
	gittest.Run(t, dir, "update-ref", "refs/heads/topic", commit)
	return dir, blob
}

func check(t *testing.T, dir string) *fsck.Report {
	t.Helper()
	rep, err := fsck.Check(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestCheckClean(t *testing.T) {
	dir, _ := bare(t)
	rep := check(t, dir)
	if !rep.OK() {
		t.Fatalf("problems in a clean repository: %v", rep.Problems)
	}
	if want := countObjects(t, dir); rep.Objects != int64(want) {
		t.Fatalf("walked %d objects, git lists %d", rep.Objects, want)
	}
	if rep.Refs != 3 { // main, topic, v1 (HEAD is symbolic)
		t.Fatalf("refs = %d", rep.Refs)
	}
}

func countObjects(t *testing.T, dir string) int {
	n := 0
	for _, l := range strings.Split(gittest.Run(t, dir, "rev-list", "--objects", "--all"), "\n") {
		if l != "" {
			n++
		}
	}
	return n
}

func TestCheckDamage(t *testing.T) {
	dir, blob := bare(t)
	// A deleted object file, a ref to an object that is not there, and a
	// ref file that holds no id.
	if err := os.Remove(filepath.Join(dir, "objects", blob[:2], blob[2:])); err != nil {
		t.Fatal(err)
	}
	ghost := strings.Repeat("ab", 20)
	os.WriteFile(filepath.Join(dir, "refs", "heads", "ghost"), []byte(ghost+"\n"), 0o644)
	rep := check(t, dir)
	var got []string
	for _, p := range rep.Problems {
		got = append(got, p.String())
	}
	text := strings.Join(got, "\n")
	for _, want := range []string{
		"missing object " + blob + " (from refs/heads/topic): blob, linked from ",
		"missing object " + ghost + " (from refs/heads/ghost)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("problems:\n%s\nwant %q", text, want)
		}
	}
	if len(rep.Problems) != 2 {
		t.Errorf("problems:\n%s", text)
	}
	// git agrees the repository is damaged.
	if _, _, err := (gittest.Cmd{Dir: dir}).Exec(t, "fsck", "--connectivity-only"); err == nil {
		t.Fatal("git fsck finds nothing wrong: the damage is not real")
	}

	os.WriteFile(filepath.Join(dir, "refs", "heads", "junk"), []byte("not an id\n"), 0o644)
	rep = check(t, dir)
	if len(rep.Problems) == 0 || rep.Problems[len(rep.Problems)-1].Kind != fsck.BadRef {
		t.Fatalf("a ref holding no id: %v", rep.Problems)
	}
}

// A tree entry naming a blob where a tree is expected is a wrong type.
func TestCheckWrongType(t *testing.T) {
	dir, blob := bare(t)
	raw, _ := hex.DecodeString(blob)
	tree := gittest.Cmd{Dir: dir, Stdin: "40000 dir\x00" + string(raw)}.Run(t, "hash-object", "-t", "tree", "-w", "--literally", "--stdin")
	commit := gittest.Run(t, dir, "commit-tree", tree, "-m", "bad")
	gittest.Run(t, dir, "update-ref", "refs/heads/bad", commit)
	rep := check(t, dir)
	if len(rep.Problems) != 1 || rep.Problems[0].Kind != fsck.BadType || rep.Problems[0].Object != blob {
		t.Fatalf("problems: %v", rep.Problems)
	}
}
