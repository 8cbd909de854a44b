package uploadpack

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/bitmap"
)

// fromBitmap lists the objects of a clone of the whole history of the
// wants with the repository's reachability bitmap, the way git's
// prepare_bitmap_walk does: a wanted commit that has a bitmap brings in
// everything it reaches at once; one that has none (pushed since the
// bitmap was written) is walked, commit by commit, down to commits that
// have one, and its trees are walked skipping whatever is already in.
// The memory used is one bit per object of the bitmapped pack, plus a set
// of the objects outside it.
//
// ok is false, with a nil error, when the repository has no usable
// bitmap: the caller walks instead. A damaged bitmap counts as none (its
// checksums are verified; the walk reads the objects themselves).
func (w *walk) fromBitmap(req *request, adv *advertisement) (out []plumbing.Hash, ok bool, err error) {
	if w.g.dir == "" {
		return nil, false, nil
	}
	packs, err := w.g.packs()
	if err != nil {
		return nil, false, nil
	}
	x, err := bitmap.Open(packs)
	if err != nil {
		return nil, false, nil
	}
	set := bitmap.NewSet(x.Len())
	outside := make(map[plumbing.Hash]bool)
	var extra []plumbing.Hash // outside, in the order found
	has := func(id plumbing.Hash) bool {
		if b, ok := x.Find(id); ok {
			return set.Has(b)
		}
		return outside[id]
	}
	add := func(id plumbing.Hash) {
		if b, ok := x.Find(id); ok {
			set.Add(b)
		} else if !outside[id] {
			outside[id] = true
			extra = append(extra, id)
		}
	}
	var wanted []*node
	var commits, trees []plumbing.Hash
	for _, id := range req.wants {
		err := w.peel(id, false, func(c *node) { wanted = append(wanted, c) },
			func(t plumbing.Hash) error { trees = append(trees, t); return nil },
			add)
		if err != nil {
			return nil, false, err
		}
		// peel does not add the tags it follows when send is false:
		// add them here.
		if err := w.peelTags(id, add); err != nil {
			return nil, false, err
		}
	}
	// Newest last, so it is taken first: its bitmap usually holds the
	// older wants (tags along a branch), which are then skipped instead
	// of having their own bitmaps decoded, each one bit per object.
	slices.SortStableFunc(wanted, func(a, b *node) int { return cmp.Compare(a.when, b.when) })
	for _, c := range wanted {
		commits = append(commits, c.id)
	}
	// Commits first, so that the bitmaps they bring in spare tree walks.
	for len(commits) > 0 {
		if err := w.tick(); err != nil {
			return nil, false, err
		}
		id := commits[len(commits)-1]
		commits = commits[:len(commits)-1]
		if has(id) {
			continue // in a bitmap already, with all it reaches
		}
		reach, found, err := x.Reach(id)
		if err != nil {
			return nil, false, nil // damaged: walk instead
		}
		if found {
			set.Or(reach)
			continue
		}
		add(id)
		c, err := w.g.commit(id)
		if err != nil {
			return nil, false, fmt.Errorf("commit %s: %w", id, err)
		}
		trees = append(trees, c.tree)
		commits = append(commits, c.parentIDs...)
	}
	for _, root := range trees {
		if err := w.walkTree(root, has, add); err != nil {
			return nil, false, err
		}
	}
	if req.includeTag && adv.hasTags {
		if err := w.includeTags(adv, has, add); err != nil {
			return nil, false, err
		}
	}
	out = make([]plumbing.Hash, 0, set.Count()+len(extra))
	set.Each(func(b int) { out = append(out, x.Hash(b)) })
	out = append(out, extra...)
	return out, true, nil
}

// peelTags adds the tags met following id to what it names.
func (w *walk) peelTags(id plumbing.Hash, add func(plumbing.Hash)) error {
	for i := 0; i < maxPeel; i++ {
		o, err := w.g.s.EncodedObject(plumbing.AnyObject, id)
		if err != nil {
			return fmt.Errorf("object %s: %w", id, err)
		}
		if o.Type() != plumbing.TagObject {
			return nil
		}
		add(id)
		if id, _, err = tagTarget(o); err != nil {
			return err
		}
	}
	return fmt.Errorf("object %s: tag chain longer than %d", id, maxPeel)
}
