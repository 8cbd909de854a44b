package indexpack

import (
	"container/heap"
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// Type returns the type of the object id, looking in the pack and then in
// the repository. Errors: ErrMissingObject when neither has it, or an
// I/O error.
func (in *Incoming) Type(id string) (plumbing.ObjectType, error) {
	h, err := odb.ParseID(id)
	if err != nil {
		return 0, fmt.Errorf("pack: %q: %w", id, err)
	}
	if i, ok := in.lookup(h); ok {
		return in.objs[i].typ, nil
	}
	t, _, err := in.repository().Header(h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return 0, fmt.Errorf("%w: %s", ErrMissingObject, id)
	}
	if err != nil {
		return 0, fmt.Errorf("pack: look up %s: %w", id, err)
	}
	return t, nil
}

// CheckConnected checks, before any ref moves to them, that the tips and
// everything they reach are either in the pack or connected in the
// repository, git's rule (connected.c: `rev-list --objects --stdin --not
// --all`): an object outside the pack counts only if the refs as they are
// now, before this push moves any, reach it, or if it is present with
// everything it reaches down to what they reach.
//
// Presence alone is not enough: an object can be in the repository
// without what it names (left by a push refused before this check was
// strict, or put there by other means), and trusting it would let a ref
// point at a broken history. A tip in the pack needs the pack's links to
// hold (checkLinks). A tip outside it that a ref already holds costs
// nothing; any other commit outside the pack is found by a walk from the
// refs, newest first (by generation number where the commit-graph has
// one), which stops as soon as nothing left to look at is new; commits the
// refs do not reach have their trees and blobs checked for presence. A
// tree outside the pack counts when a parent outside the pack has it at
// the same path (connectTrees), else it must be complete. A fast-forward
// reads no history: its links outside the pack are the branch's old tip
// and directories that tip has.
//
// Errors: ErrMissingObject naming the first object missing, ErrCorrupt
// (a link to an object of the wrong type), ErrTooLarge (the walk passed
// its bounds), ctx's error, or an I/O error.
func (in *Incoming) CheckConnected(ctx context.Context, tips []string) error {
	for _, t := range tips {
		h, err := odb.ParseID(t)
		if err != nil {
			return fmt.Errorf("pack: tip %q: %w", t, err)
		}
		usesPack, err := in.connectTip(ctx, h)
		if err != nil {
			return err
		}
		if usesPack {
			if err := in.checkLinks(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// Walk limits for IsAncestor.
const (
	// clockSlop is how far a descendant's committer time may lie before
	// its ancestor's before the walk misses it.
	clockSlop       = 24 * 60 * 60
	maxAncestorWalk = 1 << 20
)

// IsAncestor reports whether commit ancestor is reachable from commit
// descendant, reading commits from the pack and the repository. It walks
// newest first and gives up on commits more than a day older than
// ancestor (or after a million commits), so committer clocks skewed by
// more than that can make it answer false; it informs, it does not guard.
// Errors: ErrMissingObject, ErrCorrupt, ctx's error, or an I/O error.
func (in *Incoming) IsAncestor(ctx context.Context, ancestor, descendant string) (bool, error) {
	a, err := odb.ParseID(ancestor)
	if err != nil {
		return false, fmt.Errorf("pack: %q: %w", ancestor, err)
	}
	d, err := odb.ParseID(descendant)
	if err != nil {
		return false, fmt.Errorf("pack: %q: %w", descendant, err)
	}
	if a == d {
		return true, nil
	}
	ac, err := in.commit(a)
	if err != nil {
		return false, err
	}
	q := &commitQueue{}
	seen := map[plumbing.Hash]struct{}{d: {}}
	dc, err := in.commit(d)
	if err != nil {
		return false, err
	}
	heap.Push(q, queued{d, dc})
	for n := 0; q.Len() > 0 && n < maxAncestorWalk; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return false, err
			}
		}
		c := heap.Pop(q).(queued)
		if c.info.When < ac.When-clockSlop {
			return false, nil
		}
		for _, p := range c.info.Parents {
			if p == a {
				return true, nil
			}
			if _, ok := seen[p]; ok {
				continue
			}
			seen[p] = struct{}{}
			pc, err := in.commit(p)
			if err != nil {
				return false, err
			}
			heap.Push(q, queued{p, pc})
		}
	}
	return false, nil
}

// commit reads a commit from the pack or the repository.
func (in *Incoming) commit(h plumbing.Hash) (odb.Commit, error) {
	var data []byte
	if i, ok := in.lookup(h); ok {
		if in.objs[i].typ != plumbing.CommitObject {
			return odb.Commit{}, fmt.Errorf("%w: %s is a %s, not a commit", ErrCorrupt, h, in.objs[i].typ)
		}
		var err error
		if data, err = in.content(i); err != nil {
			return odb.Commit{}, err
		}
	} else {
		typ, size, rc, err := in.repository().Read(h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return odb.Commit{}, fmt.Errorf("%w: commit %s", ErrMissingObject, h)
		}
		if err != nil {
			return odb.Commit{}, fmt.Errorf("pack: read %s: %w", h, err)
		}
		if typ != plumbing.CommitObject {
			rc.Close()
			return odb.Commit{}, fmt.Errorf("%w: commit %s", ErrMissingObject, h)
		}
		data, err = readWhole(rc, size)
		rc.Close()
		if err != nil {
			return odb.Commit{}, fmt.Errorf("pack: read %s: %w", h, err)
		}
	}
	c, err := odb.ParseCommit(data)
	if err != nil {
		return c, fmt.Errorf("%w: commit %s: %v", ErrCorrupt, h, err)
	}
	return c, nil
}

// commitQueue orders commits newest first.
type commitQueue []queued

type queued struct {
	h    plumbing.Hash
	info odb.Commit
}

func (q commitQueue) Len() int           { return len(q) }
func (q commitQueue) Less(i, j int) bool { return q[i].info.When > q[j].info.When }
func (q commitQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *commitQueue) Push(x any)        { *q = append(*q, x.(queued)) }
func (q *commitQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
