package gatehouse

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Two-factor step-up (issue 18): a user proves a second factor, a TOTP
// code, with `ssh git@HOST 2fa-verify CODE`, which opens a window for
// that user and source address; a policy per site and organization says
// which SSH operations need an open window. Deploy keys are machines and
// are exempt. The policy check (StepUpRequired) is separate from Decide:
// Decide says what an actor may do at all, the step-up check whether the
// actor has proved a second factor recently enough to do it now.

// Audit actions of two-factor step-up.
const (
	AuditStepUpEnroll = "2fa.enroll"
	AuditStepUpVerify = "2fa.verify"
	AuditStepUpFailed = "2fa.failed"
	AuditStepUpReset  = "2fa.reset"
	AuditStepUpPolicy = "2fa.policy"
)

// Step-up bounds.
const (
	// DefaultStepUpWindow is how long a verified code opens the window
	// (serve --stepup-window).
	DefaultStepUpWindow = 15 * time.Minute
	// StepUpMaxFailures wrong codes in a row lock a user out of
	// verifying for StepUpLockout, and each further StepUpMaxFailures
	// for twice as long as the last time, up to 64 times as long (16
	// hours), until a right code ends the run; StepUpMaxAddrFailures do
	// the same to a source address, whoever tries from it. Three of the
	// million six-digit codes are valid at any time, so even odds take
	// about 231,000 guesses: with a fixed quarter-hour lockout, 480 a
	// day, 16 months; with the doubling, under 10 a day once the lockout
	// reaches 16 hours, some 60 years.
	StepUpMaxFailures     = 5
	StepUpMaxAddrFailures = 20
	StepUpLockout         = 15 * time.Minute
	// RecoveryCodes is how many recovery codes an enrolment gives.
	RecoveryCodes = 10
)

// StepUpLockoutAfter is how long the n-th lockout in a row lasts (n >= 1).
func StepUpLockoutAfter(n int64) time.Duration {
	return StepUpLockout << min(max(n-1, 0), 6)
}

// StepUpLevel is how much of the SSH work a policy puts behind a window.
type StepUpLevel int

const (
	// StepUpOff needs no window (the default).
	StepUpOff StepUpLevel = iota
	// StepUpWrite needs one for pushes and admin commands over SSH.
	StepUpWrite
	// StepUpAll needs one for reads too.
	StepUpAll
)

var stepUpLevelNames = [...]string{"off", "write", "all"}

func (l StepUpLevel) String() string {
	if l < 0 || int(l) >= len(stepUpLevelNames) {
		return fmt.Sprintf("StepUpLevel(%d)", int(l))
	}
	return stepUpLevelNames[l]
}

// ParseStepUpLevel reads "off", "write" or "all".
func ParseStepUpLevel(s string) (StepUpLevel, error) {
	for i, n := range stepUpLevelNames {
		if strings.EqualFold(s, n) {
			return StepUpLevel(i), nil
		}
	}
	return StepUpOff, fmt.Errorf("step-up policy %q must be off, write or all: %w", s, ErrInvalid)
}

// MarshalText writes the level's name.
func (l StepUpLevel) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads a level's name.
func (l *StepUpLevel) UnmarshalText(b []byte) error {
	v, err := ParseStepUpLevel(string(b))
	*l = v
	return err
}

// StepUpPolicy is the step-up policy of the site or of one organization.
type StepUpPolicy struct {
	Level StepUpLevel `json:"level"`
	// ProtectedOnly narrows the pushes that need a window to those that
	// update a protected branch; reads and admin commands are as Level
	// says.
	ProtectedOnly bool `json:"protected_only"`
}

func (p StepUpPolicy) String() string {
	if p.ProtectedOnly && p.Level >= StepUpWrite {
		return p.Level.String() + " (pushes to protected branches only)"
	}
	return p.Level.String()
}

// Stricter combines two policies that both apply (the site's and the
// repository's organization's): the higher level, and pushes narrowed to
// protected branches only if every policy that covers pushes says so.
func (p StepUpPolicy) Stricter(q StepUpPolicy) StepUpPolicy {
	lvl := max(p.Level, q.Level)
	narrow := func(x StepUpPolicy) bool { return x.Level < StepUpWrite || x.ProtectedOnly }
	return StepUpPolicy{Level: lvl, ProtectedOnly: lvl >= StepUpWrite && narrow(p) && narrow(q)}
}

// StepUpDemand is what StepUpRequired asks of an operation.
type StepUpDemand int

const (
	// StepUpNone: no window needed.
	StepUpNone StepUpDemand = iota
	// StepUpNeeded: the operation needs an open window.
	StepUpNeeded
	// StepUpNeededForProtected: a push needs an open window for the refs
	// that update a protected branch (StepUpRefNeeded), not for others.
	StepUpNeededForProtected
)

// StepUpRequired is the step-up requirement of op for actor a under
// policy p, before any window is considered. It is pure. Deploy keys,
// anonymous visitors (who have no second factor to give) and the local
// operator need none. OpAdmin stands for the admin commands over SSH,
// OpCreate for a push creating a repository.
func StepUpRequired(p StepUpPolicy, a Actor, op Operation) StepUpDemand {
	if a.User == nil || a.DeployKey != nil || a.Local() {
		return StepUpNone
	}
	switch {
	case p.Level >= StepUpAll && op == OpRead:
		return StepUpNeeded
	case p.Level >= StepUpWrite && (op == OpWrite || op == OpCreate):
		if p.ProtectedOnly {
			return StepUpNeededForProtected
		}
		return StepUpNeeded
	case p.Level >= StepUpWrite && op == OpAdmin:
		return StepUpNeeded
	case p.Level >= StepUpWrite && op != OpRead:
		// An operation this does not know fails closed.
		return StepUpNeeded
	}
	return StepUpNone
}

// StepUpRefNeeded reports whether update u of a push touches a protected
// branch (matches a pattern of protected), so that it needs a window
// under a ProtectedOnly policy. Pure; patterns match as in DecideRef.
func StepUpRefNeeded(protected []ProtectedBranch, u RefUpdate) bool {
	branch, ok := strings.CutPrefix(u.Name, "refs/heads/")
	if !ok || branch == "" {
		return false
	}
	for _, pb := range protected {
		if MatchBranch(pb.Pattern, branch) {
			return true
		}
	}
	return false
}

// StepUpFacts is what a step-up check looks at; the store gathers it.
type StepUpFacts struct {
	// Site and Org are the site's policy and the policy of the
	// organization owning the namespace (zero for a user's namespace).
	Site, Org StepUpPolicy
	// Enrolled says the user has a confirmed TOTP secret.
	Enrolled bool
	// WindowOpen says the user has an open window for the address.
	WindowOpen bool
}

// StepUpCheck is the outcome of a step-up check of an operation.
type StepUpCheck struct {
	// Demand is what is still needed: StepUpNone when the policy asks
	// nothing or a window is open.
	Demand StepUpDemand
	// Policy is the policy that applied (the stricter of site and org).
	Policy StepUpPolicy
	// Enrolled says whether the user can open a window at all.
	Enrolled bool
}

// StepUpWindow is an open window: the user's operations from Address
// (an IP address) pass the step-up check until ExpiresAt.
type StepUpWindow struct {
	User      string    `json:"user"`
	Address   string    `json:"address"`
	ExpiresAt time.Time `json:"expires_at"`
}

// StepUpStatus is a user's two-factor state.
type StepUpStatus struct {
	User string `json:"user"`
	// Enrolled says a secret is confirmed; Pending that one is waiting
	// for its first code.
	Enrolled   bool       `json:"enrolled"`
	Pending    bool       `json:"pending"`
	EnrolledAt *time.Time `json:"enrolled_at,omitempty"`
	// RecoveryCodesLeft counts the unused recovery codes.
	RecoveryCodesLeft int            `json:"recovery_codes_left"`
	Windows           []StepUpWindow `json:"windows"`
}

// StepUpEnrollment is an enrolment waiting for its first code: the secret
// as base32 text and the otpauth:// URI an authenticator app reads.
type StepUpEnrollment struct {
	User   string `json:"user"`
	Secret string `json:"secret"`
	URI    string `json:"uri"`
}

// StepUpService keeps TOTP secrets, recovery codes, windows, failure
// counts and policies. Users are named; "" names the site for policies.
type StepUpService interface {
	// BeginEnrollment stores a new unconfirmed secret for user in place
	// of any unconfirmed one. ErrConflict if user is enrolled already,
	// ErrNotFound for an unknown user.
	BeginEnrollment(ctx context.Context, user string, secret []byte) error
	// PendingSecret returns user's unconfirmed secret; ErrNotFound if
	// there is none.
	PendingSecret(ctx context.Context, user string) ([]byte, error)
	// ConfirmEnrollment checks code against the unconfirmed secret and,
	// if it is right, confirms it and returns RecoveryCodes new recovery
	// codes (only their digests are kept). ErrInvalid for a wrong code,
	// ErrNotFound if nothing is pending, ErrLimit while locked out.
	ConfirmEnrollment(ctx context.Context, user, address, code string) ([]string, error)
	// RedeemCode checks a TOTP or recovery code of user coming from
	// address and, when window > 0, opens a window for them until
	// now+window. A TOTP code is accepted once (its step is remembered in
	// the same transaction) and ±1 step off; a recovery code once. A
	// wrong code counts against user and address (ErrInvalid); past the
	// bounds both are locked out (ErrLimit). ErrNotFound if user is not
	// enrolled.
	RedeemCode(ctx context.Context, user, address, code string, window time.Duration) (*StepUpWindow, error)
	// ResetStepUp removes user's secret, recovery codes, windows and
	// failure count. ErrNotFound for an unknown user.
	ResetStepUp(ctx context.Context, user string) error
	// FindStepUpStatus returns user's state, with the open windows.
	FindStepUpStatus(ctx context.Context, user string) (*StepUpStatus, error)
	// StepUpFacts gathers what a check of user's operation in namespace
	// owner ("" for none) from address needs.
	StepUpFacts(ctx context.Context, userID int64, owner, address string) (*StepUpFacts, error)
	// SetStepUpPolicy sets the policy of org, or of the site for "".
	// ErrNotFound for an unknown organization.
	SetStepUpPolicy(ctx context.Context, org string, p StepUpPolicy) error
	// FindStepUpPolicy returns the policy of org, or of the site for "".
	FindStepUpPolicy(ctx context.Context, org string) (StepUpPolicy, error)
	// FindLoginLinkUser returns the user of the live login link with
	// secret without using it up, so that the panel can ask an enrolled
	// user for a code first. ErrNotFound as for RedeemLoginLink.
	FindLoginLinkUser(ctx context.Context, secret string) (*User, error)
}

// stepUpHintKey is the context key of a push that must refuse protected
// branches without a window (see NewContextWithStepUpHint).
var stepUpHintKey = &contextKey{"stepup-hint"}

// NewContextWithStepUpHint marks a push under a ProtectedOnly policy
// without an open window: each ref update that StepUpRefNeeded names is
// refused, with hint (what to run) as the reason.
func NewContextWithStepUpHint(ctx context.Context, hint string) context.Context {
	return context.WithValue(ctx, stepUpHintKey, hint)
}

// StepUpHintFromContext returns the hint NewContextWithStepUpHint set;
// ok is false for a push that needs no window.
func StepUpHintFromContext(ctx context.Context) (hint string, ok bool) {
	hint, ok = ctx.Value(stepUpHintKey).(string)
	return hint, ok
}
