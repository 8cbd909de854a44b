package keys

import (
	"context"

	"gatehouse"
)

var _ gatehouse.ProtectionService = (*ProtectionService)(nil)

// ProtectionService keeps protected branch patterns.
type ProtectionService struct {
	db *DB
}

// NewProtectionService returns a ProtectionService backed by db.
func NewProtectionService(db *DB) *ProtectionService {
	return &ProtectionService{db: db}
}

// AddProtectedBranch adds pattern to owner/name, or replaces its
// admin-only setting if it is there already. The pattern is normalized by
// gatehouse.NormalizeBranchPattern; ErrInvalid if it is malformed,
// ErrNotFound for an unknown repository.
func (s *ProtectionService) AddProtectedBranch(ctx context.Context, owner, name, pattern string, adminOnly bool) (*gatehouse.ProtectedBranch, error) {
	p, err := gatehouse.NormalizeBranchPattern(pattern)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	r, err := findRepo(ctx, tx, owner, name)
	if err != nil {
		return nil, err
	}
	// Replacing keeps the pattern's creation time: it is the same rule,
	// made stricter or looser.
	if _, err := tx.ExecContext(ctx, `INSERT INTO protected_branches (repo_id, pattern, admin_only, created_at)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (repo_id, pattern) DO UPDATE SET admin_only = excluded.admin_only`,
		r.ID, p, adminOnly, formatTime(tx.now)); err != nil {
		return nil, translate(err, "protected branch "+quote(p))
	}
	pbs, err := findProtected(ctx, tx, r.ID)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, translate(err, "protected branch "+quote(p))
	}
	for _, pb := range pbs {
		if pb.Pattern == p {
			return pb, nil
		}
	}
	return &gatehouse.ProtectedBranch{Pattern: p, AdminOnly: adminOnly, CreatedAt: tx.now}, nil
}

// FindProtectedBranches lists the patterns of owner/name in pattern order;
// ErrNotFound for an unknown repository.
func (s *ProtectionService) FindProtectedBranches(ctx context.Context, owner, name string) ([]*gatehouse.ProtectedBranch, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	r, err := findRepo(ctx, tx, owner, name)
	if err != nil {
		return nil, err
	}
	return findProtected(ctx, tx, r.ID)
}

// RemoveProtectedBranch removes pattern (normalized as when added) from
// owner/name. ErrNotFound for an unknown repository or pattern.
func (s *ProtectionService) RemoveProtectedBranch(ctx context.Context, owner, name, pattern string) error {
	p, err := gatehouse.NormalizeBranchPattern(pattern)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	r, err := findRepo(ctx, tx, owner, name)
	if err != nil {
		return err
	}
	if err := execOne(ctx, tx, "protected branch "+quote(p), notFound("repository %s has no protected branch pattern %s", quote(r.FullName()), quote(p)),
		`DELETE FROM protected_branches WHERE repo_id = ? AND pattern = ?`, r.ID, p); err != nil {
		return err
	}
	return translate(tx.Commit(), "protected branch "+quote(p))
}

// findProtected lists a repository's patterns; AccessFacts uses it too.
func findProtected(ctx context.Context, tx *Tx, repoID int64) ([]*gatehouse.ProtectedBranch, error) {
	rows, err := tx.QueryContext(ctx, `SELECT pattern, admin_only, created_at FROM protected_branches
		WHERE repo_id = ? ORDER BY pattern`, repoID)
	if err != nil {
		return nil, translate(err, "protected branches")
	}
	defer rows.Close()
	var pbs []*gatehouse.ProtectedBranch
	for rows.Next() {
		var pb gatehouse.ProtectedBranch
		var created string
		if err := rows.Scan(&pb.Pattern, &pb.AdminOnly, &created); err != nil {
			return nil, translate(err, "protected branches")
		}
		// Rows older than migration 0004 have no creation time.
		if created != "" {
			if pb.CreatedAt, err = parseTime(created); err != nil {
				return nil, err
			}
		}
		pbs = append(pbs, &pb)
	}
	return pbs, translate(rows.Err(), "protected branches")
}
