package gatehouse

import (
	"context"
	"time"
)

// Lifetimes of panel logins.
const (
	// LoginLinkTTL is how long a one-time login link may wait to be used:
	// long enough to paste it into a browser, short enough that one left
	// in a terminal scroll-back is soon worthless.
	LoginLinkTTL = 10 * time.Minute
	// SessionTTL is how long a panel session lasts from its login.
	SessionTTL = 12 * time.Hour
)

// LoginLink is a one-time login link for the web panel. Secret is set
// only on the value CreateLoginLink returns; the store keeps its digest.
type LoginLink struct {
	User      string    `json:"user"`
	Secret    string    `json:"-"`
	Path      string    `json:"path"` // "/login/SECRET", relative to the panel's base URL
	ExpiresAt time.Time `json:"expires_at"`
}

// Session is a logged-in panel session. Secret is set only on the value
// RedeemLoginLink returns; it goes into the session cookie.
type Session struct {
	ID        int64     `json:"id"`
	User      *User     `json:"user"`
	Secret    string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// LoginService makes one-time login links and the sessions they open.
type LoginService interface {
	// CreateLoginLink makes a link for user valid for LoginLinkTTL.
	// ErrNotFound for an unknown user, ErrForbidden for a disabled one.
	CreateLoginLink(ctx context.Context, user string) (*LoginLink, error)
	// RedeemLoginLink uses up the link with secret and opens a session
	// for SessionTTL, both in one step so a link opens at most one
	// session. Unknown, used, expired and malformed secrets and links of
	// disabled users all give ErrNotFound.
	RedeemLoginLink(ctx context.Context, secret string) (*Session, error)
	// FindSession returns the live session with secret and its (current)
	// user; ErrNotFound as for RedeemLoginLink.
	FindSession(ctx context.Context, secret string) (*Session, error)
	// DeleteSession ends the session with secret; ending one that does not
	// exist is not an error (logging out twice is fine).
	DeleteSession(ctx context.Context, secret string) error
}

// LoginLinker makes login links; the SSH `login` command needs only this.
type LoginLinker interface {
	CreateLoginLink(ctx context.Context, user string) (*LoginLink, error)
}
