package odb

import (
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
)

// MaxPeel bounds a chain of tags pointing at tags.
const MaxPeel = 64

// Peel returns what the annotated tag id finally points at, through
// tags pointing at tags, or ZeroHash when id is not a tag or is missing
// (git advertises and packs such a ref without a peeled value). A chain
// longer than MaxPeel, or a tag that does not parse, is ErrCorrupt.
func (r *Reader) Peel(id plumbing.Hash) (plumbing.Hash, error) {
	target := id
	var buf []byte
	for i := 0; i <= MaxPeel; i++ {
		typ, _, err := r.Header(target)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return plumbing.ZeroHash, nil
		}
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if typ != plumbing.TagObject {
			if i == 0 {
				return plumbing.ZeroHash, nil
			}
			return target, nil
		}
		if _, buf, err = r.ReadWhole(target, plumbing.TagObject, buf[:0]); err != nil {
			return plumbing.ZeroHash, err
		}
		next, _, err := ParseTag(buf)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("tag %s: %w", target, err)
		}
		target = next
	}
	return plumbing.ZeroHash, fmt.Errorf("%w: tag %s: chain longer than %d", ErrCorrupt, id, MaxPeel)
}
