package keys

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gatehouse"
)

var _ gatehouse.TokenService = (*TokenService)(nil)

// maxTokenName bounds a token's label.
const maxTokenName = 100

// TokenService keeps API tokens in the database, by digest only.
type TokenService struct {
	db *DB
}

// NewTokenService returns a TokenService backed by db.
func NewTokenService(db *DB) *TokenService {
	return &TokenService{db: db}
}

// CreateToken stores a new token for user and returns it with its secret.
// ErrNotFound for an unknown user; ErrInvalid for a long name, an unknown
// scope or an expiry that has passed.
func (s *TokenService) CreateToken(ctx context.Context, user, name string, scope gatehouse.TokenScope, expiresAt *time.Time) (*gatehouse.Token, string, error) {
	if len(name) > maxTokenName {
		return nil, "", invalid("token name must be at most %d bytes", maxTokenName)
	}
	if scope < gatehouse.ScopeRead || scope > gatehouse.ScopeAdmin {
		return nil, "", invalid("token scope %d must be read, write or admin", int(scope))
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, "", err
	}
	defer tx.Rollback()

	if expiresAt != nil && !expiresAt.After(tx.now) {
		return nil, "", invalid("token expiry %s is in the past", expiresAt.UTC().Format(time.RFC3339))
	}
	u, err := findUserByName(ctx, tx, user)
	if err != nil {
		return nil, "", err
	}
	secret, hash := newSecret(prefixToken)
	t := &gatehouse.Token{UserID: u.ID, User: u.Name, Name: name, Scope: scope, CreatedAt: tx.now}
	if expiresAt != nil {
		e := expiresAt.UTC().Round(0)
		t.ExpiresAt = &e
	}
	if err := tx.QueryRowContext(ctx, `INSERT INTO api_tokens (user_id, hash, name, scope, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		u.ID, hash, name, int(scope), formatTime(t.CreatedAt), formatNullTime(t.ExpiresAt)).Scan(&t.ID); err != nil {
		return nil, "", translate(err, "token for "+quote(user))
	}
	if err := tx.Commit(); err != nil {
		return nil, "", translate(err, "token for "+quote(user))
	}
	return t, secret, nil
}

// FindTokens lists user's tokens, newest first.
func (s *TokenService) FindTokens(ctx context.Context, user string) ([]*gatehouse.Token, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	u, err := findUserByName(ctx, tx, user)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, user_id, name, scope, created_at, expires_at, last_used_at
		FROM api_tokens WHERE user_id = ? ORDER BY created_at DESC, id DESC`, u.ID)
	if err != nil {
		return nil, translate(err, "tokens of "+quote(user))
	}
	defer rows.Close()
	var ts []*gatehouse.Token
	for rows.Next() {
		t := &gatehouse.Token{User: u.Name}
		if err := rows.Scan(&t.ID, &t.UserID, &t.Name, &t.Scope, timeDest{&t.CreatedAt}, nullTimeDest{&t.ExpiresAt}, nullTimeDest{&t.LastUsedAt}); err != nil {
			return nil, translate(err, "tokens of "+quote(user))
		}
		ts = append(ts, t)
	}
	return ts, translate(rows.Err(), "tokens of "+quote(user))
}

// RevokeToken deletes token id of user. The user is part of the key so
// that a caller allowed to manage one user's tokens cannot reach another's
// by guessing ids.
func (s *TokenService) RevokeToken(ctx context.Context, user string, id int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	if err := execOne(ctx, tx, "token", notFound("token %d of user %q", id, user),
		`DELETE FROM api_tokens WHERE id = ? AND user_id = (SELECT id FROM users WHERE name = ?)`, id, user); err != nil {
		return err
	}
	return tx.Commit()
}

// AuthenticateToken finds the live token with secret, records its use and
// returns it with its user. Every refusal is the same ErrNotFound.
func (s *TokenService) AuthenticateToken(ctx context.Context, secret string) (*gatehouse.Token, *gatehouse.User, error) {
	refused := notFound("token")
	if !wellFormed(secret, prefixToken) {
		return nil, nil, refused
	}
	// A write transaction because a successful check records the use;
	// the single writer connection keeps this cheap.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()

	hash := digest(secret)
	var stored string
	t := &gatehouse.Token{}
	row := tx.QueryRowContext(ctx, `SELECT t.hash, t.id, t.user_id, t.name, t.scope, t.created_at, t.expires_at, t.last_used_at, u.name
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?`, hash)
	err = row.Scan(&stored, &t.ID, &t.UserID, &t.Name, &t.Scope, timeDest{&t.CreatedAt}, nullTimeDest{&t.ExpiresAt}, nullTimeDest{&t.LastUsedAt}, &t.User)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !sameDigest(stored, hash)) {
		return nil, nil, refused
	}
	if err != nil {
		return nil, nil, translate(err, "token")
	}
	if t.ExpiresAt != nil && !tx.now.Before(*t.ExpiresAt) {
		return nil, nil, refused
	}
	u, err := findUserByName(ctx, tx, t.User)
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled {
		return nil, nil, refused
	}
	if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, formatTime(tx.now), t.ID); err != nil {
		return nil, nil, translate(err, "token")
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, translate(err, "token")
	}
	now := tx.now
	t.LastUsedAt = &now
	return t, u, nil
}
