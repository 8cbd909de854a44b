package gatehouse

import (
	"context"
	"fmt"
)

// KeyPolicy says which SSH keys may log in: any key, or only FIDO2
// security keys (sk-*), optionally with each signature asserting a touch
// (user presence) or a PIN or biometric (user verification). The
// policies are ordered: each one asks everything the one before it asks,
// so the strictest of several is the one that applies.
type KeyPolicy int

const (
	KeyPolicyAny KeyPolicy = iota
	// KeyPolicySKOnly: only sk-ssh-ed25519@openssh.com and
	// sk-ecdsa-sha2-nistp256@openssh.com keys.
	KeyPolicySKOnly
	// KeyPolicySKTouch: security keys whose every signature asserts user
	// presence: keys registered with no-touch-required are refused.
	KeyPolicySKTouch
	// KeyPolicySKVerify: also user verification: only keys registered
	// with verify-required (see KeyTraits.VerifyRequired).
	KeyPolicySKVerify
)

var keyPolicyNames = [...]string{"any", "sk-only", "sk-touch", "sk-verify"}

func (p KeyPolicy) String() string {
	if p < 0 || int(p) >= len(keyPolicyNames) {
		return fmt.Sprintf("KeyPolicy(%d)", int(p))
	}
	return keyPolicyNames[p]
}

// ParseKeyPolicy reads "any", "sk-only", "sk-touch" or "sk-verify".
func ParseKeyPolicy(s string) (KeyPolicy, error) {
	for i, n := range keyPolicyNames {
		if s == n {
			return KeyPolicy(i), nil
		}
	}
	return KeyPolicyAny, fmt.Errorf("key policy %q must be any, sk-only, sk-touch or sk-verify: %w", s, ErrInvalid)
}

// MarshalText writes the policy's name.
func (p KeyPolicy) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads a policy's name.
func (p *KeyPolicy) UnmarshalText(b []byte) error {
	v, err := ParseKeyPolicy(string(b))
	*p = v
	return err
}

// Where a key policy is set.
const (
	ScopeSite = "site"
	ScopeOrg  = "org"
	ScopeUser = "user"
)

// KeyPolicyScope names where a policy is set: the site (Name empty), an
// organization or a user.
type KeyPolicyScope struct {
	Kind string `json:"kind"` // ScopeSite, ScopeOrg or ScopeUser
	Name string `json:"name,omitempty"`
}

// String is how refusals and the audit log name the scope: "site",
// "org acme", "user alice".
func (s KeyPolicyScope) String() string {
	if s.Kind == ScopeSite || s.Name == "" {
		return s.Kind
	}
	return s.Kind + " " + s.Name
}

// Validate refuses an unknown kind, a site scope with a name and an org
// or user scope without a valid one.
func (s KeyPolicyScope) Validate() error {
	switch s.Kind {
	case ScopeSite:
		if s.Name == "" {
			return nil
		}
	case ScopeOrg, ScopeUser:
		return ValidateName(s.Name)
	}
	return fmt.Errorf("key policy scope %q: %w", s.String(), ErrInvalid)
}

// KeyPolicyRule is a policy and where it was set.
type KeyPolicyRule struct {
	Policy KeyPolicy      `json:"policy"`
	Scope  KeyPolicyScope `json:"scope"`
}

// String is "sk-only (site)", as refusals name the rule.
func (r KeyPolicyRule) String() string { return r.Policy.String() + " (" + r.Scope.String() + ")" }

// StrictestKeyPolicy returns the strictest of rules; of equally strict
// ones the first, so callers list the wider scopes first (site, then
// organization, then user) and refusals name the widest. With no rules
// it is "any" at the site.
func StrictestKeyPolicy(rules ...KeyPolicyRule) KeyPolicyRule {
	best := KeyPolicyRule{Policy: KeyPolicyAny, Scope: KeyPolicyScope{Kind: ScopeSite}}
	for i, r := range rules {
		if i == 0 || r.Policy > best.Policy {
			best = r
		}
	}
	return best
}

// KeyTraits is what a key policy looks at in a key: its type and the
// authorized_keys options it was registered with. Certificates count by
// the key they sign and their own extensions.
type KeyTraits struct {
	Type string `json:"type"`
	// NoTouchRequired: signatures need not assert user presence
	// (OpenSSH's no-touch-required option or certificate extension).
	NoTouchRequired bool `json:"no_touch_required,omitempty"`
	// VerifyRequired: the key was registered with OpenSSH's
	// verify-required option, stating that it was made with
	// `ssh-keygen -O verify-required` and asks for a PIN or biometric.
	VerifyRequired bool `json:"verify_required,omitempty"`
	// Certificate: the key logged in with a certificate.
	Certificate bool `json:"certificate,omitempty"`
}

// Security key types (FIDO2, as OpenSSH names them).
const (
	KeyTypeSKEd25519 = "sk-ssh-ed25519@openssh.com"
	KeyTypeSKECDSA   = "sk-ecdsa-sha2-nistp256@openssh.com"
)

// SecurityKey reports whether a key of type typ lives on a FIDO2
// security key.
func SecurityKey(typ string) bool { return typ == KeyTypeSKEd25519 || typ == KeyTypeSKECDSA }

// KeyKind is how listings show a key: "sk" for a security key (with
// ",no-touch-required" or ",verify-required" for its options), "plain"
// for the others.
func (k KeyTraits) KeyKind() string {
	if !SecurityKey(k.Type) {
		return "plain"
	}
	s := "sk"
	if k.NoTouchRequired {
		s += ",no-touch-required"
	}
	if k.VerifyRequired {
		s += ",verify-required"
	}
	return s
}

// KeyPolicyError is a key refused by a key policy. It wraps
// ErrForbidden; its message names the rule and what to do.
type KeyPolicyError struct {
	Rule   KeyPolicyRule
	Reason string
}

func (e *KeyPolicyError) Error() string { return "key policy " + e.Rule.String() + ": " + e.Reason }

// Unwrap makes the refusal an ErrForbidden.
func (e *KeyPolicyError) Unwrap() error { return ErrForbidden }

// CheckKeyPolicy is the key policy decision: nil if a key with traits k
// meets the rule, else a *KeyPolicyError saying which requirement failed.
// It is pure and fails closed: an unknown policy refuses every key.
func CheckKeyPolicy(r KeyPolicyRule, k KeyTraits) error {
	refuse := func(format string, args ...any) error {
		return &KeyPolicyError{Rule: r, Reason: fmt.Sprintf(format, args...)}
	}
	if r.Policy == KeyPolicyAny {
		return nil
	}
	if r.Policy < KeyPolicyAny || r.Policy > KeyPolicySKVerify {
		return refuse("unknown policy; no key may log in")
	}
	if !SecurityKey(k.Type) {
		what := "this key is " + k.Type
		if k.Certificate {
			what = "this certificate signs a " + k.Type + " key"
		}
		return refuse("%s; register a FIDO2 security key (%s)", what, KeyTypeSKEd25519)
	}
	if r.Policy >= KeyPolicySKTouch && k.NoTouchRequired {
		if k.Certificate {
			return refuse("this certificate has the no-touch-required extension; every signature must assert a touch")
		}
		return refuse("this key is registered with no-touch-required; register it without that option so that every use needs a touch")
	}
	if r.Policy >= KeyPolicySKVerify && !k.VerifyRequired {
		if k.Certificate {
			return refuse("certificates cannot state verify-required here; log in with a registered key")
		}
		return refuse("this key is not registered with verify-required; make it with ssh-keygen -O verify-required and register it with the verify-required option")
	}
	return nil
}

// KeyPolicyService keeps key policies.
type KeyPolicyService interface {
	// FindKeyPolicy returns the policy set at scope (KeyPolicyAny when
	// none is). ErrNotFound for an unknown organization or user,
	// ErrInvalid for a malformed scope.
	FindKeyPolicy(ctx context.Context, scope KeyPolicyScope) (KeyPolicy, error)
	// SetKeyPolicy sets the policy at scope; errors as FindKeyPolicy.
	SetKeyPolicy(ctx context.Context, scope KeyPolicyScope, p KeyPolicy) error
	// LoginKeyPolicy returns the rule that applies at login: the
	// strictest of the site's policy and, when user is not empty, the
	// user's. An unknown user gets the site's.
	LoginKeyPolicy(ctx context.Context, user string) (KeyPolicyRule, error)
}

// AuditKeyPolicySet records a key policy change.
const AuditKeyPolicySet = "key-policy.set"
