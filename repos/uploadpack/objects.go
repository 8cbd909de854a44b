package uploadpack

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
	"gatehouse/repos/pktline"
)

// walk lists the objects to send, the way `git rev-list --objects wants
// --not haves` does: commits reachable from the wants but not from the
// common haves, found with one date-ordered walk that stops as soon as
// only the client's commits are left in its queue; then the trees and
// blobs of those commits, minus everything in the trees of the boundary
// commits the client has. Like git, that subtraction is exact at the
// boundary only: an object the client has from older history may be sent
// again, which costs bytes, never correctness.
type walk struct {
	ctx      context.Context
	g        *graph
	prog     *pktline.Progress
	out      []plumbing.Hash
	inPack   map[plumbing.Hash]bool
	excluded map[plumbing.Hash]bool // trees and blobs the client has
	q        queue
	// interesting counts queued commits not known to be the client's;
	// the walk ends when it is zero.
	interesting int
	steps       int
	// filter is the request's partial clone filter; size tells blob
	// sizes for blob:limit, and treeDepth the least depth each tree was
	// met at under tree:N (a tree met again higher up is walked again).
	filter    filter
	size      func(plumbing.Hash) (int64, error)
	treeDepth map[plumbing.Hash]int64
	treeBuf   []byte // the tree being walked
}

// objectsToSend returns the ids to pack for req, given the common haves.
func (g *graph) objectsToSend(ctx context.Context, req *request, adv *advertisement, haves []plumbing.Hash, size func(plumbing.Hash) (int64, error), prog *pktline.Progress) ([]plumbing.Hash, error) {
	objs, _, err := g.listObjects(ctx, req, adv, haves, size, prog)
	return objs, err
}

// listObjects is objectsToSend that also returns the trees and blobs it
// left out because the client has them: those of the commits at the
// boundary with the client's history, nil for a clone. They are the
// bases a thin pack may name.
func (g *graph) listObjects(ctx context.Context, req *request, adv *advertisement, haves []plumbing.Hash, size func(plumbing.Hash) (int64, error), prog *pktline.Progress) ([]plumbing.Hash, map[plumbing.Hash]bool, error) {
	objs, w, err := g.enumerate(ctx, req, adv, haves, size, prog)
	if err != nil {
		return nil, nil, err
	}
	return objs, w.excluded, nil
}

func (g *graph) enumerate(ctx context.Context, req *request, adv *advertisement, haves []plumbing.Hash, size func(plumbing.Hash) (int64, error), prog *pktline.Progress) ([]plumbing.Hash, *walk, error) {
	w := &walk{ctx: ctx, g: g, prog: prog, inPack: make(map[plumbing.Hash]bool), excluded: make(map[plumbing.Hash]bool),
		filter: req.filter, size: size, treeDepth: make(map[plumbing.Hash]int64)}
	if len(haves) == 0 && len(req.edges) == 0 && len(req.shallow) == 0 && !req.deepens() && req.filter.kind == filterNone {
		// A clone of whole history: the bitmaps answer it, when the
		// repository has them.
		if out, ok, err := w.fromBitmap(req, adv); ok || err != nil {
			return out, w, err
		}
	}
	var trees, blobs []plumbing.Hash
	for _, id := range append(haves[:len(haves):len(haves)], req.edges...) {
		err := w.peel(id, false, func(c *node) { w.markUninteresting(c); w.enqueue(c) },
			func(t plumbing.Hash) error { return w.excludeTree(t) },
			func(b plumbing.Hash) { w.excluded[b] = true })
		if err != nil {
			return nil, nil, err
		}
	}
	for _, id := range req.wants {
		err := w.peel(id, true, w.enqueue,
			func(t plumbing.Hash) error { trees = append(trees, t); return nil },
			func(b plumbing.Hash) { blobs = append(blobs, b) })
		if err != nil {
			return nil, nil, err
		}
	}
	commits, err := w.commits()
	if err != nil {
		return nil, nil, err
	}
	// The client has the trees of the commits it has at the boundary:
	// the parents of what is sent, and the shallow commits it is sent
	// the parents of (whose children, not parents, are being sent).
	for _, id := range req.edges {
		c, err := w.g.commit(id)
		if err != nil {
			return nil, nil, err
		}
		if err := w.excludeTree(c.tree); err != nil {
			return nil, nil, err
		}
	}
	for _, c := range commits {
		for _, p := range c.parents {
			if p.flags&uninteresting != 0 {
				if err := w.excludeTree(p.tree); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	for _, c := range commits {
		w.add(c.id)
	}
	for _, c := range commits {
		if err := w.addTree(c.tree, false); err != nil {
			return nil, nil, err
		}
	}
	// Trees and blobs wanted by id are sent whatever the filter says.
	for _, t := range trees {
		if err := w.addTree(t, true); err != nil {
			return nil, nil, err
		}
	}
	for _, b := range blobs {
		if !w.excluded[b] {
			w.add(b)
		}
	}
	if req.includeTag && adv.hasTags {
		has := func(id plumbing.Hash) bool { return w.inPack[id] }
		if err := w.includeTags(adv, has, w.add); err != nil {
			return nil, nil, err
		}
	}
	return w.out, w, nil
}

// peel follows tags from id to a commit, tree or blob and hands it to the
// matching function. Tags on the way are added to the pack when send is
// true (a want), and skipped otherwise (a have).
func (w *walk) peel(id plumbing.Hash, send bool, commit func(*node), tree func(plumbing.Hash) error, blob func(plumbing.Hash)) error {
	for i := 0; i < maxPeel; i++ {
		o, err := w.g.s.EncodedObject(plumbing.AnyObject, id)
		if err != nil {
			return fmt.Errorf("object %s: %w", id, err)
		}
		switch o.Type() {
		case plumbing.CommitObject:
			c, err := w.g.commitFrom(o)
			if err != nil {
				return err
			}
			commit(c)
			return nil
		case plumbing.TreeObject:
			return tree(id)
		case plumbing.BlobObject:
			blob(id)
			return nil
		case plumbing.TagObject:
			if send {
				w.add(id)
			}
			if id, _, err = tagTarget(o); err != nil {
				return err
			}
		default:
			return fmt.Errorf("object %s has unexpected type %s", id, o.Type())
		}
	}
	return fmt.Errorf("object %s: tag chain longer than %d", id, maxPeel)
}

func (w *walk) enqueue(c *node) {
	if c.flags&walkQueued != 0 {
		return
	}
	c.flags |= walkQueued | inQueue
	if c.flags&uninteresting == 0 {
		w.interesting++
	}
	w.g.push(&w.q, c)
}

// markUninteresting marks c as the client's. A commit still queued
// passes the mark to its parents when popped; one already popped (walked
// as a candidate before a descendant of the client's reached it, when
// commit times are skewed or equal) passes it on now, as git's
// mark_parents_uninteresting does, or its history would be sent in full.
func (w *walk) markUninteresting(c *node) {
	stack := []*node{c}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if x.flags&uninteresting != 0 {
			continue
		}
		x.flags |= uninteresting
		switch {
		case x.flags&inQueue != 0:
			w.interesting--
		case x.flags&walkQueued != 0:
			stack = append(stack, x.parents...)
		}
	}
}

// commits walks from the queued wants and haves, newest first. The
// client's commits pass their mark to their parents; the others are
// candidates for the pack. The result keeps only the candidates that
// were never marked as the client's, in walk order.
func (w *walk) commits() ([]*node, error) {
	var seen []*node
	for w.q.Len() > 0 && w.interesting > 0 {
		if err := w.tick(); err != nil {
			return nil, err
		}
		c := w.q.pop()
		c.flags &^= inQueue
		mine := c.flags&uninteresting == 0
		if mine {
			w.interesting--
		}
		ps, err := w.g.parents(c)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if !mine {
				w.markUninteresting(p)
			}
			w.enqueue(p)
		}
		if mine {
			seen = append(seen, c)
		}
	}
	// The queue may still hold commits of the client's whose parents
	// were walked as candidates (their times are skewed): pass their mark
	// on without walking further.
	for _, c := range w.q {
		if c.flags&uninteresting == 0 {
			continue
		}
		ps, err := w.g.parents(c)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			w.markUninteresting(p)
		}
	}
	out := seen[:0]
	for _, c := range seen {
		if c.flags&uninteresting == 0 {
			out = append(out, c)
		}
	}
	return out, nil
}

// excludeTree marks a tree of the client's and everything in it.
func (w *walk) excludeTree(root plumbing.Hash) error {
	return w.eachTree(root, w.excluded, func(plumbing.Hash) {})
}

// addTree adds a tree and everything in it that the client lacks and
// the filter lets through. explicit says the client wanted root by id, so
// root itself is sent even under tree:0.
func (w *walk) addTree(root plumbing.Hash, explicit bool) error {
	if w.filter.kind == filterNone {
		return w.eachTree(root, nil, w.add)
	}
	byDepth := w.filter.kind == filterTreeDepth
	if w.excluded[root] || (byDepth && w.filter.limit == 0 && !explicit) {
		return nil
	}
	if d, ok := w.treeDepth[root]; ok && (!byDepth || d == 0) {
		return nil
	}
	w.treeDepth[root] = 0
	w.add(root)
	type item struct {
		id    plumbing.Hash
		depth int64
	}
	stack := []item{{root, 0}}
	for len(stack) > 0 {
		if err := w.tick(); err != nil {
			return err
		}
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		data, err := readTree(w.g.s, it.id, w.treeBuf)
		if err != nil {
			return fmt.Errorf("tree %s: %w", it.id, err)
		}
		w.treeBuf = data
		d := it.depth + 1
		entries := odb.NewTreeIter(data)
		var e odb.TreeEntry
		for entries.Next(&e) {
			if e.Mode == odb.ModeGitlink || w.excluded[e.ID] {
				continue
			}
			if byDepth && d >= w.filter.limit {
				continue
			}
			if e.Mode == odb.ModeDir {
				// Without a depth limit a tree is walked once; with one,
				// again when met nearer the root, as its entries now fit.
				if prev, ok := w.treeDepth[e.ID]; ok && (!byDepth || prev <= d) {
					continue
				}
				w.treeDepth[e.ID] = d
				w.add(e.ID)
				stack = append(stack, item{e.ID, d})
				continue
			}
			if w.inPack[e.ID] {
				continue
			}
			switch w.filter.kind {
			case filterBlobNone:
				continue
			case filterBlobLimit:
				n, err := w.size(e.ID)
				if err != nil {
					return fmt.Errorf("blob %s: %w", e.ID, err)
				}
				if n >= w.filter.limit {
					continue
				}
			}
			w.add(e.ID)
		}
		if err := entries.Err(); err != nil {
			return fmt.Errorf("tree %s: %w", it.id, err)
		}
	}
	return nil
}

// eachTree visits root and what it contains depth first, skipping what
// is excluded or already packed, and calls visit for each tree and blob.
// When mark is not nil the objects are recorded there instead of being
// checked against the pack. Gitlinks (submodules) name commits of another
// repository and are not followed.
func (w *walk) eachTree(root plumbing.Hash, mark map[plumbing.Hash]bool, visit func(plumbing.Hash)) error {
	skip := func(id plumbing.Hash) bool {
		if mark != nil {
			if mark[id] {
				return true
			}
			mark[id] = true
			return false
		}
		return w.excluded[id] || w.inPack[id]
	}
	return w.walkTree(root, skip, visit)
}

// walkTree calls visit for root and what it contains, depth first,
// skipping whatever skip says (and what lies below a skipped tree).
// Gitlinks (submodules) name commits of another repository and are not
// followed.
func (w *walk) walkTree(root plumbing.Hash, skip func(plumbing.Hash) bool, visit func(plumbing.Hash)) error {
	if skip(root) {
		return nil
	}
	visit(root)
	stack := []plumbing.Hash{root}
	for len(stack) > 0 {
		if err := w.tick(); err != nil {
			return err
		}
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		data, err := readTree(w.g.s, id, w.treeBuf)
		if err != nil {
			return fmt.Errorf("tree %s: %w", id, err)
		}
		w.treeBuf = data
		entries := odb.NewTreeIter(data)
		var e odb.TreeEntry
		for entries.Next(&e) {
			if e.Mode == odb.ModeGitlink || skip(e.ID) {
				continue
			}
			visit(e.ID)
			if e.Mode == odb.ModeDir {
				stack = append(stack, e.ID)
			}
		}
		if err := entries.Err(); err != nil {
			return fmt.Errorf("tree %s: %w", id, err)
		}
	}
	return nil
}

func (w *walk) add(id plumbing.Hash) {
	if w.inPack[id] {
		return
	}
	w.inPack[id] = true
	w.out = append(w.out, id)
	w.prog.Count("Enumerating objects", len(w.out))
}

// tick checks for cancellation now and then; ctx.Err takes a lock.
func (w *walk) tick() error {
	w.steps++
	if w.steps%256 == 0 {
		return w.ctx.Err()
	}
	return nil
}

// includeTags adds the annotated tags under refs/tags/ whose target is
// being sent and which are not, with the tags they point through, as
// git's include-tag does. The client would otherwise fetch them again.
// has tells whether an object is in the pack and add puts one in.
func (w *walk) includeTags(adv *advertisement, has func(plumbing.Hash) bool, add func(plumbing.Hash)) error {
	for _, r := range adv.refs {
		if r.peeled.IsZero() || !has(r.peeled) || has(r.id) || !isTagRef(r.name) {
			continue
		}
		id := r.id
		for i := 0; i < maxPeel && !has(id); i++ {
			o, err := w.g.s.EncodedObject(plumbing.AnyObject, id)
			if errors.Is(err, plumbing.ErrObjectNotFound) {
				break
			}
			if err != nil {
				return err
			}
			if o.Type() != plumbing.TagObject {
				break
			}
			add(id)
			if id, _, err = tagTarget(o); err != nil {
				return err
			}
		}
	}
	return nil
}

func isTagRef(name string) bool {
	return len(name) > len("refs/tags/") && name[:len("refs/tags/")] == "refs/tags/"
}
