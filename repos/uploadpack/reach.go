package uploadpack

import (
	"errors"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// checkWants accepts wants of advertised ids at once, including ids an
// earlier advertisement of this session showed (a v2 client lists refs,
// then fetches what it saw, and a push may move a ref in between; v0
// serves what it advertised too), and of any other
// object only when some ref reaches it (allow-reachable-sha1-in-want, and
// what protocol v2 clients rely on to fetch the objects a partial clone
// left out). An object that exists but no ref reaches, such as one left by
// a refused push, is refused exactly like one that does not exist.
func (s *session) checkWants(req *request, adv *advertisement) error {
	var missing []plumbing.Hash
	for _, id := range req.wants {
		if !adv.tips[id] && !s.shown[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	bad, err := s.unreachable(adv, missing)
	if err != nil {
		return s.internalError(fmt.Errorf("uploadpack: check wants: %w", err))
	}
	if !bad.IsZero() {
		return s.clientError("not our ref %s", bad)
	}
	return nil
}

// unreachable returns one of ids that no ref reaches, or ZeroHash when
// every one is reachable. Only commits are walked when only commits are
// asked for; trees and blobs need the trees walked too.
func (s *session) unreachable(adv *advertisement, ids []plumbing.Hash) (plumbing.Hash, error) {
	left := make(map[plumbing.Hash]bool, len(ids))
	needTrees := false
	for _, id := range ids {
		o, err := s.g.s.EncodedObject(plumbing.AnyObject, id)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return id, nil
		}
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if o.Type() == plumbing.TreeObject || o.Type() == plumbing.BlobObject {
			needTrees = true
		}
		left[id] = true
	}
	seen := make(map[plumbing.Hash]bool)
	var commits []plumbing.Hash
	// visit records id as reached and reports whether to look inside it.
	visit := func(id plumbing.Hash) bool {
		if seen[id] {
			return false
		}
		seen[id] = true
		delete(left, id)
		return true
	}
	for _, r := range adv.refs {
		id := r.id
		// Tags on the way are reachable objects too.
		for i := 0; i < maxPeel && visit(id); i++ {
			o, err := s.g.s.EncodedObject(plumbing.AnyObject, id)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			if o.Type() == plumbing.CommitObject {
				commits = append(commits, id)
				break
			}
			if o.Type() != plumbing.TagObject {
				if o.Type() == plumbing.TreeObject && needTrees {
					if err := s.reachTree(id, visit, left); err != nil {
						return plumbing.ZeroHash, err
					}
				}
				break
			}
			if id, _, err = tagTarget(o); err != nil {
				return plumbing.ZeroHash, err
			}
		}
	}
	for steps := 0; len(commits) > 0 && len(left) > 0; steps++ {
		if steps%256 == 0 {
			if err := s.ctx.Err(); err != nil {
				return plumbing.ZeroHash, err
			}
		}
		c, err := s.g.commit(commits[len(commits)-1])
		if err != nil {
			return plumbing.ZeroHash, err
		}
		commits = commits[:len(commits)-1]
		if needTrees {
			if err := s.reachTree(c.tree, visit, left); err != nil {
				return plumbing.ZeroHash, err
			}
		}
		for _, p := range c.parentIDs {
			if visit(p) {
				commits = append(commits, p)
			}
		}
	}
	for id := range left {
		return id, nil
	}
	return plumbing.ZeroHash, nil
}

// reachTree visits root and everything below it until nothing is left
// to find.
func (s *session) reachTree(root plumbing.Hash, visit func(plumbing.Hash) bool, left map[plumbing.Hash]bool) error {
	if !visit(root) {
		return nil
	}
	stack := []plumbing.Hash{root}
	var buf []byte
	for len(stack) > 0 && len(left) > 0 {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		data, err := readTree(s.g.s, id, buf)
		if err != nil {
			return fmt.Errorf("tree %s: %w", id, err)
		}
		buf = data
		entries := odb.NewTreeIter(data)
		var e odb.TreeEntry
		for entries.Next(&e) {
			if e.Mode == odb.ModeGitlink || !visit(e.ID) {
				continue
			}
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

// readTree returns the content of tree id, read into buf if it is large
// enough.
func readTree(s objectReader, id plumbing.Hash, buf []byte) ([]byte, error) {
	return readTyped(s, plumbing.TreeObject, id, buf)
}

// readObject returns o's content, read into buf if it is large enough.
func readObject(o plumbing.EncodedObject, buf []byte) ([]byte, error) {
	size := o.Size()
	if int64(cap(buf)) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	r, err := o.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}
