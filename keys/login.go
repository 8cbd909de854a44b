package keys

import (
	"context"
	"database/sql"
	"errors"

	"gatehouse"
)

var _ gatehouse.LoginService = (*LoginService)(nil)

// LoginService keeps one-time login links and panel sessions, by digest.
type LoginService struct {
	db *DB
}

// NewLoginService returns a LoginService backed by db.
func NewLoginService(db *DB) *LoginService {
	return &LoginService{db: db}
}

// CreateLoginLink makes a one-time link for user. ErrNotFound for an
// unknown user, ErrForbidden for a disabled one. Expired links of anyone
// are swept on the way, so the table stays small without a janitor.
func (s *LoginService) CreateLoginLink(ctx context.Context, user string) (*gatehouse.LoginLink, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	u, err := findUserByName(ctx, tx, user)
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, kindError{msg: "user " + quote(user) + " is disabled", kind: gatehouse.ErrForbidden}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM login_links WHERE expires_at <= ?`, formatTime(tx.now)); err != nil {
		return nil, translate(err, "login links")
	}
	secret, hash := newSecret(prefixLink)
	l := &gatehouse.LoginLink{User: u.Name, Secret: secret, Path: "/login/" + secret, ExpiresAt: tx.now.Add(gatehouse.LoginLinkTTL)}
	if _, err := tx.ExecContext(ctx, `INSERT INTO login_links (user_id, hash, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		u.ID, hash, formatTime(tx.now), formatTime(l.ExpiresAt)); err != nil {
		return nil, translate(err, "login link for "+quote(user))
	}
	if err := tx.Commit(); err != nil {
		return nil, translate(err, "login link for "+quote(user))
	}
	return l, nil
}

// RedeemLoginLink deletes the link and opens a session in one
// transaction: of two browsers racing with one link, one gets a session.
func (s *LoginService) RedeemLoginLink(ctx context.Context, secret string) (*gatehouse.Session, error) {
	refused := notFound("login link")
	if !wellFormed(secret, prefixLink) {
		return nil, refused
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	hash := digest(secret)
	var (
		id, userID int64
		stored     string
		link       gatehouse.LoginLink
	)
	err = tx.QueryRowContext(ctx, `SELECT id, user_id, hash, expires_at FROM login_links WHERE hash = ?`, hash).
		Scan(&id, &userID, &stored, timeDest{&link.ExpiresAt})
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !sameDigest(stored, hash)) {
		return nil, refused
	}
	if err != nil {
		return nil, translate(err, "login link")
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM login_links WHERE id = ?`, id); err != nil {
		return nil, translate(err, "login link")
	}
	if !tx.now.Before(link.ExpiresAt) {
		// Commit the deletion: an expired link is gone either way.
		if err := tx.Commit(); err != nil {
			return nil, translate(err, "login link")
		}
		return nil, refused
	}
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT id, name, admin, disabled, created_at FROM users WHERE id = ?`, userID))
	if err != nil {
		return nil, translate(err, "login link")
	}
	if u.Disabled {
		return nil, refused
	}
	// Sweep expired sessions while holding the write lock anyway.
	if _, err := tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE expires_at <= ?`, formatTime(tx.now)); err != nil {
		return nil, translate(err, "sessions")
	}
	sessSecret, sessHash := newSecret(prefixSession)
	sess := &gatehouse.Session{User: u, Secret: sessSecret, CreatedAt: tx.now, ExpiresAt: tx.now.Add(gatehouse.SessionTTL)}
	if err := tx.QueryRowContext(ctx, `INSERT INTO web_sessions (user_id, hash, created_at, expires_at) VALUES (?, ?, ?, ?) RETURNING id`,
		u.ID, sessHash, formatTime(sess.CreatedAt), formatTime(sess.ExpiresAt)).Scan(&sess.ID); err != nil {
		return nil, translate(err, "session")
	}
	if err := tx.Commit(); err != nil {
		return nil, translate(err, "session")
	}
	return sess, nil
}

// FindSession returns the live session with secret and its user as the
// user is now: disabling a user ends their sessions at the next request.
func (s *LoginService) FindSession(ctx context.Context, secret string) (*gatehouse.Session, error) {
	refused := notFound("session")
	if !wellFormed(secret, prefixSession) {
		return nil, refused
	}
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	hash := digest(secret)
	var stored string
	sess := &gatehouse.Session{User: &gatehouse.User{}}
	u := sess.User
	err = tx.QueryRowContext(ctx, `SELECT s.hash, s.id, s.created_at, s.expires_at, u.id, u.name, u.admin, u.disabled, u.created_at
		FROM web_sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ?`, hash).
		Scan(&stored, &sess.ID, timeDest{&sess.CreatedAt}, timeDest{&sess.ExpiresAt}, &u.ID, &u.Name, &u.Admin, &u.Disabled, timeDest{&u.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !sameDigest(stored, hash)) {
		return nil, refused
	}
	if err != nil {
		return nil, translate(err, "session")
	}
	if !tx.now.Before(sess.ExpiresAt) || u.Disabled {
		return nil, refused
	}
	return sess, nil
}

// DeleteSession ends the session with secret, if there is one.
func (s *LoginService) DeleteSession(ctx context.Context, secret string) error {
	if !wellFormed(secret, prefixSession) {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE hash = ?`, digest(secret)); err != nil {
		return translate(err, "session")
	}
	return tx.Commit()
}
