package backend

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"gatehouse"
)

// Users, their SSH keys, API tokens and login links. Site admins see and
// change every account; others see their own and manage its keys and
// tokens.

// FindUsers returns every user to site admins, and only themselves to
// others.
func (b *Backend) FindUsers(ctx context.Context) ([]*gatehouse.User, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if !siteAdmin(a) {
		u, err := b.Users.FindUserByName(ctx, a.User.Name)
		if err != nil {
			return nil, err
		}
		return []*gatehouse.User{u}, nil
	}
	return b.Users.FindUsers(ctx)
}

func (b *Backend) FindUserByName(ctx context.Context, name string) (*gatehouse.User, error) {
	_, err := userActor(ctx, name)
	if err != nil {
		return nil, err
	}
	return b.Users.FindUserByName(ctx, name)
}

func (b *Backend) CreateUser(ctx context.Context, u *gatehouse.User) error {
	a, err := actor(ctx)
	if err != nil {
		return err
	}
	if err := requireSiteAdmin(a, "create users"); err != nil {
		return err
	}
	if err := b.Users.CreateUser(ctx, u); err != nil {
		return err
	}
	detail := u.Name
	if u.Admin {
		detail += " (admin)"
	}
	b.publish(ctx, a, gatehouse.AuditUserCreate, "", detail)
	return nil
}

func (b *Backend) UpdateUser(ctx context.Context, name string, upd gatehouse.UserUpdate) (*gatehouse.User, error) {
	a, err := userActor(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := requireSiteAdmin(a, "change users"); err != nil {
		return nil, err
	}
	u, err := b.Users.UpdateUser(ctx, name, upd)
	if err != nil {
		return nil, err
	}
	b.publish(ctx, a, gatehouse.AuditUserUpdate, "", fmt.Sprintf("%s admin=%v disabled=%v", u.Name, u.Admin, u.Disabled))
	return u, nil
}

func (b *Backend) DeleteUser(ctx context.Context, name string) error {
	a, err := userActor(ctx, name)
	if err != nil {
		return err
	}
	if err := requireSiteAdmin(a, "remove users"); err != nil {
		return err
	}
	if err := b.Users.DeleteUser(ctx, name); err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditUserDelete, "", name)
	return nil
}

func (b *Backend) FindKeys(ctx context.Context, user string) ([]*gatehouse.PublicKey, error) {
	_, err := userActor(ctx, user)
	if err != nil {
		return nil, err
	}
	return b.Keys.FindKeys(ctx, user)
}

func (b *Backend) AddKey(ctx context.Context, user, text string) (*gatehouse.PublicKey, error) {
	return b.AddExpiringKey(ctx, user, text, nil)
}

// keyExpirer is a KeyService that also adds keys with an expiry.
type keyExpirer interface {
	AddExpiringKey(ctx context.Context, user, text string, expiresAt *time.Time) (*gatehouse.PublicKey, error)
}

// AddExpiringKey adds a key that stops working at expiresAt; nil is no
// expiry, as AddKey.
func (b *Backend) AddExpiringKey(ctx context.Context, user, text string, expiresAt *time.Time) (*gatehouse.PublicKey, error) {
	a, err := userActor(ctx, user)
	if err != nil {
		return nil, err
	}
	if !siteAdmin(a) && claimsVerifyRequired(text) {
		return nil, fmt.Errorf("only a site admin may register a security key with verify-required: "+
			"the server cannot see the PIN flag of each signature, so the option is an admin's word that the key asks for one: %w", gatehouse.ErrForbidden)
	}
	var k *gatehouse.PublicKey
	if expiresAt == nil {
		k, err = b.Keys.AddKey(ctx, user, text)
	} else if ke, ok := b.Keys.(keyExpirer); ok {
		k, err = ke.AddExpiringKey(ctx, user, text, expiresAt)
	} else {
		err = fmt.Errorf("keys with an expiry: %w", ErrUnavailable)
	}
	if err != nil {
		return nil, err
	}
	detail := user + " " + k.Fingerprint
	if k.ExpiresAt != nil {
		detail += " expires " + k.ExpiresAt.Format(time.RFC3339)
	}
	b.publish(ctx, a, gatehouse.AuditKeyAdd, "", detail)
	return k, nil
}

// claimsVerifyRequired reports whether text is a security key's line
// with OpenSSH's verify-required option. The sk-verify key policy takes
// that option on trust (x/crypto does not hand over the signature's
// user-verification flag), so a user who could set it on their own key
// would pass a site's sk-verify policy with a key that never asks for a
// PIN. A line that does not parse is left to the store to refuse.
func claimsVerifyRequired(text string) bool {
	pub, _, options, _, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(text)))
	if err != nil || !gatehouse.SecurityKey(pub.Type()) {
		return false
	}
	for _, o := range options {
		if strings.EqualFold(o, "verify-required") {
			return true
		}
	}
	return false
}

func (b *Backend) RemoveKey(ctx context.Context, user, fingerprint string) error {
	a, err := userActor(ctx, user)
	if err != nil {
		return err
	}
	if err := b.Keys.RemoveKey(ctx, user, fingerprint); err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditKeyRemove, "", user+" "+fingerprint)
	return nil
}

func (b *Backend) FindTokens(ctx context.Context, user string) ([]*gatehouse.Token, error) {
	_, err := userActor(ctx, user)
	if err != nil {
		return nil, err
	}
	return b.Tokens.FindTokens(ctx, user)
}

// CreateToken makes a token for user; a nil expiresAt means no expiry and
// scope zero the default. A request made with a token gets at most that
// token's scope (its scope by default) and expiry (gatehouse.MintLimits);
// anyone else gets what they ask for, admin by default.
func (b *Backend) CreateToken(ctx context.Context, user, name string, scope gatehouse.TokenScope, expiresAt *time.Time) (*gatehouse.Token, string, error) {
	a, err := userActor(ctx, user)
	if err != nil {
		return nil, "", err
	}
	if a.Token != nil {
		if scope, expiresAt, err = gatehouse.MintLimits(a.Token, time.Now(), scope, expiresAt); err != nil {
			return nil, "", err
		}
	} else if scope == 0 {
		scope = gatehouse.ScopeAdmin
	}
	t, secret, err := b.Tokens.CreateToken(ctx, user, name, scope, expiresAt)
	if err != nil {
		return nil, "", err
	}
	b.publish(ctx, a, gatehouse.AuditTokenCreate, "", fmt.Sprintf("%s #%d %s %s", user, t.ID, t.Scope, t.Name))
	return t, secret, nil
}

func (b *Backend) RevokeToken(ctx context.Context, user string, id int64) error {
	a, err := userActor(ctx, user)
	if err != nil {
		return err
	}
	if err := b.Tokens.RevokeToken(ctx, user, id); err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditTokenRevoke, "", fmt.Sprintf("%s #%d", user, id))
	return nil
}

// CreateLoginLink makes a one-time panel login link for user: a user
// gets their own (`ssh HOST login`), site admins anyone's (the command
// line's login-link). Nobody else learns whether user exists.
func (b *Backend) CreateLoginLink(ctx context.Context, user string) (*gatehouse.LoginLink, error) {
	if _, err := userActor(ctx, user); err != nil {
		return nil, err
	}
	if b.Logins == nil {
		return nil, ErrUnavailable
	}
	return b.Logins.CreateLoginLink(ctx, user)
}

// LoggedIn records that the actor in ctx logged in to the panel.
func (b *Backend) LoggedIn(ctx context.Context) error {
	a, err := actor(ctx)
	if err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditWebLogin, "", "")
	return nil
}

// RemoveOwnKey removes one of the actor's own keys, but never their last
// one: they would lock themselves out (ErrConflict).
func (b *Backend) RemoveOwnKey(ctx context.Context, fingerprint string) error {
	a, err := actor(ctx)
	if err != nil {
		return err
	}
	if a.Local() {
		return fmt.Errorf("the local operator has no keys: %w", gatehouse.ErrInvalid)
	}
	ks, err := b.Keys.FindKeys(ctx, a.User.Name)
	if err != nil {
		return err
	}
	found := false
	for _, k := range ks {
		found = found || k.Fingerprint == fingerprint
	}
	switch {
	case !found:
		return fmt.Errorf("key %s: %w", fingerprint, gatehouse.ErrNotFound)
	case len(ks) == 1:
		return fmt.Errorf("%s is your last key; add another before removing it: %w", fingerprint, gatehouse.ErrConflict)
	}
	return b.RemoveKey(ctx, a.User.Name, fingerprint)
}
