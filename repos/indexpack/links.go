package indexpack

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// linkShards spreads the link set over locks, so the resolving workers
// rarely wait on each other.
const linkShards = 64

// linkSet is every object the pack's commits, trees and tags name, each
// with the type the naming object expects of it. It is filled while the
// objects go by anyway (whole ones in scan, deltas in resolve), so the
// connectivity check needs no second read of any object: a pack of
// thousands of trees is not inflated twice. Its size is that of the set of
// distinct ids named, about the pack's object count.
type linkSet struct {
	shards [linkShards]struct {
		sync.Mutex
		m map[plumbing.Hash]plumbing.ObjectType
	}
	// conflict is the first id named with two different types.
	conflict error
	once     sync.Once
}

// linkFilter is one goroutine's memory of links it recorded lately, a
// direct-mapped table: most entries of a tree are the same as in the
// tree it was a delta against, resolved just before, so most links are
// found here and never reach the shared, locked set. Its slots are a
// power of two, at most as many as the pack has objects (see
// newLinkFilter): a push of a few thousand objects does not pay for the
// table of a large one.
type linkFilter struct {
	mask  uint16
	slots []linkSlot
}

type linkSlot struct {
	id plumbing.Hash
	t  plumbing.ObjectType
}

// Bounds on a linkFilter's slots: 4096 slots take 84 KiB. What it catches
// is near in time (the entries of the tree just before), so a larger
// table buys no speed (BenchmarkReceive on 81,000 objects), only memory,
// one table per resolving goroutine.
const (
	minLinkSlots = 1 << 8
	maxLinkSlots = 1 << 12
)

// newLinkFilter returns a filter for a pack of n objects: the smallest
// power of two of slots at least n, within minLinkSlots and maxLinkSlots.
func newLinkFilter(n int) *linkFilter {
	size := minLinkSlots
	for size < n && size < maxLinkSlots {
		size <<= 1
	}
	return &linkFilter{mask: uint16(size - 1), slots: make([]linkSlot, size)}
}

// add records that id must be an object of type t.
func (s *linkSet) add(f *linkFilter, id plumbing.Hash, t plumbing.ObjectType) {
	slot := &f.slots[binary.LittleEndian.Uint16(id[8:])&f.mask]
	if slot.id == id && slot.t == t {
		return
	}
	slot.id, slot.t = id, t
	sh := &s.shards[id[0]%linkShards]
	sh.Lock()
	if sh.m == nil {
		sh.m = make(map[plumbing.Hash]plumbing.ObjectType)
	}
	if old, ok := sh.m[id]; !ok {
		sh.m[id] = t
	} else if old != t {
		s.once.Do(func() {
			s.conflict = fmt.Errorf("%w: %s is named both as a %s and as a %s", ErrCorrupt, id, old, t)
		})
	}
	sh.Unlock()
}

// record checks that a commit, tree or tag is well formed and adds what
// it names to s. The checks are a subset of `git fsck`, chosen to refuse
// what would break readers (and trees naming ".git", which would let a
// checkout write into .git) without refusing the odd but harmless history
// found in old repositories. Blobs are always fine.
// f is the calling goroutine's own filter.
func (s *linkSet) record(f *linkFilter, t plumbing.ObjectType, data []byte) error {
	switch t {
	case plumbing.CommitObject:
		c, err := odb.ParseCommit(data)
		if err != nil {
			return err
		}
		s.add(f, c.Tree, plumbing.TreeObject)
		for _, p := range c.Parents {
			s.add(f, p, plumbing.CommitObject)
		}
	case plumbing.TreeObject:
		return walkTree(data, func(mode uint32, _ []byte, id plumbing.Hash) error {
			switch mode {
			case odb.ModeGitlink:
				// A submodule's commit lives in another repository.
			case odb.ModeDir:
				s.add(f, id, plumbing.TreeObject)
			default:
				s.add(f, id, plumbing.BlobObject)
			}
			return nil
		})
	case plumbing.TagObject:
		target, tt, err := odb.ParseTag(data)
		if err != nil {
			return err
		}
		s.add(f, target, tt)
	}
	return nil
}

// checkLinks checks, once per pack, that every object the pack's objects
// name is either in the pack with the expected type or connected in the
// repository (see CheckConnected). Together with connectTip that makes
// everything the tips reach present: an object in the pack has its links
// checked here.
//
// Outside the pack, a commit must be connected by the rule of
// connectCommits, a tag's target in turn, and a blob present. A tree
// must be reached by the refs too (connectTrees), or be complete.
//
// This is stricter than a walk from the tips: an object the client sent
// but no tip reaches must be connected too, as with git's
// `index-pack --strict`. Git clients only send what the pushed tips
// reach, so only a broken or hostile client notices.
func (in *Incoming) checkLinks(ctx context.Context) error {
	if in.linksChecked {
		return in.linksErr
	}
	in.linksErr = in.checkLinksOnce(ctx)
	if ctx.Err() == nil {
		in.linksChecked = true
	}
	return in.linksErr
}

func (in *Incoming) checkLinksOnce(ctx context.Context) error {
	if in.links.conflict != nil {
		return in.links.conflict
	}
	var commits, tags []plumbing.Hash
	trees := make(map[plumbing.Hash]struct{})
	n := 0
	for i := range in.links.shards {
		for id, want := range in.links.shards[i].m {
			if n++; n&4095 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if j, ok := in.lookup(id); ok {
				if got := in.objs[j].typ; got != want {
					return fmt.Errorf("%w: %s is a %s where a %s is expected", ErrCorrupt, id, got, want)
				}
				if !in.objs[j].external {
					continue
				}
			}
			switch want {
			case plumbing.CommitObject:
				commits = append(commits, id)
				continue
			case plumbing.TagObject:
				tags = append(tags, id)
				continue
			case plumbing.TreeObject:
				trees[id] = struct{}{}
			}
			ok, err := in.inRepo(id)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: %s", ErrMissingObject, id)
			}
		}
	}
	// Sorted, so that the first missing object named is always the same.
	slices.SortFunc(commits, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
	if _, err := in.connectCommits(ctx, commits); err != nil {
		return err
	}
	for _, id := range tags {
		if _, err := in.connectTip(ctx, id); err != nil {
			return err
		}
	}
	return in.connectTrees(ctx, trees)
}

// connectTrees checks that the trees outside the pack that the pack's
// objects name, all present, are connected. Most are directories a new
// commit leaves as its parent had them: the pack's trees of each commit
// whose parent is outside the pack (and so connected) are laid beside the
// parent's trees, path by path, and a tree found at the same path in both
// is connected. That reads the pack's trees of those commits and as many
// of the parent's, not the whole tree. Any tree left (a directory brought
// back from older history, a tag's tree) must be complete (checkTree),
// as git's rev-list would find by walking it.
func (in *Incoming) connectTrees(ctx context.Context, trees map[plumbing.Hash]struct{}) error {
	if len(trees) == 0 {
		return nil
	}
	type pair struct{ ours, theirs plumbing.Hash }
	seen := make(map[pair]struct{})
	var stack []pair
	for i := range in.objs {
		if len(trees) == 0 {
			return nil
		}
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		o := &in.objs[i]
		if o.typ != plumbing.CommitObject || o.external {
			continue
		}
		data, err := in.content(int32(i))
		if err != nil {
			return err
		}
		c, err := odb.ParseCommit(data)
		if err != nil {
			return fmt.Errorf("%w: commit %s: %v", ErrCorrupt, o.hash, err)
		}
		for _, p := range c.Parents {
			if in.inPack(p) {
				continue
			}
			// Connected by now (checkLinksOnce), so loaded by the walk
			// unless a ref holds it.
			pn, err := in.reachNode(p)
			if err != nil {
				return err
			}
			stack = append(stack, pair{c.Tree, pn.tree})
		}
		for len(stack) > 0 {
			pr := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if _, ok := seen[pr]; ok {
				continue
			}
			seen[pr] = struct{}{}
			if pr.ours == pr.theirs {
				delete(trees, pr.ours)
				continue
			}
			if !in.inPack(pr.ours) {
				continue // a tree of its own, left for checkTree
			}
			theirs, err := in.treeEntries(pr.theirs)
			if err != nil {
				return err
			}
			ours, err := in.content(in.index(pr.ours))
			if err != nil {
				return err
			}
			err = walkTree(ours, func(mode uint32, name []byte, id plumbing.Hash) error {
				if mode != odb.ModeDir {
					return nil
				}
				if t, ok := theirs.byName[string(name)]; ok {
					stack = append(stack, pair{id, t})
				} else if _, ok := theirs.ids[id]; ok {
					delete(trees, id) // renamed within the directory
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("%w: tree %s: %v", ErrCorrupt, pr.ours, err)
			}
		}
	}
	for id := range trees {
		if _, err := in.checkTree(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// subdirs are the subdirectories of a tree.
type subdirs struct {
	byName map[string]plumbing.Hash
	ids    map[plumbing.Hash]struct{}
}

// treeEntries returns the subdirectories of a connected tree; none when
// it cannot be read, which only leaves more to checkTree.
func (in *Incoming) treeEntries(id plumbing.Hash) (subdirs, error) {
	var data []byte
	var err error
	if in.inPack(id) {
		data, err = in.content(in.index(id))
	} else {
		data, err = in.readRepo(plumbing.TreeObject, id)
		if errors.Is(err, ErrMissingObject) || errors.Is(err, ErrCorrupt) {
			return subdirs{}, nil
		}
	}
	if err != nil {
		return subdirs{}, err
	}
	d := subdirs{byName: make(map[string]plumbing.Hash), ids: make(map[plumbing.Hash]struct{})}
	walkTree(data, func(mode uint32, name []byte, id plumbing.Hash) error {
		if mode == odb.ModeDir {
			d.byName[string(name)] = id
			d.ids[id] = struct{}{}
		}
		return nil
	})
	return d, nil
}
