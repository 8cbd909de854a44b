package gatehouse

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Audit actions for API tokens and panel logins.
const (
	AuditTokenCreate = "token.create"
	AuditTokenRevoke = "token.revoke"
	AuditWebLogin    = "web.login"
)

// TokenScope caps what a request authenticated by an API token may do.
// It only narrows: whether the token's user may do the thing at all, and
// to which repository, is still decided by Decide and the account checks.
// The scopes are ordered, each including the ones below it.
type TokenScope int

const (
	// ScopeRead allows reading (GET) whatever the user can see.
	ScopeRead TokenScope = iota + 1
	// ScopeWrite also allows creating repositories.
	ScopeWrite
	// ScopeAdmin allows everything the user can do: repository settings,
	// grants, deploy keys, protected branches, deletion, and accounts,
	// keys, tokens and organizations.
	ScopeAdmin
)

var scopeNames = [...]string{ScopeRead: "read", ScopeWrite: "write", ScopeAdmin: "admin"}

func (s TokenScope) String() string {
	if s < ScopeRead || s > ScopeAdmin {
		return fmt.Sprintf("TokenScope(%d)", int(s))
	}
	return scopeNames[s]
}

// ParseTokenScope reads "read", "write" or "admin"; ErrInvalid otherwise.
func ParseTokenScope(s string) (TokenScope, error) {
	for i := ScopeRead; i <= ScopeAdmin; i++ {
		if strings.EqualFold(s, scopeNames[i]) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("token scope %q must be read, write or admin: %w", s, ErrInvalid)
}

// MarshalText writes the scope's name.
func (s TokenScope) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a scope's name.
func (s *TokenScope) UnmarshalText(b []byte) error {
	v, err := ParseTokenScope(string(b))
	*s = v
	return err
}

// Token is an API token as listed: the secret itself is shown once, when
// it is created, and only its digest is stored.
type Token struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	User       string     `json:"user"`
	Name       string     `json:"name"`
	Scope      TokenScope `json:"scope"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// MaxMintedTokenLifetime is the longest a token created by a request
// authenticated with a token that never expires may live. Such a token
// could otherwise hand out tokens that survive its own revocation forever.
const MaxMintedTokenLifetime = 30 * 24 * time.Hour

// MintLimits returns the scope and expiry of a token that a request
// authenticated with parent asks for at now. The new token never gets more
// than parent has: scope zero means parent's scope and a higher scope is
// ErrForbidden; its expiry is at most parent's, or now plus
// MaxMintedTokenLifetime when parent never expires, and a later or absent
// expiresAt is brought down to that.
func MintLimits(parent *Token, now time.Time, scope TokenScope, expiresAt *time.Time) (TokenScope, *time.Time, error) {
	if scope == 0 {
		scope = parent.Scope
	}
	if scope > parent.Scope {
		return 0, nil, fmt.Errorf("a %s-scoped token may not create a %s-scoped one: %w", parent.Scope, scope, ErrForbidden)
	}
	limit := now.Add(MaxMintedTokenLifetime)
	if parent.ExpiresAt != nil {
		limit = *parent.ExpiresAt
	}
	if expiresAt == nil || expiresAt.After(limit) {
		expiresAt = &limit
	}
	return scope, expiresAt, nil
}

// TokenService keeps API tokens.
type TokenService interface {
	// CreateToken makes a token for user with scope and returns it with
	// its secret, which is not kept and cannot be shown again. expiresAt
	// nil means it never expires. ErrNotFound for an unknown user,
	// ErrInvalid for a name over 100 bytes, an unknown scope or an expiry
	// in the past.
	CreateToken(ctx context.Context, user, name string, scope TokenScope, expiresAt *time.Time) (*Token, string, error)
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
