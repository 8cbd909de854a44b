package backup

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// checkConnected walks everything the tips reach in the repository at
// gitDir, as git fsck --connectivity-only does: commits, trees and tags
// are read (and must parse), blobs need only be there. It returns how
// many objects the tips reach. Submodule commits (gitlinks) are not
// followed.
//
// Errors: ErrDamaged naming a missing or damaged object; ctx.Err().
func checkConnected(ctx context.Context, gitDir string, tips []string) (int, error) {
	r := odb.OpenReader(gitDir, odb.Limits{})
	defer r.Close()
	type item struct {
		id  plumbing.Hash
		typ plumbing.ObjectType // AnyObject for a tip
	}
	seen := make(map[plumbing.Hash]struct{})
	var stack []item
	for _, tip := range tips {
		id, err := odb.ParseID(tip)
		if err != nil {
			return 0, fmt.Errorf("ref to %q: %w", tip, ErrDamaged)
		}
		stack = append(stack, item{id, plumbing.AnyObject})
	}
	var buf []byte
	for n := 0; len(stack) > 0; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, ok := seen[it.id]; ok {
			continue
		}
		seen[it.id] = struct{}{}
		if it.typ == plumbing.BlobObject {
			ok, err := r.Has(it.id)
			if err != nil {
				return 0, fmt.Errorf("blob %s: %w: %w", it.id, ErrDamaged, err)
			}
			if !ok {
				return 0, fmt.Errorf("blob %s is missing: %w", it.id, ErrDamaged)
			}
			continue
		}
		typ, data, err := r.ReadWhole(it.id, it.typ, buf)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return 0, fmt.Errorf("%s %s is missing: %w", typeName(it.typ), it.id, ErrDamaged)
		}
		if err != nil {
			return 0, fmt.Errorf("%s %s: %w: %w", typeName(it.typ), it.id, ErrDamaged, err)
		}
		switch typ {
		case plumbing.CommitObject:
			c, err := odb.ParseCommit(data)
			if err != nil {
				return 0, fmt.Errorf("commit %s: %w: %w", it.id, ErrDamaged, err)
			}
			stack = append(stack, item{c.Tree, plumbing.TreeObject})
			for _, p := range c.Parents {
				stack = append(stack, item{p, plumbing.CommitObject})
			}
		case plumbing.TreeObject:
			iter := odb.NewTreeIter(data)
			var e odb.TreeEntry
			for iter.Next(&e) {
				switch e.Mode {
				case odb.ModeDir:
					stack = append(stack, item{e.ID, plumbing.TreeObject})
				case odb.ModeGitlink:
				default:
					stack = append(stack, item{e.ID, plumbing.BlobObject})
				}
			}
			if err := iter.Err(); err != nil {
				return 0, fmt.Errorf("tree %s: %w: %w", it.id, ErrDamaged, err)
			}
		case plumbing.TagObject:
			target, ttype, err := odb.ParseTag(data)
			if err != nil {
				return 0, fmt.Errorf("tag %s: %w: %w", it.id, ErrDamaged, err)
			}
			stack = append(stack, item{target, ttype})
		}
		buf = data[:0]
	}
	return len(seen), nil
}

func typeName(t plumbing.ObjectType) string {
	if t == plumbing.AnyObject {
		return "object"
	}
	return t.String()
}
