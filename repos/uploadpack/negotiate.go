package uploadpack

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/pktline"
)

// negotiator keeps what git's upload-pack keeps while the client lists its
// haves: which haves we share (the pack will leave out what they reach),
// and whether every want now reaches a commit the client has, the point
// where more haves cannot make the pack smaller ("ok to give up").
//
// Git answers that question with a walk from the wants each time it is
// asked, which can be once per have. Here the walk is incremental: the
// commits it has explored remember their explored children, so a commit
// learnt to be the client's marks every explored descendant as "reaches"
// in one pass, and a want is satisfied when it is so marked. Every commit
// is explored and marked at most once per conversation, whatever the
// number of haves.
type negotiator struct {
	g           *graph
	wants       []*node // the wanted commits, tags peeled
	unsatisfied int     // wants not yet marked reaches
	// common lists the haves we also have, each once, for the pack walk.
	common     []plumbing.Hash
	seenOther  map[plumbing.Hash]bool // common haves that are not commits
	oldest     int64                  // time of the oldest common commit
	haveOldest bool
	q          queue // explored commits' parents, to explore next
	started    bool
}

func newNegotiator(g *graph, wants []plumbing.Hash) (*negotiator, error) {
	n := &negotiator{g: g, seenOther: make(map[plumbing.Hash]bool)}
	for _, id := range wants {
		c, err := peelToCommit(g, id)
		if err != nil {
			return nil, fmt.Errorf("uploadpack: want %s: %w", id, err)
		}
		// A want that is not a commit (a tag of a tree) has no history to
		// negotiate about; git counts it as satisfied too.
		if c == nil || c.flags&isWant != 0 {
			continue
		}
		c.flags |= isWant
		n.wants = append(n.wants, c)
		n.unsatisfied++
	}
	return n, nil
}

// peelToCommit follows tags from id and returns the commit at the end, or
// nil when the chain ends at a tree or blob.
func peelToCommit(g *graph, id plumbing.Hash) (*node, error) {
	for i := 0; i < maxPeel; i++ {
		o, err := g.s.EncodedObject(plumbing.AnyObject, id)
		if err != nil {
			return nil, err
		}
		switch o.Type() {
		case plumbing.CommitObject:
			return g.commitFrom(o)
		case plumbing.TagObject:
			if id, _, err = tagTarget(o); err != nil {
				return nil, err
			}
		default:
			return nil, nil
		}
	}
	return nil, fmt.Errorf("tag chain longer than %d", maxPeel)
}

// have records one of the client's haves and reports whether we have the
// object too. Like git, a commit's parents are taken as the client's as
// well, and a commit the client was already known to have is not listed
// again in common.
func (n *negotiator) have(id plumbing.Hash) (bool, error) {
	o, err := n.g.s.EncodedObject(plumbing.AnyObject, id)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if o.Type() != plumbing.CommitObject {
		if !n.seenOther[id] {
			n.seenOther[id] = true
			n.common = append(n.common, id)
		}
		return true, nil
	}
	c, err := n.g.commitFrom(o)
	if err != nil {
		return false, err
	}
	if !n.haveOldest || c.when < n.oldest {
		n.oldest, n.haveOldest = c.when, true
	}
	if c.flags&theyHave != 0 {
		return true, nil
	}
	n.markHave(c)
	n.common = append(n.common, id)
	ps, err := n.g.parents(c)
	if err != nil {
		return false, err
	}
	for _, p := range ps {
		n.markHave(p)
	}
	return true, nil
}

// markHave notes the client has c, and so that c and everything explored
// above it reaches a commit the client has.
func (n *negotiator) markHave(c *node) {
	if c.flags&theyHave != 0 {
		return
	}
	c.flags |= theyHave
	n.markReaches(c)
}

func (n *negotiator) markReaches(c *node) {
	stack := []*node{c}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if x.flags&reaches != 0 {
			continue
		}
		x.flags |= reaches
		if x.flags&isWant != 0 {
			n.unsatisfied--
		}
		stack = append(stack, x.children...)
	}
}

// okToGiveUp reports whether every want reaches a commit the client has.
// Like git, it does not look at commits older than the oldest common
// commit: the client lists its haves newest first, so what lies below
// that is unlikely to help, and a "no" only means negotiating on.
func (n *negotiator) okToGiveUp() (bool, error) {
	if len(n.common) == 0 {
		return false, nil
	}
	if !n.started {
		// The wants are explored whatever their time.
		n.started = true
		for _, w := range n.wants {
			w.flags |= negQueued
			if err := n.explore(w); err != nil {
				return false, err
			}
		}
	}
	for n.unsatisfied > 0 && n.q.Len() > 0 && n.q.peek().when >= n.oldest {
		c := n.q.pop()
		// Whatever lies below c can only help commits above c, and those
		// already reach through c.
		if c.flags&reaches != 0 {
			continue
		}
		if err := n.explore(c); err != nil {
			return false, err
		}
	}
	return n.unsatisfied == 0, nil
}

// explore links c to its parents and queues the new ones.
func (n *negotiator) explore(c *node) error {
	if c.flags&explored != 0 {
		return nil
	}
	c.flags |= explored
	ps, err := n.g.parents(c)
	if err != nil {
		return err
	}
	for _, p := range ps {
		p.children = append(p.children, c)
		if p.flags&reaches != 0 {
			n.markReaches(c)
		}
		if p.flags&negQueued == 0 {
			p.flags |= negQueued
			n.g.push(&n.q, p)
		}
	}
	return nil
}

// negotiateV0 answers the client's haves the way git's get_common_commits
// does, until the client says "done" or, with no-done, until we have
// told it we are ready. Haves past MaxHaves are read but not looked up.
func (s *session) negotiateV0(req *request, neg *negotiator) error {
	var (
		last      plumbing.Hash // the latest common have
		gotCommon bool          // this round
		gotOther  bool          // this round
		sentReady bool
		looked    int
	)
	for {
		kind, line, err := s.r.ReadLine()
		if err != nil {
			return s.readError("haves", err)
		}
		switch {
		case kind == pktline.FlushPkt:
			// End of a round. A round of only common haves may have
			// settled it; say so before the NAK that closes the round.
			if req.ack == ackDetailed && gotCommon && !gotOther {
				ok, err := neg.okToGiveUp()
				if err != nil {
					return s.internalError(err)
				}
				if ok {
					sentReady = true
					s.w.Linef("ACK %s ready", last)
				}
			}
			if len(neg.common) == 0 || req.ack != ackSingle {
				s.w.Linef("NAK")
			}
			// With no-done the client will not send "done" after
			// hearing "ready": the final ACK and the pack follow now.
			if req.noDone && sentReady {
				s.w.Linef("ACK %s", last)
				return s.writeErr()
			}
			gotCommon, gotOther = false, false
			if err := s.writeErr(); err != nil {
				return err
			}
		case kind != pktline.Data:
			return s.clientError("protocol error: unexpected special packet in haves")
		case strings.HasPrefix(line, "have "):
			id, rest, ok := parseID(line[len("have "):])
			if !ok || rest != "" {
				return s.clientError("expected SHA1 object, got '%s'", pktline.Clip(line))
			}
			if looked >= s.opts.MaxHaves {
				// Unanswered, as if unknown: the pack only gets bigger.
				continue
			}
			looked++
			common, err := neg.have(id)
			if err != nil {
				return s.internalError(err)
			}
			if !common {
				// An unknown have cannot narrow the pack, but it is a
				// chance to tell the client it may stop.
				gotOther = true
				if req.ack == ackSingle {
					continue
				}
				ok, err := neg.okToGiveUp()
				if err != nil {
					return s.internalError(err)
				}
				if ok && req.ack == ackDetailed {
					sentReady = true
					s.w.Linef("ACK %s ready", id)
				} else if ok {
					s.w.Linef("ACK %s continue", id)
				}
				continue
			}
			gotCommon, last = true, id
			switch req.ack {
			case ackDetailed:
				s.w.Linef("ACK %s common", id)
			case ackMulti:
				s.w.Linef("ACK %s continue", id)
			default:
				if len(neg.common) == 1 {
					s.w.Linef("ACK %s", id)
				}
			}
		case line == "done":
			// The client gives up listing; the last ACK (or NAK) tells
			// it the pack follows.
			if len(neg.common) == 0 {
				s.w.Linef("NAK")
			} else if req.ack != ackSingle {
				s.w.Linef("ACK %s", last)
			}
			return s.writeErr()
		default:
			return s.clientError("expected SHA1 list, got '%s'", pktline.Clip(line))
		}
	}
}

// writeErr reports a failed write to the client.
func (s *session) writeErr() error {
	if err := s.w.Err(); err != nil {
		return fmt.Errorf("uploadpack: write: %w", err)
	}
	return nil
}
