package uploadpack

import (
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/gittest"
)

// countingReader counts the commits read from the object store.
type countingReader struct {
	objectReader
	commits int
}

func (c *countingReader) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	o, err := c.objectReader.EncodedObject(t, h)
	if err == nil && o.Type() == plumbing.CommitObject {
		c.commits++
	}
	return o, err
}

// With a commit-graph, commits come from it, not from the object store,
// and agree with the objects; commits newer than the graph are read.
func TestGraphUsesCommitGraph(t *testing.T) {
	dir := t.TempDir()
	gittest.Run(t, dir, "init", "-q", "-b", "main")
	for i := range 4 {
		gittest.Run(t, dir, "commit", "-q", "--allow-empty", "-m", "c"+string(rune('0'+i)))
	}
	gittest.Run(t, dir, "checkout", "-q", "-b", "side", "HEAD~2")
	gittest.Run(t, dir, "commit", "-q", "--allow-empty", "-m", "side")
	gittest.Run(t, dir, "checkout", "-q", "main")
	gittest.Run(t, dir, "merge", "-q", "--no-ff", "-m", "merge", "side")
	gittest.Run(t, dir, "commit-graph", "write", "--reachable")
	gitDir := dir + "/.git"
	all := strings.Fields(gittest.Run(t, dir, "rev-list", "--all"))

	fs, err := openStore(gitDir)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	cr := &countingReader{objectReader: fs}
	fromGraph := newGraph(cr)
	fromGraph.dir = gitDir
	fromObjects := newGraph(fs)
	for _, id := range all {
		h := plumbing.NewHash(id)
		a, err := fromGraph.commit(h)
		if err != nil {
			t.Fatal(err)
		}
		b, err := fromObjects.commit(h)
		if err != nil {
			t.Fatal(err)
		}
		if a.tree != b.tree || a.when != b.when || !slices.Equal(a.parentIDs, b.parentIDs) {
			t.Errorf("%s: graph gives %v %d %v, object %v %d %v", id, a.tree, a.when, a.parentIDs, b.tree, b.when, b.parentIDs)
		}
	}
	if cr.commits != 0 {
		t.Errorf("%d commits read from the object store despite the commit-graph", cr.commits)
	}

	// A commit made after the graph was written is read.
	gittest.Run(t, dir, "commit", "-q", "--allow-empty", "-m", "after")
	head := plumbing.NewHash(gittest.Run(t, dir, "rev-parse", "HEAD"))
	parent := gittest.Run(t, dir, "rev-parse", "HEAD^")
	fs2, err := openStore(gitDir)
	if err != nil {
		t.Fatal(err)
	}
	defer fs2.Close()
	cr2 := &countingReader{objectReader: fs2}
	g := newGraph(cr2)
	g.dir = gitDir
	n, err := g.commit(head)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := g.parents(n)
	if err != nil || len(ps) != 1 || ps[0].id.String() != parent {
		t.Fatalf("parents of the new commit: %v, %v", ps, err)
	}
	if cr2.commits != 1 {
		t.Errorf("%d commits read, want only the one newer than the graph", cr2.commits)
	}
}
