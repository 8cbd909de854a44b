package gatehouse

import (
	"context"
	"time"
)

// PublicKey is an SSH public key registered to a user.
type PublicKey struct {
	ID          int64      `json:"id"`
	UserID      int64      `json:"user_id"`
	UserName    string     `json:"user"`
	Fingerprint string     `json:"fingerprint"` // "SHA256:..." as ssh-keygen -l prints it
	Type        string     `json:"type"`        // "ssh-ed25519", "ssh-rsa", ...
	Bits        int        `json:"bits"`
	Comment     string     `json:"comment"`
	Key         string     `json:"key"` // authorized_keys form without options: "TYPE BASE64"
	CreatedAt   time.Time  `json:"created_at"`
	LastUsedAt  *time.Time `json:"last_used_at,omitempty"`
	// ExpiresAt, when set, is when the key stops logging in.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// NoTouchRequired and VerifyRequired are the security key options
	// the key was registered with (see KeyTraits); Kind shows them as
	// KeyTraits.KeyKind does.
	NoTouchRequired bool   `json:"no_touch_required"`
	VerifyRequired  bool   `json:"verify_required"`
	Kind            string `json:"kind"`
}

// Traits is what a key policy looks at in k.
func (k *PublicKey) Traits() KeyTraits {
	return KeyTraits{Type: k.Type, NoTouchRequired: k.NoTouchRequired, VerifyRequired: k.VerifyRequired}
}

// Expired reports whether the key has expired at now.
func (k *PublicKey) Expired(now time.Time) bool {
	return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)
}

// KeyService manages users' public keys.
type KeyService interface {
	// AddKey parses text (an authorized_keys line: options and comment
	// allowed) and registers it to the user. ErrInvalid for malformed or
	// weak keys (RSA under 2048 bits, DSA), ErrConflict for a key that is
	// registered already (to anyone), ErrNotFound for an unknown user.
	AddKey(ctx context.Context, user, text string) (*PublicKey, error)
	// FindKeys lists a user's keys; ErrNotFound for an unknown user.
	FindKeys(ctx context.Context, user string) ([]*PublicKey, error)
	// FindKeyByFingerprint returns the key and its user, ErrNotFound if
	// no user has it.
	FindKeyByFingerprint(ctx context.Context, fingerprint string) (*PublicKey, *User, error)
	// RemoveKey deletes one of the user's keys.
	RemoveKey(ctx context.Context, user, fingerprint string) error
	// TouchKey records that the key was just used to log in.
	TouchKey(ctx context.Context, fingerprint string) error
}
