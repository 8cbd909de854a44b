package keys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"gatehouse"
)

var _ gatehouse.WebhookService = (*WebhookService)(nil)

// WebhookService keeps webhooks and their delivery queue.
//
// Whether any webhook exists is answered without a query: a marker file
// beside the database (PATH-webhooks) exists while webhooks may. Every
// process that adds or removes webhooks keeps it in step inside its write
// transaction (which SQLite serializes across processes), so a server
// sees a webhook the command line added at its next event, and a server
// without webhooks pays one stat per event.
type WebhookService struct {
	db     *DB
	marker string

	// matches counts MatchWebhooks queries, for tests and metrics.
	matches atomic.Int64
}

// NewWebhookService returns a WebhookService backed by db.
func NewWebhookService(db *DB) *WebhookService {
	return &WebhookService{db: db, marker: webhookMarker(db)}
}

// webhookMarker is the marker file's path: next to the SQLite file, or
// in the data folder all nodes on one PostgreSQL database share, so that
// a webhook added through one node is seen by the others.
func webhookMarker(db *DB) string {
	if db.Postgres() {
		return filepath.Join(db.Dir, "webhooks.marker")
	}
	return db.Path + "-webhooks"
}

// SyncMarker brings the marker file in line with the database, which a
// restore may have changed behind it. The server calls it when it starts.
func (s *WebhookService) SyncMarker(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := s.syncMarker(ctx, tx); err != nil {
		return err
	}
	return translate(tx.Commit(), "webhooks")
}

// MatchQueries is how many times MatchWebhooks asked the database.
func (s *WebhookService) MatchQueries() int64 { return s.matches.Load() }

// syncMarker creates or removes the marker to say whether tx sees any
// webhook. It runs before the commit: a commit that then fails leaves at
// worst a marker with no webhook behind it, which costs a query.
func (s *WebhookService) syncMarker(ctx context.Context, tx *Tx) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhooks`).Scan(&n); err != nil {
		return translate(err, "webhooks")
	}
	if n > 0 {
		return os.WriteFile(s.marker, []byte("webhooks exist; see the webhooks table\n"), 0o600)
	}
	if err := os.Remove(s.marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// AnyWebhooks reports whether the marker file exists.
func (s *WebhookService) AnyWebhooks(ctx context.Context) (bool, error) {
	_, err := os.Stat(s.marker)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, err
}

// CreateWebhook validates and stores h. ErrNotFound for a repository or
// organization that does not exist.
func (s *WebhookService) CreateWebhook(ctx context.Context, h *gatehouse.Webhook) error {
	if err := gatehouse.ValidateWebhook(h); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var repoID, orgID any
	switch h.Scope {
	case gatehouse.HookRepo:
		owner, name, _ := gatehouse.ParseRepoPath(h.Target)
		r, err := findRepo(ctx, tx, owner, name)
		if err != nil {
			return err
		}
		repoID, h.Target = r.ID, r.FullName()
	case gatehouse.HookOrg:
		o, err := findOrgByName(ctx, tx, h.Target)
		if err != nil {
			return err
		}
		orgID = o.ID
	}
	if err := tx.QueryRowContext(ctx, `INSERT INTO webhooks (scope, repo_id, org_id, url, secret, events, insecure, active, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, TRUE, ?) RETURNING id`,
		string(h.Scope), repoID, orgID, h.URL, h.Secret, strings.Join(h.Events, ","), h.InsecureSkipVerify, formatTime(tx.now)).Scan(&h.ID); err != nil {
		return translate(err, "webhook")
	}
	if err := s.syncMarker(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return translate(err, "webhook")
	}
	h.Active, h.CreatedAt, h.HasSecret = true, tx.now, h.Secret != ""
	return nil
}

// webhookColumns selects a hook with its target's name; the secret comes
// last so that listings can leave it out.
const webhookColumns = `w.id, w.scope, COALESCE(ru.name || '/' || r.name, ou.name, ''), w.url, w.events, w.insecure, w.active, w.created_at, w.secret
	FROM webhooks w
	LEFT JOIN repos r ON r.id = w.repo_id LEFT JOIN users ru ON ru.id = r.owner_id
	LEFT JOIN users ou ON ou.id = w.org_id`

func queryWebhooks(ctx context.Context, tx *Tx, withSecret bool, q string, args ...any) ([]*gatehouse.Webhook, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+webhookColumns+` `+q, args...)
	if err != nil {
		return nil, translate(err, "webhooks")
	}
	defer rows.Close()
	var hs []*gatehouse.Webhook
	for rows.Next() {
		var h gatehouse.Webhook
		var scope, events string
		if err := rows.Scan(&h.ID, &scope, &h.Target, &h.URL, &events, &h.InsecureSkipVerify, &h.Active, timeDest{&h.CreatedAt}, &h.Secret); err != nil {
			return nil, translate(err, "webhooks")
		}
		h.Scope, h.Events, h.HasSecret = gatehouse.WebhookScope(scope), strings.Split(events, ","), h.Secret != ""
		if !withSecret {
			h.Secret = ""
		}
		hs = append(hs, &h)
	}
	return hs, translate(rows.Err(), "webhooks")
}

// FindWebhook returns hook id with its secret.
func (s *WebhookService) FindWebhook(ctx context.Context, id int64) (*gatehouse.Webhook, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	hs, err := queryWebhooks(ctx, tx, true, `WHERE w.id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(hs) == 0 {
		return nil, notFound("webhook %d", id)
	}
	return hs[0], nil
}

// FindWebhooks lists hooks by ID, without their secrets. A repository or
// organization that does not exist is ErrNotFound.
func (s *WebhookService) FindWebhooks(ctx context.Context, f gatehouse.WebhookFilter) ([]*gatehouse.Webhook, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	switch f.Scope {
	case "":
		return queryWebhooks(ctx, tx, false, `ORDER BY w.id`)
	case gatehouse.HookSite:
		return queryWebhooks(ctx, tx, false, `WHERE w.scope = 'site' ORDER BY w.id`)
	case gatehouse.HookOrg:
		o, err := findOrgByName(ctx, tx, f.Target)
		if err != nil {
			return nil, err
		}
		return queryWebhooks(ctx, tx, false, `WHERE w.org_id = ? ORDER BY w.id`, o.ID)
	case gatehouse.HookRepo:
		owner, name, err := gatehouse.ParseRepoPath(f.Target)
		if err != nil {
			return nil, err
		}
		r, err := findRepo(ctx, tx, owner, name)
		if err != nil {
			return nil, err
		}
		return queryWebhooks(ctx, tx, false, `WHERE w.repo_id = ? ORDER BY w.id`, r.ID)
	}
	return nil, invalid("webhook scope %q", f.Scope)
}

// DeleteWebhook removes hook id with its deliveries.
func (s *WebhookService) DeleteWebhook(ctx context.Context, id int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := execOne(ctx, tx, fmt.Sprintf("webhook %d", id), notFound("webhook %d", id), `DELETE FROM webhooks WHERE id = ?`, id); err != nil {
		return err
	}
	if err := s.syncMarker(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		// The marker may be gone while the hook stays: put it back.
		s.syncMarkerAfter(ctx)
		return translate(err, "webhook")
	}
	return nil
}

// syncMarkerAfter redoes syncMarker in a transaction of its own.
func (s *WebhookService) syncMarkerAfter(ctx context.Context) {
	tx, err := s.db.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return
	}
	defer tx.Rollback()
	if s.syncMarker(ctx, tx) == nil {
		tx.Commit()
	}
}

// MatchWebhooks returns the active hooks that hear event on owner/name.
// The repository may be gone (its deletion's event): then its own hooks
// are gone too, and the organization's and the site's still match.
func (s *WebhookService) MatchWebhooks(ctx context.Context, owner, name, event string) ([]*gatehouse.Webhook, error) {
	s.matches.Add(1)
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	hs, err := queryWebhooks(ctx, tx, true, `WHERE w.active AND (w.scope = 'site'
		OR w.org_id = (SELECT o.id FROM orgs o JOIN users u ON u.id = o.id WHERE u.name = ?)
		OR w.repo_id = (SELECT r.id FROM repos r JOIN users u ON u.id = r.owner_id WHERE u.name = ? AND r.name = ?))
		ORDER BY w.id`, owner, owner, name)
	if err != nil {
		return nil, err
	}
	var out []*gatehouse.Webhook
	for _, h := range hs {
		if h.Wants(event) {
			out = append(out, h)
		}
	}
	return out, nil
}

// EnqueueDeliveries stores ds in one transaction, due now.
func (s *WebhookService) EnqueueDeliveries(ctx context.Context, ds []*gatehouse.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO webhook_deliveries (id, hook_id, event, action, repo, payload, status, next_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)`)
	if err != nil {
		return translate(err, "webhook deliveries")
	}
	defer stmt.Close()
	now := formatTime(tx.now)
	for i, d := range ds {
		if d.ID == "" {
			d.ID = gatehouse.NewDeliveryID()
		}
		// One nanosecond apart, so that a batch lists (and is claimed) in
		// the order it was queued: ids are random, and neither database
		// has an insertion order to fall back on that both share.
		created := tx.now.Add(time.Duration(i))
		if _, err := stmt.ExecContext(ctx, d.ID, d.HookID, d.Event, d.Action, d.Repo, d.Payload, now, formatTime(created)); err != nil {
			return translate(err, "webhook delivery")
		}
		t := tx.now
		d.Status, d.NextAt, d.CreatedAt = gatehouse.DeliveryPending, &t, created
	}
	return translate(tx.Commit(), "webhook deliveries")
}

const deliveryColumns = `id, hook_id, event, action, repo, payload, attempts, status, next_at, created_at FROM webhook_deliveries`

func queryDeliveries(ctx context.Context, tx *Tx, q string, args ...any) ([]*gatehouse.Delivery, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+deliveryColumns+` `+q, args...)
	if err != nil {
		return nil, translate(err, "webhook deliveries")
	}
	defer rows.Close()
	var ds []*gatehouse.Delivery
	for rows.Next() {
		var d gatehouse.Delivery
		if err := rows.Scan(&d.ID, &d.HookID, &d.Event, &d.Action, &d.Repo, &d.Payload, &d.Attempts, &d.Status, nullTimeDest{&d.NextAt}, timeDest{&d.CreatedAt}); err != nil {
			return nil, translate(err, "webhook deliveries")
		}
		ds = append(ds, &d)
	}
	return ds, translate(rows.Err(), "webhook deliveries")
}

// ClaimDeliveries takes the due deliveries and records their next attempt
// as started, in one transaction.
func (s *WebhookService) ClaimDeliveries(ctx context.Context, now time.Time, limit int, retry func(n int) (time.Duration, bool)) ([]*gatehouse.Delivery, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	q := `WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY next_at, created_at LIMIT ?`
	if s.db.Postgres() {
		// Row by row: a delivery another node is claiming is skipped,
		// never sent twice (SQLite's single writer needs no such thing).
		q += ` FOR UPDATE SKIP LOCKED`
	}
	ds, err := queryDeliveries(ctx, tx, q, formatTime(now), limit)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		d.Attempts++
		// Should this attempt be cut short by a crash, the delivery is
		// due again after the retry delay, or never if none is left.
		var next any
		if wait, ok := retry(d.Attempts); ok {
			t := now.Add(wait)
			d.NextAt = &t
			next = formatTime(t)
		} else {
			d.NextAt = nil
		}
		status := gatehouse.DeliveryPending
		if next == nil {
			status = gatehouse.DeliveryFailed
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET attempts = ?, next_at = ?, status = ? WHERE id = ?`,
			d.Attempts, next, status, d.ID); err != nil {
			return nil, translate(err, "webhook delivery")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts (delivery_id, n, started_at, error) VALUES (?, ?, ?, 'interrupted')`,
			d.ID, d.Attempts, formatTime(now)); err != nil {
			return nil, translate(err, "webhook attempt")
		}
	}
	return ds, translate(tx.Commit(), "webhook deliveries")
}

// FinishAttempt records the end of an attempt and the delivery's status.
func (s *WebhookService) FinishAttempt(ctx context.Context, id string, a *gatehouse.DeliveryAttempt, delivered bool, next *time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	resp := a.Response
	if len(resp) > gatehouse.MaxDeliveryResponse {
		resp = resp[:gatehouse.MaxDeliveryResponse]
	}
	if err := execOne(ctx, tx, "webhook attempt", notFound("webhook delivery %s has no attempt %d", id, a.N),
		`UPDATE webhook_attempts SET duration_ms = ?, status_code = ?, error = ?, response = ? WHERE delivery_id = ? AND n = ?`,
		a.Duration.Milliseconds(), a.StatusCode, a.Error, resp, id, a.N); err != nil {
		return err
	}
	status := gatehouse.DeliveryPending
	switch {
	case delivered:
		status, next = gatehouse.DeliveryDelivered, nil
	case next == nil:
		status = gatehouse.DeliveryFailed
	}
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = ?, next_at = ? WHERE id = ?`,
		status, formatNullTime(next), id); err != nil {
		return translate(err, "webhook delivery")
	}
	return translate(tx.Commit(), "webhook delivery")
}

// NextDue returns the earliest next_at of a pending delivery.
func (s *WebhookService) NextDue(ctx context.Context) (*time.Time, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var t *time.Time
	err = tx.QueryRowContext(ctx, `SELECT next_at FROM webhook_deliveries WHERE next_at IS NOT NULL ORDER BY next_at LIMIT 1`).Scan(nullTimeDest{&t})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return t, translate(err, "webhook deliveries")
}

// FindDeliveries lists hook's newest deliveries with their attempts.
func (s *WebhookService) FindDeliveries(ctx context.Context, hookID int64, limit int) ([]*gatehouse.Delivery, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	ds, err := queryDeliveries(ctx, tx, `WHERE hook_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, hookID, limit)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.Log, err = findAttempts(ctx, tx, d.ID); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// FindDelivery returns delivery id with its attempts.
func (s *WebhookService) FindDelivery(ctx context.Context, id string) (*gatehouse.Delivery, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	ds, err := queryDeliveries(ctx, tx, `WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, notFound("webhook delivery %q", id)
	}
	if ds[0].Log, err = findAttempts(ctx, tx, id); err != nil {
		return nil, err
	}
	return ds[0], nil
}

func findAttempts(ctx context.Context, tx *Tx, id string) ([]*gatehouse.DeliveryAttempt, error) {
	rows, err := tx.QueryContext(ctx, `SELECT n, started_at, duration_ms, status_code, error, response
		FROM webhook_attempts WHERE delivery_id = ? ORDER BY n`, id)
	if err != nil {
		return nil, translate(err, "webhook attempts")
	}
	defer rows.Close()
	var as []*gatehouse.DeliveryAttempt
	for rows.Next() {
		var a gatehouse.DeliveryAttempt
		var ms int64
		if err := rows.Scan(&a.N, timeDest{&a.StartedAt}, &ms, &a.StatusCode, &a.Error, &a.Response); err != nil {
			return nil, translate(err, "webhook attempts")
		}
		a.Duration = time.Duration(ms) * time.Millisecond
		as = append(as, &a)
	}
	return as, translate(rows.Err(), "webhook attempts")
}

// PruneDeliveries removes finished deliveries created before t, with
// their attempts.
func (s *WebhookService) PruneDeliveries(ctx context.Context, before time.Time) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE next_at IS NULL AND created_at < ?`, formatTime(before))
	if err != nil {
		return 0, translate(err, "webhook deliveries")
	}
	n, _ := res.RowsAffected()
	return n, translate(tx.Commit(), "webhook deliveries")
}
