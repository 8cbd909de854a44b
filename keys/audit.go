package keys

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"gatehouse"
)

var _ gatehouse.AuditService = (*AuditService)(nil)

// Limits for FindAuditEvents.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuditService keeps the audit log in the database.
type AuditService struct {
	db *DB
}

// NewAuditService returns an AuditService backed by db.
func NewAuditService(db *DB) *AuditService {
	return &AuditService{db: db}
}

// RecordEvent stores e, filling ID and, if zero, Time.
func (s *AuditService) RecordEvent(ctx context.Context, e *gatehouse.AuditEvent) error {
	return s.RecordEvents(ctx, []*gatehouse.AuditEvent{e})
}

// RecordEvents stores events in one transaction, in their order, filling
// each one's ID and, if zero, Time (the same for all of them). On error
// nothing is stored and no event is changed. A nil event is
// gatehouse.ErrInvalid.
func (s *AuditService) RecordEvents(ctx context.Context, events []*gatehouse.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	if i := slices.Index(events, nil); i >= 0 {
		return fmt.Errorf("audit event %d is nil: %w", i, gatehouse.ErrInvalid)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit_log (time, actor, action, repo, detail, address)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`)
	if err != nil {
		return translate(err, "audit log")
	}
	defer stmt.Close()
	// Callers may stamp an event with when it happened (a push that took
	// minutes); otherwise it is when it was recorded. The events are only
	// changed once all of them are committed.
	ids := make([]int64, len(events))
	for i, e := range events {
		t := e.Time
		if t.IsZero() {
			t = tx.now
		}
		// Text from the wire (a ref name may be any bytes) is kept as
		// valid UTF-8, which PostgreSQL requires: the entry is written on
		// either database, the same way.
		err := stmt.QueryRowContext(ctx, formatTime(t), validUTF8(e.Actor), validUTF8(e.Action), validUTF8(e.Repo),
			validUTF8(e.Detail), validUTF8(e.Address)).Scan(&ids[i])
		if err != nil {
			return translate(err, "audit event "+quote(e.Action))
		}
	}
	if err := tx.Commit(); err != nil {
		return translate(err, "audit log")
	}
	for i, e := range events {
		e.ID = ids[i]
		if e.Time.IsZero() {
			e.Time = tx.now
		}
	}
	return nil
}

// FindAuditEvents returns the newest events matching f, at most f.Limit
// (DefaultAuditLimit when zero or less, never more than MaxAuditLimit),
// oldest first. Since is inclusive.
func (s *AuditService) FindAuditEvents(ctx context.Context, f gatehouse.AuditFilter) ([]*gatehouse.AuditEvent, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	// Conditions are only ever these fixed strings; values go as arguments.
	var where []string
	var args []any
	if f.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, f.Actor)
	}
	if f.Repo != "" {
		where, args = append(where, "repo = ?"), append(args, f.Repo)
	}
	if !f.Since.IsZero() {
		// Fixed-width UTC text compares like the times it holds.
		where, args = append(where, "time >= ?"), append(args, formatTime(f.Since))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	limit = min(limit, MaxAuditLimit)

	q := `SELECT id, time, actor, action, repo, detail, address FROM audit_log`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	// Newest first to apply the limit, turned around below.
	// id breaks ties between events stamped with the same time.
	q += ` ORDER BY time DESC, id DESC LIMIT ?`
	args = append(args, limit)

	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate(err, "audit log")
	}
	defer rows.Close()
	var events []*gatehouse.AuditEvent
	for rows.Next() {
		var e gatehouse.AuditEvent
		if err := rows.Scan(&e.ID, timeDest{&e.Time}, &e.Actor, &e.Action, &e.Repo, &e.Detail, &e.Address); err != nil {
			return nil, translate(err, "audit log")
		}
		events = append(events, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "audit log")
	}
	slices.Reverse(events)
	return events, nil
}

// validUTF8 replaces each run of bytes that is not UTF-8 with U+FFFD.
func validUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
