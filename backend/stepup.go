package backend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"gatehouse"
	"gatehouse/totp"
)

// Two-factor step-up: enrolment (panel, API), `2fa-verify` (SSH), the
// check of an SSH operation against the policies (CheckStepUp, called
// beside RepoService.Authorize), the code a panel login asks enrolled
// users for, and the admin's policies and reset. The store keeps the
// state (gatehouse.StepUpService on the StepUp field); the window lasts
// StepUpWindow.

// ErrCodeRequired is LoginStepUp's answer when the link's user is
// enrolled and no code came with it: the panel then asks for one.
var ErrCodeRequired = errors.New("a two-factor code is required")

// stepUpIssuer names the site in authenticator apps.
const stepUpIssuer = "Gatehouse"

func (b *Backend) stepUpWindow() time.Duration {
	if b.StepUpWindow <= 0 {
		return gatehouse.DefaultStepUpWindow
	}
	return b.StepUpWindow
}

// addrHost is the IP of an "IP:port" address: windows and wrong-code
// counts are per source address, not per connection.
func addrHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// stepUpActor returns the actor in ctx if it is a user acting for
// themselves: enrolment and codes are personal.
func (b *Backend) stepUpActor(ctx context.Context, user string) (gatehouse.Actor, error) {
	if b.StepUp == nil {
		return gatehouse.Actor{}, ErrUnavailable
	}
	a, err := actor(ctx)
	if err != nil {
		return a, err
	}
	if a.Local() || a.User.Name != user {
		return a, fmt.Errorf("only %s may enrol or verify their own second factor: %w", user, gatehouse.ErrForbidden)
	}
	return a, nil
}

// BeginStepUpEnrollment makes a new secret for the actor's own account
// and keeps it unconfirmed until ConfirmStepUpEnrollment. ErrConflict
// when already enrolled.
func (b *Backend) BeginStepUpEnrollment(ctx context.Context, user string) (*gatehouse.StepUpEnrollment, error) {
	if _, err := b.stepUpActor(ctx, user); err != nil {
		return nil, err
	}
	secret := totp.NewSecret()
	if err := b.StepUp.BeginEnrollment(ctx, user, secret); err != nil {
		return nil, err
	}
	return enrollment(user, secret), nil
}

// PendingStepUpEnrollment returns the actor's unconfirmed enrolment
// again (the panel shows its QR code until a code confirms it).
func (b *Backend) PendingStepUpEnrollment(ctx context.Context, user string) (*gatehouse.StepUpEnrollment, error) {
	if _, err := b.stepUpActor(ctx, user); err != nil {
		return nil, err
	}
	secret, err := b.StepUp.PendingSecret(ctx, user)
	if err != nil {
		return nil, err
	}
	return enrollment(user, secret), nil
}

func enrollment(user string, secret []byte) *gatehouse.StepUpEnrollment {
	return &gatehouse.StepUpEnrollment{User: user, Secret: totp.EncodeSecret(secret), URI: totp.URI(stepUpIssuer, user, secret)}
}

// ConfirmStepUpEnrollment confirms the actor's pending secret with a
// first code and returns the recovery codes, which are never shown again.
func (b *Backend) ConfirmStepUpEnrollment(ctx context.Context, user, code string) ([]string, error) {
	a, err := b.stepUpActor(ctx, user)
	if err != nil {
		return nil, err
	}
	codes, err := b.StepUp.ConfirmEnrollment(ctx, user, addrHost(a.Address), code)
	if err != nil {
		b.codeFailed(ctx, a, "enrolment", err)
		return nil, err
	}
	b.publish(ctx, a, gatehouse.AuditStepUpEnroll, "", user)
	return codes, nil
}

// codeFailed records a wrong code or a lockout.
func (b *Backend) codeFailed(ctx context.Context, a gatehouse.Actor, where string, err error) {
	if errors.Is(err, gatehouse.ErrInvalid) || errors.Is(err, gatehouse.ErrLimit) {
		b.publish(ctx, a, gatehouse.AuditStepUpFailed, "", where+": "+err.Error())
	}
}

// VerifyStepUp checks the actor's code (TOTP or recovery) and opens a
// window for them and their source address for StepUpWindow. ErrInvalid
// for a wrong, used or expired code, ErrLimit while locked out,
// ErrNotFound when the actor is not enrolled. Every outcome is audited.
func (b *Backend) VerifyStepUp(ctx context.Context, code string) (*gatehouse.StepUpWindow, error) {
	if b.StepUp == nil {
		return nil, ErrUnavailable
	}
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if a.Local() {
		return nil, fmt.Errorf("the local operator needs no second factor: %w", gatehouse.ErrInvalid)
	}
	w, err := b.StepUp.RedeemCode(ctx, a.User.Name, addrHost(a.Address), code, b.stepUpWindow())
	if err != nil {
		b.codeFailed(ctx, a, "2fa-verify", err)
		if errors.Is(err, gatehouse.ErrNotFound) {
			return nil, fmt.Errorf("%s has no second factor enrolled; enrol in the web panel (Two-factor page): %w", a.User.Name, gatehouse.ErrNotFound)
		}
		return nil, err
	}
	b.publish(ctx, a, gatehouse.AuditStepUpVerify, "", "window for "+w.Address+" until "+w.ExpiresAt.UTC().Format(time.RFC3339))
	return w, nil
}

// CheckStepUp says what the actor in ctx still needs for op in namespace
// owner ("" for an operation on no repository, such as adding a key):
// the stricter of the site's and owner's policies (gatehouse.
// StepUpRequired), satisfied by an open window for the actor's address.
// Actors the policy never concerns (deploy keys, anonymous) cost no
// lookup. A lookup error fails closed (StepUpNeeded with the error).
func (b *Backend) CheckStepUp(ctx context.Context, owner string, op gatehouse.Operation) (gatehouse.StepUpCheck, error) {
	a, ok := gatehouse.ActorFromContext(ctx)
	if !ok {
		return gatehouse.StepUpCheck{Demand: gatehouse.StepUpNeeded}, fmt.Errorf("no actor: %w", gatehouse.ErrForbidden)
	}
	strictest := gatehouse.StepUpPolicy{Level: gatehouse.StepUpAll}
	if b.StepUp == nil || gatehouse.StepUpRequired(strictest, a, op) == gatehouse.StepUpNone {
		return gatehouse.StepUpCheck{}, nil
	}
	f, err := b.StepUp.StepUpFacts(ctx, a.User.ID, owner, addrHost(a.Address))
	if err != nil {
		return gatehouse.StepUpCheck{Demand: gatehouse.StepUpNeeded}, err
	}
	c := gatehouse.StepUpCheck{Policy: f.Site.Stricter(f.Org), Enrolled: f.Enrolled}
	c.Demand = gatehouse.StepUpRequired(c.Policy, a, op)
	if f.WindowOpen {
		c.Demand = gatehouse.StepUpNone
	}
	return c, nil
}

// LoginStepUp is the panel login's second step: for the user of the
// login link, if enrolled, code must be a valid TOTP or recovery code
// (ErrCodeRequired when empty; ErrInvalid, ErrLimit as for VerifyStepUp).
// No window opens: the code is for this login only. A link that is not
// live passes here; redeeming it then fails as usual. address is the
// browser's.
func (b *Backend) LoginStepUp(ctx context.Context, link, code, address string) error {
	if b.StepUp == nil {
		return nil
	}
	u, err := b.StepUp.FindLoginLinkUser(ctx, link)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	st, err := b.StepUp.FindStepUpStatus(ctx, u.Name)
	if err != nil || !st.Enrolled {
		return err
	}
	if code == "" {
		return ErrCodeRequired
	}
	a := gatehouse.Actor{User: u, Address: address}
	if _, err := b.StepUp.RedeemCode(ctx, u.Name, addrHost(address), code, 0); err != nil {
		b.codeFailed(ctx, a, "panel login", err)
		return err
	}
	return nil
}

// FindStepUpStatus returns user's two-factor state to them or a site admin.
func (b *Backend) FindStepUpStatus(ctx context.Context, user string) (*gatehouse.StepUpStatus, error) {
	if b.StepUp == nil {
		return nil, ErrUnavailable
	}
	if _, err := userActor(ctx, user); err != nil {
		return nil, err
	}
	return b.StepUp.FindStepUpStatus(ctx, user)
}

// ResetStepUp removes user's secret, recovery codes and windows, for a
// user who lost their authenticator: site admins only, audited.
func (b *Backend) ResetStepUp(ctx context.Context, user string) error {
	if b.StepUp == nil {
		return ErrUnavailable
	}
	a, err := actor(ctx)
	if err != nil {
		return err
	}
	if err := requireSiteAdmin(a, "reset a second factor"); err != nil {
		return err
	}
	if err := b.StepUp.ResetStepUp(ctx, user); err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditStepUpReset, "", user)
	return nil
}

// SetStepUpPolicy sets the site's policy (org "", site admins) or an
// organization's (its admins and site admins). The site's still applies
// on top of an organization's: the stricter wins.
func (b *Backend) SetStepUpPolicy(ctx context.Context, org string, p gatehouse.StepUpPolicy) error {
	if b.StepUp == nil {
		return ErrUnavailable
	}
	a, err := b.policyActor(ctx, org, gatehouse.AccessAdmin)
	if err != nil {
		return err
	}
	if err := b.StepUp.SetStepUpPolicy(ctx, org, p); err != nil {
		return err
	}
	scope := "site"
	if org != "" {
		scope = "org " + org
	}
	b.publish(ctx, a, gatehouse.AuditStepUpPolicy, "", scope+": "+p.String())
	return nil
}

// FindStepUpPolicy returns the site's policy (to anyone logged in: it
// binds them) or an organization's (to its members).
func (b *Backend) FindStepUpPolicy(ctx context.Context, org string) (gatehouse.StepUpPolicy, error) {
	if b.StepUp == nil {
		return gatehouse.StepUpPolicy{}, ErrUnavailable
	}
	if _, err := b.policyActor(ctx, org, gatehouse.AccessRead); err != nil {
		return gatehouse.StepUpPolicy{}, err
	}
	return b.StepUp.FindStepUpPolicy(ctx, org)
}

// policyActor returns the actor in ctx if they have need on the policy
// of org: for the site's, admin means site admin.
func (b *Backend) policyActor(ctx context.Context, org string, need gatehouse.AccessLevel) (gatehouse.Actor, error) {
	if org != "" {
		return b.orgActor(ctx, org, need)
	}
	a, err := actor(ctx)
	if err == nil && need >= gatehouse.AccessAdmin {
		err = requireSiteAdmin(a, "set the site's step-up policy")
	}
	return a, err
}
