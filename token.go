package gatehouse

import (
	"context"
	"time"
)

// Audit actions for API tokens and panel logins.
const (
	AuditTokenCreate = "token.create"
	AuditTokenRevoke = "token.revoke"
	AuditWebLogin    = "web.login"
)

// Token is an API token as listed: the secret itself is shown once, when
// it is created, and only its digest is stored.
type Token struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	User       string     `json:"user"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// TokenService keeps API tokens.
type TokenService interface {
	// CreateToken makes a token for user and returns it with its secret,
	// which is not kept and cannot be shown again. expiresAt nil means it
	// never expires. ErrNotFound for an unknown user, ErrInvalid for a
	// name over 100 bytes or an expiry in the past.
	CreateToken(ctx context.Context, user, name string, expiresAt *time.Time) (*Token, string, error)
	// FindTokens lists user's tokens, newest first; ErrNotFound for an
	// unknown user.
	FindTokens(ctx context.Context, user string) ([]*Token, error)
	// RevokeToken deletes token id of user; ErrNotFound if user has no
	// such token.
	RevokeToken(ctx context.Context, user string, id int64) error
	// AuthenticateToken returns the token and its user for secret and
	// records the use. Unknown, expired and malformed secrets, and tokens
	// of disabled users, all give ErrNotFound so a caller cannot tell them
	// apart.
	AuthenticateToken(ctx context.Context, secret string) (*Token, *User, error)
}
