package keys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gatehouse"
)

var _ gatehouse.KeyPolicyService = (*KeyPolicyService)(nil)

// KeyPolicyService keeps key policies: the site's in site_key_policy,
// organizations' and users' in their users row.
type KeyPolicyService struct {
	db *DB
}

// NewKeyPolicyService returns a KeyPolicyService backed by db.
func NewKeyPolicyService(db *DB) *KeyPolicyService {
	return &KeyPolicyService{db: db}
}

// FindKeyPolicy returns the policy set at scope; KeyPolicyAny where none
// is. ErrNotFound for an unknown organization or user (an organization
// is not a user, nor a user an organization), ErrInvalid for a malformed
// scope.
func (s *KeyPolicyService) FindKeyPolicy(ctx context.Context, scope gatehouse.KeyPolicyScope) (gatehouse.KeyPolicy, error) {
	if err := scope.Validate(); err != nil {
		return gatehouse.KeyPolicyAny, err
	}
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return gatehouse.KeyPolicyAny, err
	}
	defer tx.Rollback()
	return findKeyPolicy(ctx, tx, scope)
}

// SetKeyPolicy sets the policy at scope; errors as FindKeyPolicy.
func (s *KeyPolicyService) SetKeyPolicy(ctx context.Context, scope gatehouse.KeyPolicyScope, p gatehouse.KeyPolicy) error {
	if err := scope.Validate(); err != nil {
		return err
	}
	if _, err := gatehouse.ParseKeyPolicy(p.String()); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	subject := "key policy of " + scope.String()
	switch scope.Kind {
	case gatehouse.ScopeSite:
		if _, err := tx.ExecContext(ctx, `INSERT INTO site_key_policy (scope, policy) VALUES (?, ?)
			ON CONFLICT (scope) DO UPDATE SET policy = excluded.policy`, gatehouse.ScopeSite, p.String()); err != nil {
			return translate(err, subject)
		}
	default:
		if err := execOne(ctx, tx, subject, scopeNotFound(scope),
			`UPDATE users SET key_policy = ? WHERE name = ? AND `+scopeFilter(scope), p.String(), scope.Name); err != nil {
			return err
		}
	}
	return translate(tx.Commit(), subject)
}

// LoginKeyPolicy returns the strictest of the site's policy and user's
// (when user names a user; not an organization, which cannot log in).
func (s *KeyPolicyService) LoginKeyPolicy(ctx context.Context, user string) (gatehouse.KeyPolicyRule, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return gatehouse.KeyPolicyRule{}, err
	}
	defer tx.Rollback()

	site := gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeSite}
	sp, err := findKeyPolicy(ctx, tx, site)
	if err != nil {
		return gatehouse.KeyPolicyRule{}, err
	}
	rules := []gatehouse.KeyPolicyRule{{Policy: sp, Scope: site}}
	if user != "" {
		us := gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeUser, Name: user}
		up, err := findKeyPolicy(ctx, tx, us)
		switch {
		case errors.Is(err, gatehouse.ErrNotFound):
		case err != nil:
			return gatehouse.KeyPolicyRule{}, err
		default:
			rules = append(rules, gatehouse.KeyPolicyRule{Policy: up, Scope: us})
		}
	}
	return gatehouse.StrictestKeyPolicy(rules...), nil
}

func findKeyPolicy(ctx context.Context, tx *Tx, scope gatehouse.KeyPolicyScope) (gatehouse.KeyPolicy, error) {
	subject := "key policy of " + scope.String()
	var text string
	var err error
	if scope.Kind == gatehouse.ScopeSite {
		err = tx.QueryRowContext(ctx, `SELECT policy FROM site_key_policy WHERE scope = ?`, gatehouse.ScopeSite).Scan(&text)
		if errors.Is(err, sql.ErrNoRows) {
			return gatehouse.KeyPolicyAny, nil
		}
	} else {
		err = tx.QueryRowContext(ctx, `SELECT key_policy FROM users WHERE name = ? AND `+scopeFilter(scope), scope.Name).Scan(&text)
		if errors.Is(err, sql.ErrNoRows) {
			return gatehouse.KeyPolicyAny, scopeNotFound(scope)
		}
	}
	if err != nil {
		return gatehouse.KeyPolicyAny, translate(err, subject)
	}
	p, err := gatehouse.ParseKeyPolicy(text)
	if err != nil {
		// Not the caller's input: a stored value this version cannot read.
		return gatehouse.KeyPolicyAny, fmt.Errorf("%s: stored %q unreadable", subject, text)
	}
	return p, nil
}

// scopeFilter keeps an org scope to organizations' rows and a user scope
// to users', as the store keeps them apart everywhere else.
func scopeFilter(scope gatehouse.KeyPolicyScope) string {
	if scope.Kind == gatehouse.ScopeOrg {
		return `id IN (SELECT id FROM orgs)`
	}
	return notOrg
}

func scopeNotFound(scope gatehouse.KeyPolicyScope) error {
	if scope.Kind == gatehouse.ScopeOrg {
		return notFound("organization %s", quote(scope.Name))
	}
	return notFound("user %s", quote(scope.Name))
}
