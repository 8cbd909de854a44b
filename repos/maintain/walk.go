package maintain

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/bitmap"
	"gatehouse/repos/odb"
)

// history reads the commits reachable from tips, newest first, the
// annotated tags on the way, and the tips that are (or peel to) commits.
func (r *repack) history(tips []plumbing.Hash) (commits []bitmap.Commit, tags []plumbing.Hash, tipCommits []plumbing.Hash, err error) {
	seen := make(map[plumbing.Hash]bool)
	var queue commitQueue
	push := func(id plumbing.Hash) error {
		if seen[id] {
			return nil
		}
		seen[id] = true
		data, err := r.readHeld(plumbing.CommitObject, id, nil)
		if err != nil {
			return fmt.Errorf("maintain: commit %s: %w", id, err)
		}
		c, err := odb.ParseCommit(data)
		if err != nil {
			return fmt.Errorf("maintain: commit %s: %w", id, err)
		}
		queue.push(bitmap.Commit{ID: id, Tree: c.Tree, Parents: c.Parents, Time: c.When})
		return nil
	}
	tipSeen := make(map[plumbing.Hash]bool)
	for _, id := range tips {
		// Peel annotated tags down to what they name.
		for depth := 0; ; depth++ {
			typ, _, err := r.objects.Header(id)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("maintain: ref tip %s: %w", id, err)
			}
			if typ != plumbing.TagObject || depth > 16 {
				if typ == plumbing.CommitObject {
					if !tipSeen[id] {
						tipSeen[id] = true
						tipCommits = append(tipCommits, id)
					}
					if err := push(id); err != nil {
						return nil, nil, nil, err
					}
				}
				break
			}
			if !seen[id] {
				seen[id] = true
				tags = append(tags, id)
			}
			data, err := r.readHeld(plumbing.TagObject, id, nil)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("maintain: tag %s: %w", id, err)
			}
			target, _, err := odb.ParseTag(data)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("maintain: tag %s: %w", id, err)
			}
			id = target
		}
	}
	for n := 0; queue.Len() > 0; n++ {
		if n%256 == 0 {
			if err := r.ctx.Err(); err != nil {
				return nil, nil, nil, err
			}
		}
		c := queue.pop()
		commits = append(commits, c)
		for _, p := range c.Parents {
			if err := push(p); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	return commits, tags, tipCommits, nil
}

// commitQueue pops the newest commit first.
type commitQueue []bitmap.Commit

func (q commitQueue) Len() int { return len(q) }

func (q *commitQueue) push(c bitmap.Commit) {
	*q = append(*q, c)
	s := *q
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].Time >= s[i].Time {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (q *commitQueue) pop() bitmap.Commit {
	s := *q
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(s) && s[l].Time > s[m].Time {
			m = l
		}
		if l+1 < len(s) && s[l+1].Time > s[m].Time {
			m = l + 1
		}
		if m == i {
			break
		}
		s[m], s[i] = s[i], s[m]
		i = m
	}
	*q = s
	return top
}

// writeOrder lists every object once in the order of the new pack: the
// commits newest first, the annotated tags, then the rest as the old
// packs hold it (newest pack first, by offset), then loose objects. A
// client cloning reads the recent history first and in one sweep.
//
// Errors: an object of the history in none of the listed packs (a pack
// removed under us by something else than this package).
func writeOrder(commits []bitmap.Commit, tags []plumbing.Hash, packs []packFile, loose []plumbing.Hash) ([]plumbing.Hash, error) {
	type keyed struct {
		id     plumbing.Hash
		key    uint64
		listed bool
	}
	total := len(commits) + len(tags) + len(loose)
	for _, p := range packs {
		total += p.idx.Len()
	}
	all := make([]keyed, 0, total)
	for i, c := range commits {
		all = append(all, keyed{id: c.ID, key: uint64(i)})
	}
	for i, t := range tags {
		all = append(all, keyed{id: t, key: uint64(len(commits) + i)})
	}
	seq := uint64(1) << 40
	for _, p := range packs {
		rev, err := odb.NewRevIndex(p.idx, uint64(p.size))
		if err != nil {
			return nil, fmt.Errorf("maintain: %s: %w", p.name, err)
		}
		for rank := range rev.Len() {
			all = append(all, keyed{id: p.idx.ID(int(rev.Pos(rank))), key: seq, listed: true})
			seq++
		}
	}
	for _, id := range loose {
		all = append(all, keyed{id: id, key: seq, listed: true})
		seq++
	}
	slices.SortFunc(all, func(a, b keyed) int {
		if c := bytes.Compare(a.id[:], b.id[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
	// Keep each id once, at its smallest key, if some pack has it.
	out := all[:0]
	for i := 0; i < len(all); {
		j, listed := i, false
		for ; j < len(all) && all[j].id == all[i].id; j++ {
			listed = listed || all[j].listed
		}
		if !listed {
			return nil, fmt.Errorf("maintain: object %s reachable from the refs is in none of the packs", all[i].id)
		}
		out = append(out, all[i])
		i = j
	}
	slices.SortFunc(out, func(a, b keyed) int { return cmp.Compare(a.key, b.key) })
	ids := make([]plumbing.Hash, len(out))
	for i, k := range out {
		ids[i] = k.id
	}
	return ids, nil
}
