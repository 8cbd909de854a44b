package indexpack

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/commitgraph"
	"gatehouse/repos/odb"
	"gatehouse/repos/refs"
)

// Bounds of the connectivity walks of one push.
const (
	// maxReachCommits bounds the commits the walk from the refs and from
	// the commits to check loads, together: a little over 100 bytes each.
	maxReachCommits = 1 << 21
	// maxClosureObjects bounds the trees and blobs checked for presence
	// under commits the refs do not reach.
	maxClosureObjects = 1 << 22
	// maxPeel bounds a chain of tags.
	maxPeel = 16
)

// Flags of a commit in the walk.
const (
	reachOld      uint8 = 1 << iota // the refs before the push reach it
	reachNew                        // it must be connected
	reachQueued                     // in the queue right now
	reachExpanded                   // its parents were looked at
	reachChecked                    // not reached by the refs, and its tree is present
	reachGraph                      // read from the commit-graph, not the object store
)

// reach is the state of the connectivity walks of one push. Commits are
// painted from two sides, like git's rev-list with --not --all: the refs
// as they were when first needed ("old") and the commits to check
// ("new"). A commit painted new and never old must be present, with its
// tree complete and its parents connected in turn.
type reach struct {
	oldIDs  map[plumbing.Hash]struct{} // what the refs hold, peeled tags too
	seeded  bool                       // the refs' commits are queued
	nodes   map[plumbing.Hash]*reachNode
	queue   reachQueue
	pending int          // queued commits painted new and not old
	newList []*reachNode // commits painted new, to check after a walk
	// present holds trees and blobs outside the pack found present with
	// everything under them.
	present map[plumbing.Hash]struct{}
	// usedPack says some commit or tree proven so far relies on the
	// pack's own links; any answer that reuses proofs then does too.
	usedPack bool
	cg       *commitgraph.Graph
	cgOpened bool
}

type reachNode struct {
	id      plumbing.Hash
	tree    plumbing.Hash
	parents []plumbing.Hash
	when    int64
	gen     uint32 // commit-graph generation; 0 when unknown
	flags   uint8
}

// reachState returns the walk state, reading the refs on first use.
func (in *Incoming) reachState() (*reach, error) {
	if in.reach != nil {
		return in.reach, nil
	}
	all, err := refs.List(in.gitDir)
	if err != nil {
		return nil, fmt.Errorf("pack: read refs: %w", err)
	}
	r := &reach{
		oldIDs:  make(map[plumbing.Hash]struct{}, len(all)),
		nodes:   make(map[plumbing.Hash]*reachNode),
		present: make(map[plumbing.Hash]struct{}),
	}
	for _, ref := range all {
		for _, id := range []string{ref.ID, ref.Peeled} {
			if h, err := odb.ParseID(id); err == nil {
				r.oldIDs[h] = struct{}{}
			}
		}
	}
	in.reach = r
	return r, nil
}

// resetWalk forgets what a walk cut short by an error painted new, or
// found complete while another commit of the same walk was not, so that
// a later check looks at those commits again. What the refs reach and
// what an earlier walk proved stay known, so failing updates do not make
// each other walk the refs' history again.
func (r *reach) resetWalk() {
	for _, n := range r.newList {
		if n.flags&reachOld == 0 {
			n.flags &^= reachNew | reachExpanded | reachQueued | reachChecked
		}
	}
	r.newList = r.newList[:0]
	q := r.queue[:0]
	for _, n := range r.queue {
		if n.flags&reachQueued != 0 {
			q = append(q, n)
		}
	}
	clear(r.queue[len(q):])
	r.queue = q
	heap.Init(&r.queue)
	r.pending = 0
}

// inPack says whether the client sent h; a thin pack's bases, copied
// from the repository, do not count.
func (in *Incoming) inPack(h plumbing.Hash) bool {
	i, ok := in.lookup(h)
	return ok && !in.objs[i].external
}

// connectTip checks that h, a tip or the target of a tag outside the
// pack, is connected. usesPack says the answer relies on the pack's
// objects, directly or through what an earlier check proved, so the
// caller must then check the pack's links.
func (in *Incoming) connectTip(ctx context.Context, h plumbing.Hash) (usesPack bool, err error) {
	for range maxPeel {
		if in.inPack(h) {
			return true, nil
		}
		r, err := in.reachState()
		if err != nil {
			return false, err
		}
		if _, ok := r.oldIDs[h]; ok {
			return false, nil
		}
		t, err := in.repoType(h)
		if err != nil {
			return false, err
		}
		switch t {
		case plumbing.CommitObject:
			return in.connectCommits(ctx, []plumbing.Hash{h})
		case plumbing.TreeObject:
			return in.checkTree(ctx, h)
		case plumbing.BlobObject:
			return false, nil
		case plumbing.TagObject:
			data, err := in.readRepo(t, h)
			if err != nil {
				return false, err
			}
			target, _, err := odb.ParseTag(data)
			if err != nil {
				return false, fmt.Errorf("%w: tag %s: %v", ErrCorrupt, h, err)
			}
			h = target
		default:
			return false, fmt.Errorf("%w: %s is a %s", ErrCorrupt, h, t)
		}
	}
	return false, fmt.Errorf("%w: tags nested deeper than %d", ErrCorrupt, maxPeel)
}

// connectCommits checks that the commits ids, none of them in the pack,
// are connected: reached by the refs, or present with their trees and
// their parents connected. A commit a ref holds costs nothing, so a
// fast-forward, whose one link outside the pack is the old tip, reads no
// history. Otherwise both sides are walked, newest first, until nothing
// queued is new but not reached by the refs: the new commits left are
// the ones the refs do not reach. usesPack is as for connectTip.
func (in *Incoming) connectCommits(ctx context.Context, ids []plumbing.Hash) (usesPack bool, err error) {
	r, err := in.reachState()
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil {
			r.resetWalk()
		}
	}()
	byRefs := true // every id is reached by the refs
	for _, id := range ids {
		if _, ok := r.oldIDs[id]; ok {
			continue
		}
		if n := r.nodes[id]; n != nil && n.flags&reachOld != 0 {
			continue
		}
		byRefs = false
		n, err := in.reachNode(id)
		if err != nil {
			return false, err
		}
		r.paintNew(n) // nothing if an earlier walk proved it
	}
	if r.pending == 0 {
		return !byRefs && r.usedPack, nil
	}
	if !r.seeded {
		r.seeded = true
		if err := in.seedOld(); err != nil {
			return false, err
		}
	}
	for n := 0; r.pending > 0 && r.queue.Len() > 0; n++ {
		if n&255 == 0 {
			if err := ctx.Err(); err != nil {
				return false, err
			}
		}
		c := heap.Pop(&r.queue).(*reachNode)
		c.flags &^= reachQueued
		c.flags |= reachExpanded
		if c.flags&reachOld != 0 {
			for _, p := range c.parents {
				pn, err := in.reachNode(p)
				if errors.Is(err, ErrMissingObject) || errors.Is(err, ErrCorrupt) {
					continue // a damaged history the refs hold is not this push's to judge
				}
				if err != nil {
					return false, err
				}
				r.paintOld(pn)
				r.push(pn)
			}
			continue
		}
		r.pending--
		for _, p := range c.parents {
			if in.inPack(p) {
				usesPack = true
				continue
			}
			pn, err := in.reachNode(p)
			if err != nil {
				return false, fmt.Errorf("%w (parent of %s)", err, c.id)
			}
			r.paintNew(pn)
		}
	}
	// What is new and not reached by the refs must be complete.
	for _, c := range r.newList {
		if c.flags&(reachOld|reachChecked) != 0 {
			continue
		}
		if c.flags&reachGraph != 0 {
			// The commit-graph lists it, but the commit itself must be here.
			ok, err := in.inRepo(c.id)
			if err != nil {
				return false, err
			}
			if !ok {
				return false, fmt.Errorf("%w: commit %s", ErrMissingObject, c.id)
			}
		}
		uses, err := in.checkTree(ctx, c.tree)
		if err != nil {
			return false, fmt.Errorf("%w (tree of %s)", err, c.id)
		}
		usesPack = usesPack || uses
		c.flags |= reachChecked
	}
	r.newList = r.newList[:0]
	r.usedPack = r.usedPack || usesPack
	return r.usedPack, nil
}

// seedOld queues the commits the refs hold, peeling tags. Refs naming
// something missing or not a commit add nothing.
func (in *Incoming) seedOld() error {
	r := in.reach
	for id := range r.oldIDs {
		h := id
		for range maxPeel {
			n, err := in.reachNode(h)
			if err == nil {
				r.paintOld(n)
				r.push(n)
				break
			}
			if !errors.Is(err, ErrCorrupt) {
				if errors.Is(err, ErrMissingObject) {
					break
				}
				return err
			}
			// Not a commit: follow a tag.
			data, err := in.readRepo(plumbing.TagObject, h)
			if err != nil {
				break
			}
			if h, _, err = odb.ParseTag(data); err != nil {
				break
			}
		}
	}
	return nil
}

// paintNew marks n as a commit that must be connected and queues it.
func (r *reach) paintNew(n *reachNode) {
	if n.flags&(reachOld|reachNew|reachChecked) != 0 {
		return
	}
	n.flags |= reachNew
	r.newList = append(r.newList, n)
	r.push(n)
}

// paintOld marks n, and what it is already known to reach, as reached
// by the refs.
func (r *reach) paintOld(n *reachNode) {
	stack := []*reachNode{n}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c.flags&reachOld != 0 {
			continue
		}
		if c.flags&(reachNew|reachQueued) == reachNew|reachQueued {
			r.pending--
		}
		c.flags |= reachOld
		if c.flags&reachExpanded == 0 {
			continue
		}
		// Expanded as new before the refs reached it (clocks out of
		// order): its parents are reached too.
		for _, p := range c.parents {
			if pn := r.nodes[p]; pn != nil {
				stack = append(stack, pn)
			}
		}
	}
}

// push queues n unless it is queued or was expanded.
func (r *reach) push(n *reachNode) {
	if n.flags&(reachQueued|reachExpanded) != 0 {
		return
	}
	n.flags |= reachQueued
	if n.flags&(reachNew|reachOld) == reachNew {
		r.pending++
	}
	heap.Push(&r.queue, n)
}

// reachNode returns the commit id from the repository, read from the
// commit-graph when it lists it. Errors: ErrMissingObject, ErrCorrupt
// (not a commit, or malformed), ErrTooLarge past maxReachCommits.
func (in *Incoming) reachNode(id plumbing.Hash) (*reachNode, error) {
	r := in.reach
	if n := r.nodes[id]; n != nil {
		return n, nil
	}
	if len(r.nodes) >= maxReachCommits {
		return nil, fmt.Errorf("%w: connectivity check stopped after %d commits", ErrTooLarge, maxReachCommits)
	}
	if !r.cgOpened {
		// A damaged or absent commit-graph just means reading commits.
		r.cgOpened = true
		r.cg, _ = commitgraph.Open(in.gitDir)
	}
	n := &reachNode{id: id}
	var c commitgraph.Commit
	if r.cg != nil && r.cg.LookupInto(id, &c) {
		n.tree, n.parents, n.when, n.gen = c.Tree, c.Parents, c.When, c.Generation
		n.flags = reachGraph
	} else {
		data, err := in.readRepo(plumbing.CommitObject, id)
		if err != nil {
			return nil, err
		}
		ci, err := odb.ParseCommit(data)
		if err != nil {
			return nil, fmt.Errorf("%w: commit %s: %v", ErrCorrupt, id, err)
		}
		n.tree, n.parents, n.when = ci.Tree, ci.Parents, ci.When
	}
	r.nodes[id] = n
	return n, nil
}

// checkTree checks that tree id and everything under it is in the pack
// or the repository, reading trees from the repository. It is for trees
// no ref reaches; what it finds present is remembered for the push.
func (in *Incoming) checkTree(ctx context.Context, id plumbing.Hash) (usesPack bool, err error) {
	r := in.reach
	stack := []plumbing.Hash{id}
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if in.inPack(h) {
			if t := in.objs[in.index(h)].typ; t != plumbing.TreeObject {
				return false, fmt.Errorf("%w: %s is a %s where a tree is expected", ErrCorrupt, h, t)
			}
			usesPack = true
			continue
		}
		if _, ok := r.present[h]; ok {
			continue
		}
		if len(r.present) >= maxClosureObjects {
			return false, fmt.Errorf("%w: connectivity check stopped after %d objects", ErrTooLarge, maxClosureObjects)
		}
		if len(r.present)&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return false, err
			}
		}
		data, err := in.readRepo(plumbing.TreeObject, h)
		if err != nil {
			return false, err
		}
		var linkErr error
		err = walkTree(data, func(mode uint32, _ []byte, e plumbing.Hash) error {
			switch mode {
			case odb.ModeGitlink:
			case odb.ModeDir:
				stack = append(stack, e)
			default:
				if in.inPack(e) {
					usesPack = true
					return nil
				}
				if _, ok := r.present[e]; ok {
					return nil
				}
				ok, err := in.inRepo(e)
				if err == nil && !ok {
					err = fmt.Errorf("%w: blob %s (in tree %s)", ErrMissingObject, e, h)
				}
				if err != nil {
					linkErr = err
					return err
				}
				r.present[e] = struct{}{}
			}
			return nil
		})
		if linkErr != nil {
			return false, linkErr
		}
		if err != nil {
			return false, fmt.Errorf("%w: tree %s: %v", ErrCorrupt, h, err)
		}
		r.present[h] = struct{}{}
	}
	r.usedPack = r.usedPack || usesPack
	return r.usedPack, nil
}

// repoType returns the type of h in the repository, not the pack,
// without reading its content. Errors: ErrMissingObject, or an I/O
// error.
func (in *Incoming) repoType(h plumbing.Hash) (plumbing.ObjectType, error) {
	t, _, err := in.repository().Header(h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return 0, fmt.Errorf("%w: %s", ErrMissingObject, h)
	}
	if err != nil {
		return 0, fmt.Errorf("pack: read %s: %w", h, err)
	}
	return t, nil
}

// readRepo reads h from the repository and checks it is a t, before
// its content is read. Errors: ErrMissingObject, ErrCorrupt (another
// type), or an I/O error.
func (in *Incoming) readRepo(t plumbing.ObjectType, h plumbing.Hash) ([]byte, error) {
	typ, size, rc, err := in.repository().Read(h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrMissingObject, h)
	}
	if err != nil {
		return nil, fmt.Errorf("pack: read %s: %w", h, err)
	}
	defer rc.Close()
	if typ != t {
		return nil, fmt.Errorf("%w: %s is a %s, not a %s", ErrCorrupt, h, typ, t)
	}
	data, err := readWhole(rc, size)
	if err != nil {
		return nil, fmt.Errorf("pack: read %s: %w", h, err)
	}
	return data, nil
}

// readWhole reads the size bytes of an object's content from r and
// checks that r ends there.
func readWhole(r io.Reader, size int64) ([]byte, error) {
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, err
	}
	var one [1]byte
	if n, err := io.ReadFull(r, one[:]); n != 0 {
		return nil, fmt.Errorf("%w: object longer than its header says", ErrCorrupt)
	} else if err != io.EOF {
		return nil, err
	}
	return data, nil
}

// reachQueue orders commits newest first: by commit-graph generation,
// commits the graph lacks (newer than it) before those it has, then by
// committer time. Where every commit has a generation the walk is exact;
// committer times only make it slower when clocks were wrong, never
// wrong, since a commit wrongly taken as new is checked in full.
type reachQueue []*reachNode

func (q reachQueue) Len() int { return len(q) }
func (q reachQueue) Less(i, j int) bool {
	a, b := q[i], q[j]
	if a.gen != b.gen {
		return a.gen == 0 || b.gen != 0 && a.gen > b.gen
	}
	return a.when > b.when
}
func (q reachQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *reachQueue) Push(x any)   { *q = append(*q, x.(*reachNode)) }
func (q *reachQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return x
}
