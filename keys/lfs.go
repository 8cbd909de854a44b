package keys

import (
	"context"
	"fmt"
	"strings"

	"gatehouse"
)

var _ gatehouse.LFSLockStore = (*LFSLockStore)(nil)

// LFSLockStore keeps Git LFS file locks (table lfs_locks).
type LFSLockStore struct {
	db *DB
}

// NewLFSLockStore returns an LFSLockStore backed by db.
func NewLFSLockStore(db *DB) *LFSLockStore {
	return &LFSLockStore{db: db}
}

// maxLFSLocks bounds one listing whatever the caller asks for.
const maxLFSLocks = 1000

const lfsLockColumns = `id, repo_id, path, refname, owner, created_at`

// CreateLFSLock stores l, filling ID and LockedAt. If l.Path is locked
// already, the existing lock is returned with ErrConflict. ErrInvalid for
// an empty path or owner; ErrConflict also for a repository removed
// meanwhile.
func (s *LFSLockStore) CreateLFSLock(ctx context.Context, l *gatehouse.LFSLock) (*gatehouse.LFSLock, error) {
	if l.Path == "" || l.Owner == "" || l.RepoID == 0 {
		return nil, invalid("lock needs a repository, a path and an owner")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	subject := "lock on " + quote(l.Path)
	// Looked up first, in the same write transaction, so that the
	// conflicting lock can be returned: the client shows its owner.
	held, err := queryLFSLocks(ctx, tx, `WHERE repo_id = ? AND path = ?`, l.RepoID, l.Path)
	if err != nil {
		return nil, err
	}
	if len(held) > 0 {
		return held[0], fmt.Errorf("%s held by %s: %w", subject, held[0].Owner, gatehouse.ErrConflict)
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO lfs_locks (repo_id, path, refname, owner, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		l.RepoID, l.Path, l.Ref, l.Owner, formatTime(tx.now)).Scan(&id); err != nil {
		return nil, translate(err, subject)
	}
	if err := tx.Commit(); err != nil {
		return nil, translate(err, subject)
	}
	l.ID, l.LockedAt = id, tx.now
	return l, nil
}

// FindLFSLocks lists the locks of a repository that match f, in ID
// order, at most f.Limit of them (and never more than maxLFSLocks).
func (s *LFSLockStore) FindLFSLocks(ctx context.Context, repoID int64, f gatehouse.LFSLockFilter) ([]*gatehouse.LFSLock, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	where := []string{"repo_id = ?"}
	args := []any{repoID}
	if f.Path != "" {
		where, args = append(where, "path = ?"), append(args, f.Path)
	}
	if f.ID != 0 {
		where, args = append(where, "id = ?"), append(args, f.ID)
	}
	if f.Ref != "" {
		where, args = append(where, "(refname = ? OR refname = '')"), append(args, f.Ref)
	}
	if f.After != 0 {
		where, args = append(where, "id >= ?"), append(args, f.After)
	}
	limit := f.Limit
	if limit <= 0 || limit > maxLFSLocks {
		limit = maxLFSLocks
	}
	args = append(args, limit)
	return queryLFSLocks(ctx, tx, `WHERE `+strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`, args...)
}

// DeleteLFSLock removes lock id of the repository; ErrNotFound if it has
// no such lock.
func (s *LFSLockStore) DeleteLFSLock(ctx context.Context, repoID, id int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	subject := fmt.Sprintf("lock %d", id)
	if err := execOne(ctx, tx, subject, notFound("%s", subject),
		`DELETE FROM lfs_locks WHERE repo_id = ? AND id = ?`, repoID, id); err != nil {
		return err
	}
	return translate(tx.Commit(), subject)
}

// queryLFSLocks reads the locks a WHERE (and ORDER/LIMIT) clause picks.
func queryLFSLocks(ctx context.Context, tx *Tx, clause string, args ...any) ([]*gatehouse.LFSLock, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+lfsLockColumns+` FROM lfs_locks `+clause, args...)
	if err != nil {
		return nil, translate(err, "locks")
	}
	defer rows.Close()
	var ls []*gatehouse.LFSLock
	for rows.Next() {
		var l gatehouse.LFSLock
		var created string
		if err := rows.Scan(&l.ID, &l.RepoID, &l.Path, &l.Ref, &l.Owner, &created); err != nil {
			return nil, translate(err, "locks")
		}
		if l.LockedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		ls = append(ls, &l)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "locks")
	}
	return ls, nil
}
