package packobjects

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"
)

// Placed is where WriteOrdered put an object.
type Placed struct {
	ID     plumbing.Hash
	Offset uint64 // of its entry in the pack written
}

// WriteOrdered writes to w a self-contained pack of the objects objs, as
// Write does, but in the order given (duplicates are written once, where
// first listed), except that a delta's base is moved ahead of it when it
// comes later. Deltas name their base by offset. It is the writer of a
// repack: the order is chosen for the readers of the new pack.
//
// It returns where each object went, sorted by offset, so the caller can
// index the pack. Errors are Write's.
func WriteOrdered(ctx context.Context, gitDir string, objs []plumbing.Hash, w io.Writer) ([]Placed, Stats, error) {
	packs, release, err := openSources(gitDir, nil)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("pack-objects: open packs: %w", err)
	}
	defer release()
	wr := &writer{ctx: ctx, gitDir: gitDir, packs: packs, opts: Options{OfsDelta: true}}
	defer wr.close()
	if err := wr.plan(objs); err != nil {
		return nil, Stats{}, fmt.Errorf("pack-objects: %w", err)
	}
	// plan visited the entries in source order; write them in ours.
	order := wr.order[:0]
	for _, h := range objs {
		i, _ := wr.lookup(h)
		order = append(order, i)
	}
	wr.order = order
	if err := wr.write(w); err != nil {
		return nil, wr.stats, err
	}
	placed := make([]Placed, len(wr.ents))
	for i := range wr.ents {
		placed[i] = Placed{ID: wr.ents[i].hash, Offset: wr.ents[i].outOff}
	}
	slices.SortFunc(placed, func(a, b Placed) int { return cmp.Compare(a.Offset, b.Offset) })
	return placed, wr.stats, nil
}
