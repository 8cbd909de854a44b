package backend

import (
	"context"
	"fmt"

	"gatehouse"
)

// Key policies (gatehouse.KeyPolicy). Who may see and set one:
//   - the site's: site admins;
//   - an organization's: its members see it, its admins (and site
//     admins) set it;
//   - a user's: the user sees it, site admins see and set it (a user
//     may not loosen a policy put on them).
//
// Where the policies apply is elsewhere: sshd at login (site and user,
// KeyPolicyService.LoginKeyPolicy), gatehouse.Decide at each repository
// operation (the organization's).

// keyPolicyActor returns the actor in ctx if they may see (need
// AccessRead) or set (need AccessAdmin) the policy at scope.
func (b *Backend) keyPolicyActor(ctx context.Context, scope gatehouse.KeyPolicyScope, need gatehouse.AccessLevel) (gatehouse.Actor, error) {
	if b.KeyPolicies == nil {
		return gatehouse.Actor{}, ErrUnavailable
	}
	if err := scope.Validate(); err != nil {
		return gatehouse.Actor{}, err
	}
	a, err := actor(ctx)
	if err != nil {
		return a, err
	}
	switch scope.Kind {
	case gatehouse.ScopeOrg:
		return a, b.orgAccess(ctx, a, scope.Name, need)
	case gatehouse.ScopeUser:
		if err := userVisible(a, scope.Name); err != nil || need <= gatehouse.AccessRead {
			return a, err
		}
	}
	return a, requireSiteAdmin(a, "change the "+scope.String()+" key policy")
}

// FindKeyPolicy returns the key policy set at scope.
func (b *Backend) FindKeyPolicy(ctx context.Context, scope gatehouse.KeyPolicyScope) (gatehouse.KeyPolicy, error) {
	if _, err := b.keyPolicyActor(ctx, scope, gatehouse.AccessRead); err != nil {
		return gatehouse.KeyPolicyAny, err
	}
	return b.KeyPolicies.FindKeyPolicy(ctx, scope)
}

// SetKeyPolicy sets the key policy at scope, and records who did.
func (b *Backend) SetKeyPolicy(ctx context.Context, scope gatehouse.KeyPolicyScope, p gatehouse.KeyPolicy) error {
	a, err := b.keyPolicyActor(ctx, scope, gatehouse.AccessAdmin)
	if err != nil {
		return err
	}
	if err := b.KeyPolicies.SetKeyPolicy(ctx, scope, p); err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditKeyPolicySet, "", fmt.Sprintf("%s: %s", scope, p))
	return nil
}
