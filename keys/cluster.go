package keys

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"gatehouse"
)

var _ gatehouse.AuthFailures = (*AuthFailureService)(nil)

// AuthFailureService counts failed logins per address in the database,
// for every node that shares it (table auth_failures).
type AuthFailureService struct {
	db *DB
}

// NewAuthFailureService returns an AuthFailureService backed by db.
func NewAuthFailureService(db *DB) *AuthFailureService {
	return &AuthFailureService{db: db}
}

// Banned returns until when addr is banned, or the zero time; a ban that
// has run out is the zero time too.
func (s *AuthFailureService) Banned(ctx context.Context, addr netip.Addr) (time.Time, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return time.Time{}, err
	}
	defer tx.Rollback()
	var until string
	err = tx.QueryRowContext(ctx, `SELECT banned_until FROM auth_failures WHERE addr = ?`, addr.String()).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) || err == nil && until == "" {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, translate(err, "failed logins")
	}
	t, err := parseTime(until)
	if err != nil || !t.After(tx.now) {
		return time.Time{}, err
	}
	return t, nil
}

// AddFailure counts a failure of addr (see gatehouse.AuthFailures). The
// read and the write are one write transaction, which the store
// serialises, so two nodes counting at once both count.
func (s *AuthFailureService) AddFailure(ctx context.Context, addr netip.Addr, now time.Time, window time.Duration, limit int, ban time.Duration) (int, bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, err
	}
	defer tx.Rollback()
	var (
		start   time.Time
		n       int64
		bannedS string
	)
	err = tx.QueryRowContext(ctx, `SELECT window_start, failures, banned_until FROM auth_failures WHERE addr = ?`, addr.String()).
		Scan(timeDest{&start}, &n, &bannedS)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, false, translate(err, "failed logins")
	}
	var bannedUntil time.Time
	if bannedS != "" {
		if bannedUntil, err = parseTime(bannedS); err != nil {
			return 0, false, err
		}
	}
	now = now.UTC().Round(0)
	if now.Sub(start) > window {
		start, n = now, 0
	}
	n++
	started := false
	if limit > 0 && n > int64(limit) && !now.Before(bannedUntil) {
		// The ban is the punishment; a fresh window starts after it.
		bannedUntil, started = now.Add(ban), true
		start, n = bannedUntil, 0
	}
	banned := ""
	if !bannedUntil.IsZero() {
		banned = formatTime(bannedUntil)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO auth_failures (addr, window_start, failures, banned_until) VALUES (?, ?, ?, ?)
		ON CONFLICT (addr) DO UPDATE SET window_start = excluded.window_start, failures = excluded.failures, banned_until = excluded.banned_until`,
		addr.String(), formatTime(start), n, banned); err != nil {
		return 0, false, translate(err, "failed logins")
	}
	// Rows of addresses long quiet go on the way, so the table keeps
	// only what still counts without a janitor.
	if _, err := tx.ExecContext(ctx, `DELETE FROM auth_failures WHERE window_start < ? AND (banned_until = '' OR banned_until < ?)`,
		formatTime(now.Add(-window-time.Hour)), formatTime(now)); err != nil {
		return 0, false, translate(err, "failed logins")
	}
	if err := tx.Commit(); err != nil {
		return 0, false, translate(err, "failed logins")
	}
	if started {
		return limit + 1, true, nil
	}
	return int(n), false, nil
}

// Ping checks that the database answers a query, for health checks.
func (db *DB) Ping(ctx context.Context) error {
	tx, err := db.BeginTx(ctx, readOnly)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var one int64
	if err := tx.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return translate(err, "ping")
	}
	return nil
}

var _ gatehouse.RepoLocker = (*RepoLockService)(nil)

// pgRepoLockClass is the first key of the two-key advisory locks that
// stand for repositories (the second is the repository's id). Two-key
// locks are a key space apart from the store's single-key ones
// (pgWriteLock...), so the two never collide.
const pgRepoLockClass int32 = 0x47415446

// lockPoll bounds the pause between two tries of a busy repository lock.
const lockPoll = 200 * time.Millisecond

// RepoLockService serialises writes to one repository across the nodes
// sharing a PostgreSQL database, with a session advisory lock held on a
// connection of its own for as long as the lock is: should the node die,
// PostgreSQL ends the session and the lock goes with it.
type RepoLockService struct {
	db *DB
}

// NewRepoLockService returns the repository lock on db, or nil when db is
// SQLite: a single node (or nodes on one machine, whose lock files hold)
// needs none.
func NewRepoLockService(db *DB) *RepoLockService {
	if !db.Postgres() {
		return nil
	}
	return &RepoLockService{db: db}
}

// LockRepo takes the lock of the repository with id, trying again until
// wait has passed (pg_try_advisory_lock polled, so that ctx and wait are
// both honoured without a server-side timeout to reset).
//
// Errors: gatehouse.ErrBusy past wait; ctx's error; the database's.
func (s *RepoLockService) LockRepo(ctx context.Context, id int64, wait time.Duration) (func(), error) {
	conn, err := s.db.write.Conn(ctx)
	if err != nil {
		return nil, translate(err, "repository lock")
	}
	deadline := time.Now().Add(wait)
	for pause := 10 * time.Millisecond; ; pause = min(2*pause, lockPoll) {
		var ok bool
		err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1, $2)`, pgRepoLockClass, int32(id)).Scan(&ok)
		if err != nil {
			conn.Close()
			return nil, translate(err, "repository lock")
		}
		if ok {
			break
		}
		left := time.Until(deadline)
		if left <= 0 {
			conn.Close()
			return nil, fmt.Errorf("repository %d: %w", id, gatehouse.ErrBusy)
		}
		select {
		case <-time.After(min(pause, left)):
		case <-ctx.Done():
			conn.Close()
			return nil, ctx.Err()
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var released bool
			err := conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock($1, $2)`, pgRepoLockClass, int32(id)).Scan(&released)
			if err != nil || !released {
				// The session may still hold it: end the session, which
				// releases every lock it holds, rather than pool it.
				conn.Raw(func(any) error { return driver.ErrBadConn })
			}
			conn.Close()
		})
	}, nil
}
