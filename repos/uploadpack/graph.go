package uploadpack

import (
	"container/heap"
	"errors"
	"fmt"

	"gatehouse/repos/commitgraph"
	"gatehouse/repos/odb"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// flag marks a commit for the negotiator and the pack walk; each owns
// its own bits.
type flag uint16

const (
	// negotiation
	theyHave  flag = 1 << iota // the client has this commit
	reaches                    // a commit the client has is this one or an ancestor
	explored                   // parents loaded and linked as children
	negQueued                  // in or through the negotiator's queue
	isWant                     // one of the wants
	// shallow requests
	clientShallow // the client said it is shallow here
	notShallow    // within the requested depth
	shallow       // parents cut for this conversation
	// pack walk
	uninteresting // the client has it: reachable from a common have
	walkQueued    // in or through the walk's queue
	inQueue       // in the walk's queue right now
)

// node is one commit, parsed once per conversation and shared by the
// negotiator and the pack walk.
type node struct {
	id        plumbing.Hash
	when      int64 // committer time, seconds
	tree      plumbing.Hash
	parentIDs []plumbing.Hash
	parents   []*node // nil until loaded by graph.parents
	children  []*node // explored commits that have this one as a parent
	flags     flag
	seq       uint64 // queue insertion order, to break ties in time
}

// graph caches the commits looked at in one conversation.
type graph struct {
	s     objectReader
	dir   string // the repository, for its bitmap and commit-graph; "" for none
	nodes map[plumbing.Hash]*node
	seq   uint64
	// cg is the repository's commit-graph, opened on the first commit
	// looked up; nil when there is none (or it is damaged: commits are
	// then read from the object store).
	cg       *commitgraph.Graph
	cgOpened bool
	buf      []byte // the commit being read
}

// objectReader reads objects: an *objectStore, possibly wrapped.
type objectReader interface {
	EncodedObject(plumbing.ObjectType, plumbing.Hash) (plumbing.EncodedObject, error)
}

// wholeReader is an objectReader that reads a small object (a commit, a
// tree) whole into the caller's buffer, without an object in between:
// the walks read one after another. An object of another type than t is
// plumbing.ErrObjectNotFound.
type wholeReader interface {
	readWhole(t plumbing.ObjectType, id plumbing.Hash, buf []byte) ([]byte, error)
}

// readTyped returns the content of object id, of type t, read into buf
// if it is large enough.
func readTyped(s objectReader, t plumbing.ObjectType, id plumbing.Hash, buf []byte) ([]byte, error) {
	if w, ok := s.(wholeReader); ok {
		return w.readWhole(t, id, buf)
	}
	o, err := s.EncodedObject(t, id)
	if err != nil {
		return nil, err
	}
	return readObject(o, buf)
}

// packs returns the packs of the object store under g, as it has them
// open, for the bitmap.
func (g *graph) packs() ([]*odb.Pack, error) {
	s := g.s
	if c, ok := s.(*ctxStorer); ok {
		s = c.objectReader
	}
	st, ok := s.(*objectStore)
	if !ok {
		return nil, errors.New("no pack store")
	}
	return st.Packs()
}

func newGraph(s objectReader) *graph {
	return &graph{s: s, nodes: make(map[plumbing.Hash]*node)}
}

// fresh returns an empty graph over the same repository.
func (g *graph) fresh() *graph {
	n := newGraph(g.s)
	n.dir = g.dir
	n.cg, n.cgOpened = g.cg, g.cgOpened
	return n
}

// commit returns the node for id, reading the commit on first use. It
// fails with plumbing.ErrObjectNotFound when id is missing or is not a
// commit.
func (g *graph) commit(id plumbing.Hash) (*node, error) {
	if n := g.nodes[id]; n != nil {
		return n, nil
	}
	if !g.cgOpened && g.dir != "" {
		g.cgOpened = true
		g.cg, _ = commitgraph.Open(g.dir)
	}
	if g.cg != nil {
		// A commit in the graph needs no inflating: its parents, tree
		// and date are there. Commits pushed since it was written are
		// not, and are read below.
		var c commitgraph.Commit
		if g.cg.LookupInto(id, &c) {
			n := &node{id: id, when: c.When, tree: c.Tree, parentIDs: c.Parents}
			g.nodes[id] = n
			return n, nil
		}
	}
	data, err := readTyped(g.s, plumbing.CommitObject, id, g.buf)
	if err != nil {
		return nil, err
	}
	g.buf = data
	return g.parseCommit(id, data)
}

// commitFrom is commit for an object already read.
func (g *graph) commitFrom(o plumbing.EncodedObject) (*node, error) {
	if n := g.nodes[o.Hash()]; n != nil {
		return n, nil
	}
	if o.Type() != plumbing.CommitObject {
		return nil, fmt.Errorf("commit %s: %w", o.Hash(), object.ErrUnsupportedObject)
	}
	data, err := readObject(o, g.buf)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", o.Hash(), err)
	}
	g.buf = data
	return g.parseCommit(o.Hash(), data)
}

// parseCommit makes the node of commit id from its content.
func (g *graph) parseCommit(id plumbing.Hash, data []byte) (*node, error) {
	c, err := odb.ParseCommit(data)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", id, err)
	}
	n := &node{id: id, when: c.When, tree: c.Tree, parentIDs: c.Parents}
	g.nodes[n.id] = n
	return n, nil
}

// parents returns n's parents, loading them on first use. A missing
// parent is an error: this server does not hold shallow repositories.
func (g *graph) parents(n *node) ([]*node, error) {
	if n.parents != nil || len(n.parentIDs) == 0 {
		return n.parents, nil
	}
	ps := make([]*node, len(n.parentIDs))
	for i, id := range n.parentIDs {
		p, err := g.commit(id)
		if err != nil {
			return nil, fmt.Errorf("parent %s of %s: %w", id, n.id, err)
		}
		ps[i] = p
	}
	n.parents = ps
	return ps, nil
}

// cutParents makes n a root for the rest of the conversation, the way a
// shallow graft does in git: the client will not have its parents.
func (g *graph) cutParents(n *node) {
	n.flags |= shallow
	n.parentIDs, n.parents = nil, nil
}

// tagTarget decodes a tag object and returns what it points at.
func tagTarget(o plumbing.EncodedObject) (plumbing.Hash, plumbing.ObjectType, error) {
	if o.Type() != plumbing.TagObject {
		return plumbing.ZeroHash, 0, fmt.Errorf("tag %s: %w", o.Hash(), object.ErrUnsupportedObject)
	}
	data, err := readObject(o, nil)
	if err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("tag %s: %w", o.Hash(), err)
	}
	target, typ, err := odb.ParseTag(data)
	if err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("tag %s: %w", o.Hash(), err)
	}
	return target, typ, nil
}

// queue holds commits newest first, like git's date-ordered walks, so a
// walk reaches the recent history where client and server meet before
// the old. Equal times come out in the order they went in.
type queue []*node

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].when != q[j].when {
		return q[i].when > q[j].when
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*node)) }
func (q *queue) Pop() any {
	old := *q
	n := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return n
}

// push adds n to q, stamping it for tie-breaking.
func (g *graph) push(q *queue, n *node) {
	g.seq++
	n.seq = g.seq
	heap.Push(q, n)
}

func (q *queue) pop() *node { return heap.Pop(q).(*node) }
func (q queue) peek() *node { return q[0] }
