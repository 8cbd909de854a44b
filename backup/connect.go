package backup

import (
	"context"
	"fmt"

	"gatehouse/repos/fsck"
)

// checkConnected walks everything the refs and a detached HEAD of the
// repository at gitDir reach (repos/fsck, as git fsck
// --connectivity-only does) and returns how many objects they reach.
//
// Errors: ErrDamaged naming the first problem found; ctx.Err().
func checkConnected(ctx context.Context, gitDir string) (int, error) {
	rep, err := fsck.Check(ctx, gitDir)
	if err != nil {
		return 0, err
	}
	if !rep.OK() {
		return 0, fmt.Errorf("%s (%d problems): %w", rep.Problems[0], len(rep.Problems)+rep.More, ErrDamaged)
	}
	return int(rep.Objects), nil
}
