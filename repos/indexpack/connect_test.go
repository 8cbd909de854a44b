package indexpack_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/gittest"
	"gatehouse/repos/indexpack"
)

// plant copies one object from src into the repository dst as a loose
// object, whatever it links to, the way a damaged repository holds one.
func plant(t *testing.T, src, dst, id string) {
	t.Helper()
	typ := gittest.Run(t, src, "cat-file", "-t", id)
	data, _, err := gittest.Cmd{Dir: src}.Exec(t, "cat-file", typ, id)
	if err != nil {
		t.Fatalf("cat-file %s: %v", id, err)
	}
	if got := (gittest.Cmd{Dir: dst, Stdin: data}).Run(t, "hash-object", "-w", "-t", typ, "--stdin"); got != id {
		t.Fatalf("planted %s as %s", id, got)
	}
}

// connectWorld is a repository holding main = c1 of the fixture, and in
// the fixture's work repository commits that link to what it lacks.
type connectWorld struct {
	f    *fixture
	repo string
	// orphan is present in repo, with c1's tree, but its parent c2 is
	// not; holey has c1 as parent but its tree names a blob repo lacks.
	orphan, holey string
	holeyTree     string
	// above is a commit on top of orphan, for a pack.
	above string
}

func newConnectWorld(t *testing.T, graph bool) *connectWorld {
	f := newFixture(t)
	w := &connectWorld{f: f, repo: bareRepo(t, f.dir, f.c1)}
	tree1 := gittest.Run(t, f.dir, "rev-parse", f.c1+"^{tree}")
	w.orphan = gittest.Run(t, f.dir, "commit-tree", tree1, "-p", f.c2, "-m", "orphan")
	w.above = gittest.Run(t, f.dir, "commit-tree", tree1, "-p", w.orphan, "-m", "above")
	blob := gittest.Cmd{Dir: f.dir, Stdin: "not on the server\n"}.Run(t, "hash-object", "-w", "--stdin")
	w.holeyTree = gittest.Cmd{Dir: f.dir, Stdin: "100644 blob " + blob + "\tlost.txt\n"}.Run(t, "mktree")
	w.holey = gittest.Run(t, f.dir, "commit-tree", w.holeyTree, "-p", f.c1, "-m", "holey")
	plant(t, f.dir, w.repo, w.orphan)
	plant(t, f.dir, w.repo, w.holeyTree)
	plant(t, f.dir, w.repo, w.holey)
	if graph {
		gittest.Run(t, w.repo, "commit-graph", "write", "--reachable")
		if _, err := os.Stat(filepath.Join(w.repo, "objects", "info", "commit-graph")); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func emptyPack(t *testing.T, f *fixture) []byte { return f.packOf(t, "") }

// TestCheckConnectedOldRefs: an object outside the pack counts as
// connected only if the refs reach it, or everything it reaches is
// present; being in the repository is not enough.
func TestCheckConnectedOldRefs(t *testing.T) {
	for _, graph := range []bool{false, true} {
		name := "no commit-graph"
		if graph {
			name = "commit-graph"
		}
		t.Run(name, func(t *testing.T) {
			w := newConnectWorld(t, graph)
			plant(t, w.f.dir, w.repo, w.above)
			// Complete itself, but its parent is not.
			tree1 := gittest.Run(t, w.f.dir, "rev-parse", w.f.c1+"^{tree}")
			aboveHoley := gittest.Run(t, w.f.dir, "commit-tree", tree1, "-p", w.holey, "-m", "above holey")
			plant(t, w.f.dir, w.repo, aboveHoley)
			in, err := receive(t, w.repo, emptyPack(t, w.f), indexpack.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for _, tc := range []struct {
				tip, why string
				missing  string // in the error; "" when connected
			}{
				{w.f.c1, "a ref's commit", ""},
				{w.above, "present, grandparent missing", w.f.c2},
				{w.orphan, "present, parent missing", w.f.c2},
				{w.holey, "present, a blob missing", "blob"},
				{w.holeyTree, "a tree with a blob missing", "blob"},
				{w.f.c1, "a ref's commit, after failures", ""},
				{w.orphan, "present, parent missing, asked again", w.f.c2},
				{w.holey, "present, a blob missing, asked again", "blob"},
				{w.above, "present, grandparent missing, asked again", w.f.c2},
				{aboveHoley, "present, a blob of its parent missing", "blob"},
				{aboveHoley, "present, a blob of its parent missing, asked again", "blob"},
			} {
				err := in.CheckConnected(ctx, []string{tc.tip})
				if tc.missing == "" {
					if err != nil {
						t.Errorf("%s: %v", tc.why, err)
					}
					continue
				}
				if !errors.Is(err, indexpack.ErrMissingObject) || !strings.Contains(err.Error(), tc.missing) {
					t.Errorf("%s: err = %v, want ErrMissingObject naming %s", tc.why, err, tc.missing)
				}
			}
		})
	}
}

// TestCheckConnectedWalks: commits the refs reach without holding them,
// and complete commits no ref reaches, are connected.
func TestCheckConnectedWalks(t *testing.T) {
	for _, graph := range []bool{false, true} {
		t.Run(map[bool]string{false: "no commit-graph", true: "commit-graph"}[graph], func(t *testing.T) {
			f := newFixture(t)
			repo := bareRepo(t, f.dir, f.c2)
			// A third commit no ref holds: complete, but unreachable.
			os.WriteFile(filepath.Join(f.dir, "third.txt"), []byte("third\n"), 0o644)
			gittest.Run(t, f.dir, "add", ".")
			gittest.Run(t, f.dir, "commit", "-q", "-m", "third")
			c3 := gittest.Run(t, f.dir, "rev-parse", "HEAD")
			gittest.Run(t, repo, "fetch", "-q", f.dir, "main:refs/heads/tmp")
			gittest.Run(t, repo, "update-ref", "-d", "refs/heads/tmp")
			if graph {
				gittest.Run(t, repo, "commit-graph", "write", "--reachable")
			}
			in, err := receive(t, repo, emptyPack(t, f), indexpack.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, tip := range []string{f.c1, c3, f.c2} {
				if err := in.CheckConnected(context.Background(), []string{tip}); err != nil {
					t.Errorf("CheckConnected(%s): %v", tip, err)
				}
			}
		})
	}
}

// TestInstallRefusesUnconnectedPack: a pack naming a commit that is in
// the repository but not connected fails the check and is never
// installed, so the repository stays as it was.
func TestInstallRefusesUnconnectedPack(t *testing.T) {
	w := newConnectWorld(t, false)
	data := w.f.packOf(t, w.above+"\n^"+w.orphan+"\n", "--revs")
	before := objectsListing(t, w.repo)
	in, err := receive(t, w.repo, data, indexpack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.CheckConnected(context.Background(), []string{w.above}); !errors.Is(err, indexpack.ErrMissingObject) {
		t.Fatalf("CheckConnected = %v, want ErrMissingObject", err)
	}
	// A tip the refs hold is still fine beside it.
	if err := in.CheckConnected(context.Background(), []string{w.f.c1}); err != nil {
		t.Fatalf("CheckConnected(c1) = %v", err)
	}
	if err := in.Install(); !errors.Is(err, indexpack.ErrMissingObject) {
		t.Fatalf("Install = %v, want ErrMissingObject", err)
	}
	in.Abort()
	assertUnchanged(t, w.repo, before)

	// Install alone checks too.
	in2, err := receive(t, w.repo, data, indexpack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := in2.Install(); !errors.Is(err, indexpack.ErrMissingObject) {
		t.Fatalf("Install without CheckConnected = %v, want ErrMissingObject", err)
	}
	in2.Abort()
	assertUnchanged(t, w.repo, before)
}

// TestCheckConnectedThroughBrokenPack: a commit of the repository whose
// parent comes in a pack whose links do not hold is not connected, also
// when asked about through a commit above it after the first refusal.
func TestCheckConnectedThroughBrokenPack(t *testing.T) {
	w := newConnectWorld(t, false)
	tree1 := gittest.Run(t, w.f.dir, "rev-parse", w.f.c1+"^{tree}")
	p := gittest.Run(t, w.f.dir, "commit-tree", tree1, "-p", w.f.c2, "-m", "sent, its parent not")
	y := gittest.Run(t, w.f.dir, "commit-tree", tree1, "-p", p, "-m", "y")
	z := gittest.Run(t, w.f.dir, "commit-tree", tree1, "-p", y, "-m", "z")
	plant(t, w.f.dir, w.repo, y)
	plant(t, w.f.dir, w.repo, z)
	in, err := receive(t, w.repo, w.f.packOf(t, p+"\n"), indexpack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tip := range []string{y, z, y} {
		if err := in.CheckConnected(context.Background(), []string{tip}); !errors.Is(err, indexpack.ErrMissingObject) {
			t.Errorf("CheckConnected(%s) = %v, want ErrMissingObject", tip, err)
		}
	}
}

// TestCheckConnectedTrees: a tree outside the pack that a new commit's
// tree names counts when its parent has it at the same path, and must
// otherwise be complete.
func TestCheckConnectedTrees(t *testing.T) {
	w := newConnectWorld(t, false)
	const who = "A <a@example.com> 1700000000 +0000"
	tree1 := gittest.Run(t, w.f.dir, "rev-parse", w.f.c1+"^{tree}")
	sub := gittest.Run(t, w.f.dir, "rev-parse", w.f.c1+":sub")
	commitOn := func(tree plumbing.Hash, parent string) []byte {
		return []byte("tree " + tree.String() + "\nparent " + parent + "\nauthor " + who + "\ncommitter " + who + "\n\nnew\n")
	}
	for _, tc := range []struct {
		name    string
		entries string // of the new root tree, as git mktree reads them
		want    error
	}{
		{"same directory as the parent", "040000 tree " + sub + "\tsub\n", nil},
		{"renamed directory", "040000 tree " + sub + "\tmoved\n", nil},
		{"complete directory from elsewhere", "040000 tree " + sub + "\tsub\n040000 tree " + sub + "\tsub2\n040000 tree " + tree1 + "\tsub3\n", nil},
		{"present directory with a blob missing", "040000 tree " + w.holeyTree + "\tsub\n", indexpack.ErrMissingObject},
		{"the parent's whole tree as a directory", "040000 tree " + tree1 + "\told\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := gittest.Cmd{Dir: w.f.dir, Stdin: tc.entries}.Run(t, "mktree", "--missing")
			rootData, _, err := gittest.Cmd{Dir: w.f.dir}.Exec(t, "cat-file", "tree", root)
			if err != nil {
				t.Fatal(err)
			}
			commit := commitOn(plumbing.NewHash(root), w.f.c1)
			in, err := receive(t, w.repo, buildPack(
				rawObject{typ: plumbing.TreeObject, data: []byte(rootData)},
				rawObject{typ: plumbing.CommitObject, data: commit},
			), indexpack.Options{})
			if err != nil {
				t.Fatal(err)
			}
			tip := plumbing.ComputeHash(plumbing.CommitObject, commit).String()
			err = in.CheckConnected(context.Background(), []string{tip})
			if (tc.want == nil) != (err == nil) || !errors.Is(err, tc.want) {
				t.Fatalf("CheckConnected = %v, want %v", err, tc.want)
			}
		})
	}

	// A directory kept as the parent has it is not read again: even one
	// damaged by other means, since a ref reaches it, as git would judge.
	damagedRoot := gittest.Cmd{Dir: w.f.dir, Stdin: "040000 tree " + w.holeyTree + "\tsub\n"}.Run(t, "mktree", "--missing")
	damaged := gittest.Run(t, w.f.dir, "commit-tree", damagedRoot, "-p", w.f.c1, "-m", "damaged")
	plant(t, w.f.dir, w.repo, damagedRoot)
	plant(t, w.f.dir, w.repo, damaged)
	gittest.Run(t, w.repo, "update-ref", "refs/heads/damaged", damaged)
	blob := []byte("new file\n")
	blobID := plumbing.ComputeHash(plumbing.BlobObject, blob)
	root := gittest.Cmd{Dir: w.f.dir, Stdin: "040000 tree " + w.holeyTree + "\tsub\n100644 blob " + blobID.String() + "\tnew.txt\n"}.Run(t, "mktree", "--missing")
	rootData, _, err := gittest.Cmd{Dir: w.f.dir}.Exec(t, "cat-file", "tree", root)
	if err != nil {
		t.Fatal(err)
	}
	commit := commitOn(plumbing.NewHash(root), damaged)
	in, err := receive(t, w.repo, buildPack(
		rawObject{typ: plumbing.BlobObject, data: blob},
		rawObject{typ: plumbing.TreeObject, data: []byte(rootData)},
		rawObject{typ: plumbing.CommitObject, data: commit},
	), indexpack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.CheckConnected(context.Background(), []string{plumbing.ComputeHash(plumbing.CommitObject, commit).String()}); err != nil {
		t.Fatalf("CheckConnected on a damaged ref's directory: %v", err)
	}
}

// TestCheckConnectedThinBaseCommit: a delta against a commit of the
// repository copies that commit into the pack (a thin pack's base); a
// link to it must still be judged as one outside the pack.
func TestCheckConnectedThinBaseCommit(t *testing.T) {
	w := newConnectWorld(t, false)
	above := []byte(gittest.Run(t, w.f.dir, "cat-file", "commit", w.above) + "\n")
	// A commit made by a delta against orphan that only inserts: its own
	// links (c1 and c1's tree) are fine.
	tree1 := gittest.Run(t, w.f.dir, "rev-parse", w.f.c1+"^{tree}")
	const who = "A <a@example.com> 1700000000 +0000"
	good := []byte("tree " + tree1 + "\nparent " + w.f.c1 + "\nauthor " + who + "\ncommitter " + who + "\n\ngood\n")
	orphanSize := len(gittest.Run(t, w.f.dir, "cat-file", "commit", w.orphan)) + 1
	data := buildPack(
		rawObject{typ: plumbing.CommitObject, data: above},
		rawObject{typ: plumbing.REFDeltaObject, ref: plumbing.NewHash(w.orphan), data: insertDelta(orphanSize, good)},
	)
	in, err := receive(t, w.repo, data, indexpack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if in.Len() != 3 {
		t.Fatalf("Len = %d, want 2 objects and the thin base", in.Len())
	}
	if err := in.CheckConnected(context.Background(), []string{w.above}); !errors.Is(err, indexpack.ErrMissingObject) {
		t.Fatalf("CheckConnected = %v, want ErrMissingObject", err)
	}
}

// insertDelta is a delta that ignores a base of baseSize bytes and
// inserts data.
func insertDelta(baseSize int, data []byte) []byte {
	varint := func(b []byte, n int) []byte {
		for n >= 0x80 {
			b = append(b, byte(n)|0x80)
			n >>= 7
		}
		return append(b, byte(n))
	}
	d := varint(varint(nil, baseSize), len(data))
	for len(data) > 0 {
		n := min(len(data), 127)
		d = append(append(d, byte(n)), data[:n]...)
		data = data[n:]
	}
	return d
}

// BenchmarkCheckConnected checks one new commit on top of a history of
// 5000 commits: as a fast-forward of the branch (no history read), and as
// a new branch on a commit 4000 below the tip (a walk), with and without
// a commit-graph.
func BenchmarkCheckConnected(b *testing.B) {
	src := b.TempDir()
	gittest.Run(b, src, "init", "-q", "-b", "main")
	script := `set -e; for i in $(seq 1 5000); do printf 'blob\nmark :%d\ndata <<EOF\nversion %d\nEOF\ncommit refs/heads/main\ncommitter A <a@x> %d +0000\ndata 2\nc\nM 644 :%d f%d\n' $i $i $((1700000000+i)) $i $((i%50)); done`
	gen := exec.Command("bash", "-c", script+" | git -C "+src+" fast-import --quiet")
	if out, err := gen.CombinedOutput(); err != nil {
		b.Fatalf("%v\n%s", err, out)
	}
	gittest.Run(b, src, "repack", "-adq")
	tree := gittest.Run(b, src, "rev-parse", "main^{tree}")
	for _, graph := range []bool{false, true} {
		repo := filepath.Join(b.TempDir(), "r.git")
		gittest.Run(b, "", "clone", "-q", "--bare", src, repo)
		if graph {
			gittest.Run(b, repo, "commit-graph", "write", "--reachable")
		}
		for _, base := range []string{"main", "main~4000"} {
			parent := gittest.Run(b, src, "rev-parse", base)
			c := gittest.Run(b, src, "commit-tree", tree, "-p", parent, "-m", "new")
			out, _, err := gittest.Cmd{Dir: src, Stdin: c + "\n^" + parent + "\n"}.Exec(b, "pack-objects", "--stdout", "-q", "--revs")
			if err != nil {
				b.Fatal(err)
			}
			data := []byte(out)
			name := map[bool]string{false: "", true: "graph/"}[graph] + map[string]string{"main": "fast-forward", "main~4000": "new-branch-4000-back"}[base]
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					in, err := indexpack.Receive(context.Background(), repo, bytes.NewReader(data), indexpack.Options{})
					if err != nil {
						b.Fatal(err)
					}
					if err := in.CheckConnected(context.Background(), []string{c}); err != nil {
						b.Fatal(err)
					}
					in.Abort()
				}
			})
		}
	}
}
