package odb

import (
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
)

// Has says whether the repository has the object id, from the packs'
// indexes and the loose objects' names alone: nothing is read. Like
// Header, it lists the packs again once before believing id missing.
// Errors: listing or opening the packs.
func (r *Reader) Has(id plumbing.Hash) (bool, error) {
	err := r.retry(func() error {
		_, err := r.find(id)
		return err
	})
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("odb: object %s: %w", id, err)
	}
	return true, nil
}
