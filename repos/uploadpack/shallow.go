package uploadpack

import (
	"errors"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/pktline"
	"gatehouse/repos/refs"
)

// infiniteDepth is the depth `git fetch --unshallow` asks for.
const infiniteDepth = 0x7fffffff

// shallowV0 handles the shallow lines and the deepen request of a v0
// client, and sends it the new boundary before the negotiation.
func (s *session) shallowV0(req *request) error {
	if err := s.applyShallow(req); err != nil {
		return err
	}
	for _, l := range req.shallowInfo {
		s.w.Linef("%s", l)
	}
	// A client that only said it is shallow expects no section.
	if req.deepens() {
		s.w.Flush()
	}
	return s.writeErr()
}

// applyShallow handles the shallow lines and a deepen request, as git's
// receive_needs does. The client's shallow commits, and the new boundary
// a deepen request draws, lose their parents for the rest of the
// conversation, so neither negotiation nor the pack goes beyond them. For
// a deepen request the client is told the new boundary ("shallow <id>")
// and which of its shallow commits now lie within it ("unshallow <id>");
// the parents of those become wants, and the commits themselves edges of
// what the client has. Only commits the wants reach are lifted, so every
// object sent stays reachable from a checked want: a shallow line only
// describes the client. The lines are left in req.shallowInfo.
func (s *session) applyShallow(req *request) error {
	if req.depth > 0 && (req.since > 0 || len(req.not) > 0) {
		return s.clientError("deepen and deepen-since (or deepen-not) cannot be used together")
	}
	var client []*node
	for _, id := range req.shallow {
		o, err := s.g.s.EncodedObject(plumbing.AnyObject, id)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			// Like git: the client may be shallow in history we never had.
			continue
		}
		if err != nil {
			return s.internalError(err)
		}
		if o.Type() != plumbing.CommitObject {
			return s.clientError("invalid shallow object %s", id)
		}
		c, err := s.g.commitFrom(o)
		if err != nil {
			return s.internalError(err)
		}
		if c.flags&clientShallow == 0 {
			c.flags |= clientShallow
			client = append(client, c)
		}
	}
	if !req.deepens() {
		for _, c := range client {
			s.g.cutParents(c)
		}
		return nil
	}

	var boundary []*node
	switch {
	case req.depth == infiniteDepth:
		// Everything is within reach: no boundary, every shallow commit
		// of the client's that the wants reach is lifted.
		in, err := s.inHistory(req.wants, client)
		if err != nil {
			return s.internalError(err)
		}
		for _, c := range in {
			c.flags |= notShallow
		}
	case req.depth > 0 && req.relative:
		// --deepen=N: N more commits below the client's boundary, where
		// the wants reach it.
		in, err := s.inHistory(req.wants, client)
		if err != nil {
			return s.internalError(err)
		}
		from := make([]plumbing.Hash, len(in))
		for i, c := range in {
			from[i] = c.id
		}
		if boundary, err = s.depthBoundary(from, req.depth+1); err != nil {
			return s.internalError(err)
		}
	case req.depth > 0:
		var err error
		if boundary, err = s.depthBoundary(req.wants, req.depth); err != nil {
			return s.internalError(err)
		}
	default:
		var err error
		if boundary, err = s.revListBoundary(req); err != nil {
			return err
		}
	}
	for _, c := range boundary {
		// The client knows its own shallow commits already.
		if c.flags&clientShallow == 0 {
			req.shallowInfo = append(req.shallowInfo, "shallow "+c.id.String())
		}
		s.g.cutParents(c)
	}
	wanted := make(map[plumbing.Hash]bool, len(req.wants))
	for _, id := range req.wants {
		wanted[id] = true
	}
	for _, c := range client {
		if c.flags&notShallow != 0 {
			req.shallowInfo = append(req.shallowInfo, "unshallow "+c.id.String())
			for _, p := range c.parentIDs {
				if !wanted[p] {
					wanted[p] = true
					req.wants = append(req.wants, p)
				}
			}
			req.edges = append(req.edges, c.id)
		}
		// Cut even when lifted, as git does: the walks must see the
		// history as the client has it, and the parents are wants now.
		s.g.cutParents(c)
	}
	return nil
}

// inHistory returns those of the client's shallow commits cs that the
// wants reach. Only those may be lifted: lifting one makes its parents
// wants, and a shallow line is the client's word, so one naming a commit
// no ref reaches any more (history force-pushed away) must not open that
// history. The walk follows the real parents, newest first, and stops
// once every one is found; git's deepen_by_rev_list and get_shallow_commits
// likewise mark only commits met on the way down from the wants.
func (s *session) inHistory(wants []plumbing.Hash, cs []*node) ([]*node, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	left := make(map[*node]bool, len(cs))
	for _, c := range cs {
		left[c] = true
	}
	seen := make(map[*node]bool)
	var q queue
	for _, id := range wants {
		c, err := peelToCommit(s.g, id)
		if err != nil {
			return nil, err
		}
		if c != nil && !seen[c] {
			seen[c] = true
			s.g.push(&q, c)
		}
	}
	for steps := 0; len(q) > 0 && len(left) > 0; steps++ {
		if steps%256 == 0 {
			if err := s.ctx.Err(); err != nil {
				return nil, err
			}
		}
		c := q.pop()
		delete(left, c)
		ps, err := s.g.parents(c)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				s.g.push(&q, p)
			}
		}
	}
	in := make([]*node, 0, len(cs)-len(left))
	for _, c := range cs {
		if !left[c] {
			in = append(in, c)
		}
	}
	return in, nil
}

// depthBoundary walks breadth first from the ids, so each commit is met
// at its least depth (the ids are at depth 1). Commits above depth are
// marked notShallow; those at it are returned, in walk order, as the new
// boundary.
func (s *session) depthBoundary(from []plumbing.Hash, depth int) ([]*node, error) {
	var level []*node
	seen := make(map[*node]bool)
	for _, id := range from {
		c, err := peelToCommit(s.g, id)
		if err != nil {
			return nil, err
		}
		if c != nil && !seen[c] {
			seen[c] = true
			level = append(level, c)
		}
	}
	for d := 1; len(level) > 0; d++ {
		if err := s.ctx.Err(); err != nil {
			return nil, err
		}
		if d >= depth {
			return level, nil
		}
		var next []*node
		for _, c := range level {
			c.flags |= notShallow
			ps, err := s.g.parents(c)
			if err != nil {
				return nil, err
			}
			for _, p := range ps {
				if !seen[p] {
					seen[p] = true
					next = append(next, p)
				}
			}
		}
		level = next
	}
	return nil, nil
}

// revListBoundary handles deepen-since and deepen-not the way git's
// deepen_by_rev_list does: the commits sent are those reachable from the
// wants, not older than the time and not reachable from the refs; the
// walk does not pass through a commit left out. Commits kept are marked
// notShallow, except the boundary: those with a parent left out.
func (s *session) revListBoundary(req *request) ([]*node, error) {
	hidden, err := s.deepenNot(req.not)
	if err != nil {
		return nil, err
	}
	keep := func(c *node) bool {
		return c.when >= req.since && !hidden[c.id]
	}
	var kept, stack []*node
	seen := make(map[*node]bool)
	for _, id := range req.wants {
		c, err := peelToCommit(s.g, id)
		if err != nil {
			return nil, s.internalError(err)
		}
		if c != nil && !seen[c] {
			seen[c] = true
			stack = append(stack, c)
		}
	}
	for len(stack) > 0 {
		if err := s.ctx.Err(); err != nil {
			return nil, err
		}
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !keep(c) {
			continue
		}
		c.flags |= notShallow
		kept = append(kept, c)
		ps, err := s.g.parents(c)
		if err != nil {
			return nil, s.internalError(err)
		}
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				stack = append(stack, p)
			}
		}
	}
	if len(kept) == 0 {
		return nil, s.clientError("no commits selected for shallow requests")
	}
	var boundary []*node
	for _, c := range kept {
		for _, p := range c.parents {
			if !keep(p) {
				c.flags &^= notShallow
				boundary = append(boundary, c)
				break
			}
		}
	}
	return boundary, nil
}

// deepenNot resolves the deepen-not refs (full names, or short names
// under refs/heads/ and refs/tags/) and returns every commit they reach.
func (s *session) deepenNot(names []string) (map[plumbing.Hash]bool, error) {
	hidden := make(map[plumbing.Hash]bool)
	if len(names) == 0 {
		return hidden, nil
	}
	list, err := refs.List(s.dir)
	if err != nil {
		return nil, s.internalError(err)
	}
	s.fs.refsRead()
	byName := make(map[string]string, len(list))
	for _, r := range list {
		byName[r.Name] = r.ID
	}
	var stack []*node
	for _, name := range names {
		id := ""
		for _, full := range []string{name, "refs/heads/" + name, "refs/tags/" + name} {
			if id = byName[full]; id != "" {
				break
			}
		}
		if id == "" {
			return nil, s.clientError("git upload-pack: deepen-not is not a ref: %s", pktline.Clip(name))
		}
		c, err := peelToCommit(s.g, plumbing.NewHash(id))
		if err != nil {
			return nil, s.internalError(err)
		}
		if c != nil && !hidden[c.id] {
			hidden[c.id] = true
			stack = append(stack, c)
		}
	}
	for len(stack) > 0 {
		if err := s.ctx.Err(); err != nil {
			return nil, err
		}
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		ps, err := s.g.parents(c)
		if err != nil {
			return nil, s.internalError(err)
		}
		for _, p := range ps {
			if !hidden[p.id] {
				hidden[p.id] = true
				stack = append(stack, p)
			}
		}
	}
	return hidden, nil
}
