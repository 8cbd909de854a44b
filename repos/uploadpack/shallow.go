package uploadpack

import (
	"errors"

	"github.com/go-git/go-git/v5/plumbing"
)

// infiniteDepth is the depth `git fetch --unshallow` asks for.
const infiniteDepth = 0x7fffffff

// shallowV0 handles the shallow lines and a deepen request, as git's
// receive_needs does. The client's shallow commits, and the new boundary
// a deepen request draws, lose their parents for the rest of the
// conversation, so neither negotiation nor the pack goes beyond them. For
// a deepen request the client is told the new boundary ("shallow <id>")
// and which of its shallow commits now lie within it ("unshallow <id>");
// the parents of those become wants, and the commits themselves edges of
// what the client has.
func (s *session) shallowV0(req *request) error {
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
	if req.depth == 0 {
		for _, c := range client {
			s.g.cutParents(c)
		}
		return nil
	}

	var boundary []*node
	if req.depth == infiniteDepth {
		// Everything is within reach: no boundary, every shallow commit
		// of the client's is lifted. No walk needed.
		for _, c := range client {
			c.flags |= notShallow
		}
	} else {
		var err error
		if boundary, err = s.depthBoundary(req); err != nil {
			return s.internalError(err)
		}
	}
	for _, c := range boundary {
		// The client knows its own shallow commits already.
		if c.flags&clientShallow == 0 {
			s.w.Linef("shallow %s", c.id)
		}
		s.g.cutParents(c)
	}
	wanted := make(map[plumbing.Hash]bool, len(req.wants))
	for _, id := range req.wants {
		wanted[id] = true
	}
	for _, c := range client {
		if c.flags&notShallow != 0 {
			s.w.Linef("unshallow %s", c.id)
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
	s.w.Flush()
	return s.writeErr()
}

// depthBoundary walks breadth first from the wants, so each commit is
// met at its least depth (the wants are at depth 1). Commits above the
// requested depth are marked notShallow; those at it are returned, in
// walk order, as the new boundary.
func (s *session) depthBoundary(req *request) ([]*node, error) {
	var level []*node
	seen := make(map[*node]bool)
	for _, id := range req.wants {
		c, err := peelToCommit(s.g, id)
		if err != nil {
			return nil, err
		}
		if c != nil && !seen[c] {
			seen[c] = true
			level = append(level, c)
		}
	}
	for depth := 1; len(level) > 0; depth++ {
		if err := s.ctx.Err(); err != nil {
			return nil, err
		}
		if depth >= req.depth {
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
