package gatehouse

import (
	"context"
	"time"
)

// DeployKey is a key bound to one repository instead of a user: for CI
// and servers that fetch (or, with Write, push) one repository only.
type DeployKey struct {
	ID          int64      `json:"id"`
	RepoID      int64      `json:"repo_id"`
	Repo        string     `json:"repo"` // owner/name
	Title       string     `json:"title"`
	Fingerprint string     `json:"fingerprint"`
	Type        string     `json:"type"`
	Key         string     `json:"key"` // "TYPE BASE64"
	Write       bool       `json:"write"`
	CreatedAt   time.Time  `json:"created_at"`
	LastUsedAt  *time.Time `json:"last_used_at,omitempty"`
	// NoTouchRequired, VerifyRequired and Kind are as in PublicKey.
	NoTouchRequired bool   `json:"no_touch_required"`
	VerifyRequired  bool   `json:"verify_required"`
	Kind            string `json:"kind"`
}

// Traits is what a key policy looks at in k.
func (k *DeployKey) Traits() KeyTraits {
	return KeyTraits{Type: k.Type, NoTouchRequired: k.NoTouchRequired, VerifyRequired: k.VerifyRequired}
}

// DeployKeyService manages deploy keys. Keys are parsed and checked
// exactly as user keys are (KeyService.AddKey), and a fingerprint is
// registered once across user and deploy keys.
type DeployKeyService interface {
	// AddDeployKey registers text (an authorized_keys line) on owner/name.
	// ErrInvalid, ErrConflict (registered anywhere already), ErrNotFound.
	AddDeployKey(ctx context.Context, owner, name, text string, write bool) (*DeployKey, error)
	FindDeployKeys(ctx context.Context, owner, name string) ([]*DeployKey, error)
	// FindDeployKeyByFingerprint returns ErrNotFound if no deploy key has it.
	FindDeployKeyByFingerprint(ctx context.Context, fingerprint string) (*DeployKey, error)
	RemoveDeployKey(ctx context.Context, owner, name, fingerprint string) error
	// TouchDeployKey records that the key was just used to log in.
	TouchDeployKey(ctx context.Context, fingerprint string) error
}

// ProtectedBranch is a glob over branch names ("main", "release/*") whose
// branches may not be force-pushed or deleted; with AdminOnly, only
// repository admins may update them at all.
type ProtectedBranch struct {
	Pattern   string    `json:"pattern"`
	AdminOnly bool      `json:"admin_only"`
	CreatedAt time.Time `json:"created_at"`
}

// ProtectionService manages protected branch patterns. Changing them
// needs admin on the repository; callers check that with Authorize.
type ProtectionService interface {
	// AddProtectedBranch adds or replaces pattern on owner/name.
	// ErrInvalid for a malformed pattern, ErrNotFound.
	AddProtectedBranch(ctx context.Context, owner, name, pattern string, adminOnly bool) (*ProtectedBranch, error)
	FindProtectedBranches(ctx context.Context, owner, name string) ([]*ProtectedBranch, error)
	RemoveProtectedBranch(ctx context.Context, owner, name, pattern string) error
}

// Audit actions for the access rules above.
const (
	AuditDeployKeyAdd    = "deploy-key.add"
	AuditDeployKeyRemove = "deploy-key.remove"
	AuditProtectAdd      = "protect.add"
	AuditProtectRemove   = "protect.remove"
)
