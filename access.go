package gatehouse

import (
	"context"
	"fmt"
	"path"
	"strings"
	"unicode"
)

// AccessLevel orders what an actor may do with a repository.
type AccessLevel int

const (
	AccessNone AccessLevel = iota
	AccessRead
	AccessWrite
	AccessAdmin
)

var levelNames = [...]string{"none", "read", "write", "admin"}

func (l AccessLevel) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return fmt.Sprintf("AccessLevel(%d)", int(l))
	}
	return levelNames[l]
}

// ParseAccessLevel reads "read", "write" or "admin" (and "none").
func ParseAccessLevel(s string) (AccessLevel, error) {
	for i, n := range levelNames {
		if strings.EqualFold(s, n) {
			return AccessLevel(i), nil
		}
	}
	return AccessNone, fmt.Errorf("access level %q must be read, write or admin: %w", s, ErrInvalid)
}

// ParseGrantLevel reads a level to grant a collaborator or team: read,
// write or admin ("none" is removal, not a level).
func ParseGrantLevel(s string) (AccessLevel, error) {
	lvl, err := ParseAccessLevel(s)
	if err != nil || lvl == AccessNone {
		return AccessNone, fmt.Errorf("level %q must be read, write or admin: %w", s, ErrInvalid)
	}
	return lvl, nil
}

// ParseDefaultLevel reads an organization's default member level: read
// or none; empty is read, the usual default.
func ParseDefaultLevel(s string) (AccessLevel, error) {
	if s == "" {
		return AccessRead, nil
	}
	lvl, err := ParseAccessLevel(s)
	if err != nil || lvl > AccessRead {
		return AccessNone, fmt.Errorf("default level %q must be read or none: %w", s, ErrInvalid)
	}
	return lvl, nil
}

// MarshalText writes the level's name.
func (l AccessLevel) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads a level's name.
func (l *AccessLevel) UnmarshalText(b []byte) error {
	v, err := ParseAccessLevel(string(b))
	*l = v
	return err
}

// Operation is what an actor wants to do with a repository.
type Operation int

const (
	OpRead  Operation = iota + 1 // clone, fetch, archive
	OpWrite                      // push
	OpAdmin                      // change settings and grants
	// OpCreate is creating a repository on purpose (panel, API): what
	// a push may create, and for site admins any namespace. On an
	// existing repository it needs admin (and then meets a conflict).
	OpCreate
)

// Required is the least level the operation needs. An unknown operation
// needs more than anyone has, so it is always denied.
func (op Operation) Required() AccessLevel {
	switch op {
	case OpRead:
		return AccessRead
	case OpWrite:
		return AccessWrite
	case OpAdmin, OpCreate:
		return AccessAdmin
	}
	return AccessAdmin + 1
}

// Actor is who asks: a user, a deploy key, or nobody known (both nil);
// or the trusted local operator (LocalActor).
type Actor struct {
	User      *User
	DeployKey *DeployKey
	// Token is the API token a web request came with; nil otherwise. It
	// caps the tokens the request may create (MintLimits).
	Token *Token
	// Address is where the request came from ("IP:port"), for the audit
	// log; empty for the local operator.
	Address string
	// KeyFingerprint is the SHA256 fingerprint of the SSH key a session
	// authenticated with ("SHA256:..."); empty for other requests.
	KeyFingerprint string
	// Key is what the key policies look at in that key; nil for other
	// requests, which no key policy concerns.
	Key *KeyTraits

	// local names the local operator; see LocalActor.
	local string
}

// LocalActor is the operator at the server's own console: the command
// line, or the server acting on its own at start. Whoever can run it can
// open the database itself, so it is trusted with site-admin powers and
// no check is made on it; name is how it appears in the audit log
// ("cli", "serve").
func LocalActor(name string) Actor { return Actor{local: name} }

// Local reports whether a is the local operator (LocalActor).
func (a Actor) Local() bool { return a.local != "" }

// Anonymous reports whether no user, deploy key or local operator is
// behind the actor.
func (a Actor) Anonymous() bool { return a.User == nil && a.DeployKey == nil && a.local == "" }

// Name is how the actor appears in audit entries and logs: the user's
// name, "deploy-key:FINGERPRINT", the local operator's name, or "" for
// anonymous.
func (a Actor) Name() string {
	switch {
	case a.User != nil:
		return a.User.Name
	case a.DeployKey != nil:
		return "deploy-key:" + a.DeployKey.Fingerprint
	}
	return a.local
}

// contextKey is the type of the root package's context keys; a pointer to
// a non-empty struct, so that two keys never compare equal.
type contextKey struct{ name string }

// actorKey is the context key for the Actor behind a request.
var actorKey = &contextKey{"actor"}

// NewContextWithActor returns ctx carrying actor: the front end that
// authenticated a request passes it to the services, which apply the
// per-ref checks of a push to it.
func NewContextWithActor(ctx context.Context, actor Actor) context.Context {
	return context.WithValue(ctx, actorKey, actor)
}

// ActorFromContext returns the actor in ctx; ok is false if none was set,
// which callers treat as "deny".
func ActorFromContext(ctx context.Context) (actor Actor, ok bool) {
	actor, ok = ctx.Value(actorKey).(Actor)
	return actor, ok
}

// AccessFacts is everything the access decision looks at. The store
// gathers it; Decide judges it.
type AccessFacts struct {
	Actor Actor
	// Owner is the namespace asked for; Repo is nil when owner/name does
	// not exist.
	Owner string
	Repo  *Repo
	// Grant is the level granted directly to Actor.User on Repo.
	Grant AccessLevel
	// Org is set when Owner names an organization (whether or not Repo
	// exists); nil for a user's namespace.
	Org *OrgFacts
	// TeamGrants are the levels granted on Repo to the teams Actor.User
	// is in, one per team; the highest counts.
	TeamGrants []AccessLevel
	// AnonRead is the server's --anon-read setting.
	AnonRead bool
	// Protected lists Repo's protected branch patterns; only DecideRef
	// looks at them.
	Protected []ProtectedBranch
}

// OrgFacts is what the access decision needs about the organization
// that owns (or would own) a repository.
type OrgFacts struct {
	// ID is the organization's id; Repo.OwnerID must match it.
	ID int64
	// Role is Actor.User's role in it (RoleNone if not a member).
	Role OrgRole
	// DefaultLevel is what members get: AccessRead or AccessNone.
	DefaultLevel AccessLevel
	// KeyPolicy is the organization's key policy: an SSH key that does
	// not meet it may do nothing with its repositories.
	KeyPolicy KeyPolicy
}

// Decision is the outcome of Decide.
type Decision struct {
	// Level is what the actor has on the repository.
	Level AccessLevel
	// Allow says whether the operation may go ahead.
	Allow bool
	// Create says the repository does not exist and the push may create it.
	Create bool
	// KeyRefused, when set, is why the organization's key policy refused
	// the actor's key (a *KeyPolicyError); Allow and Create are false.
	// It is left nil for an actor who may not know the repository
	// exists, who is refused as for any repository they cannot read.
	KeyRefused error
}

// Decide is the one access decision: what the actor in f may do, and
// whether op is allowed. It is pure and fails closed: anything it does not
// recognise gets AccessNone.
//
// The organization's key policy applies on top: a key it refuses may do
// nothing with the organization's repositories, whatever its level
// (Decision.KeyRefused says why).
func Decide(f AccessFacts, op Operation) Decision {
	d := decideLevel(f, op)
	if f.Org != nil && f.Actor.Key != nil {
		rule := KeyPolicyRule{Policy: f.Org.KeyPolicy, Scope: KeyPolicyScope{Kind: ScopeOrg, Name: f.Owner}}
		if err := CheckKeyPolicy(rule, *f.Actor.Key); err != nil {
			// Named only to whom the repository is no secret.
			if d.Allow || d.Create || d.Level >= AccessRead {
				d.KeyRefused = err
			}
			d.Allow, d.Create = false, false
		}
	}
	return d
}

// decideLevel is Decide without the key policy.
func decideLevel(f AccessFacts, op Operation) Decision {
	lvl := level(f)
	d := Decision{Level: lvl, Allow: lvl >= op.Required()}
	u := f.Actor.User
	if f.Repo != nil || (op != OpWrite && op != OpCreate) || u == nil || u.Disabled || u.ID == 0 ||
		f.Actor.DeployKey != nil || ValidateName(f.Owner) != nil {
		return d
	}
	// Pushing into nothing under one's own name, or into an organization
	// one administers, creates the repository. An organization's plain
	// members, and site admins, may not: the namespace belongs to its
	// admins. Creating on purpose (OpCreate) is also open to site admins.
	if f.Org == nil && u.Name == f.Owner || f.Org != nil && f.Org.Role == RoleAdmin || op == OpCreate && u.Admin {
		d = Decision{Level: AccessAdmin, Allow: true, Create: true}
	}
	return d
}

// DecideOrg is the access decision for an organization itself (its
// settings, members and teams), beside Decide for its repositories:
// site admins and the organization's admins manage it (AccessAdmin), its
// members see it (AccessRead), and to anyone else it does not exist. role
// is u's role in it as the store reports it. Pure; fails closed.
func DecideOrg(u *User, role OrgRole) AccessLevel {
	switch {
	case u == nil || u.Disabled || u.ID == 0:
		return AccessNone
	case u.Admin || role == RoleAdmin:
		return AccessAdmin
	case role == RoleMember:
		return AccessRead
	}
	return AccessNone
}

// orgLevel is what membership of the organization owning r gives. The
// facts must be about r's owner (same id), or they count for nothing.
func orgLevel(o *OrgFacts, r *Repo) AccessLevel {
	if o == nil || o.ID == 0 || o.ID != r.OwnerID {
		return AccessNone
	}
	switch o.Role {
	case RoleAdmin:
		return AccessAdmin
	case RoleMember:
		// Only none and read are defaults; anything else fails closed.
		if o.DefaultLevel == AccessRead {
			return AccessRead
		}
	}
	return AccessNone
}

// validGrant is g if it is a grantable level, AccessNone otherwise.
func validGrant(g AccessLevel) AccessLevel {
	if g >= AccessRead && g <= AccessAdmin {
		return g
	}
	return AccessNone
}

func level(f AccessFacts) AccessLevel {
	r := f.Repo
	if r == nil {
		return AccessNone
	}
	switch a := f.Actor; {
	case a.User != nil && a.DeployKey != nil:
		// Ambiguous: a key is either a user's or a deploy key.
		return AccessNone
	case a.DeployKey != nil:
		if a.DeployKey.RepoID != r.ID || r.ID == 0 {
			return AccessNone
		}
		if a.DeployKey.Write {
			return AccessWrite
		}
		return AccessRead
	case a.User != nil:
		u := a.User
		if u.Disabled || u.ID == 0 {
			return AccessNone
		}
		if u.Admin || (u.ID == r.OwnerID && u.Name == r.Owner) {
			return AccessAdmin
		}
		// The effective level is the highest of everything that applies.
		lvl := max(validGrant(f.Grant), orgLevel(f.Org, r))
		for _, g := range f.TeamGrants {
			lvl = max(lvl, validGrant(g))
		}
		if !r.Private && lvl < AccessRead {
			lvl = AccessRead
		}
		return lvl
	default:
		if !r.Private && f.AnonRead {
			return AccessRead
		}
		return AccessNone
	}
}

// Reasons DecideRef gives; the client shows them as
// "! [remote rejected] REF (REASON)".
const (
	RefReasonNoAccess  = "permission denied"
	RefReasonDelete    = "protected branch: deletion not allowed"
	RefReasonForce     = "protected branch: force-push not allowed"
	RefReasonAdminOnly = "protected branch: only repository admins may push"
)

// RefDecision is the outcome of DecideRef: Reason is empty when allowed.
type RefDecision struct {
	Allow  bool
	Reason string
}

// DecideRef is the per-ref half of the one access decision: whether the
// actor in f may make update u, one ref of a push. It is pure and fails
// closed. It applies what Decide applies for OpWrite (the level is
// recomputed here, so a caller cannot pass a stale one), and then the
// protected branch patterns in f.Protected: a matching branch may not be
// deleted or force-pushed by anyone, and an admin-only one may be updated
// by repository admins only (never by a deploy key, which has at most
// write). Tags and other refs are not branches and match no pattern.
func DecideRef(f AccessFacts, u RefUpdate) RefDecision {
	if level(f) < AccessWrite {
		return RefDecision{Reason: RefReasonNoAccess}
	}
	branch, ok := strings.CutPrefix(u.Name, "refs/heads/")
	if !ok || branch == "" {
		return RefDecision{Allow: true}
	}
	var matched, adminOnly bool
	for _, pb := range f.Protected {
		if MatchBranch(pb.Pattern, branch) {
			matched = true
			adminOnly = adminOnly || pb.AdminOnly
		}
	}
	switch {
	case !matched:
		return RefDecision{Allow: true}
	case isZeroID(u.New):
		return RefDecision{Reason: RefReasonDelete}
	case u.Forced:
		return RefDecision{Reason: RefReasonForce}
	case adminOnly && level(f) < AccessAdmin:
		return RefDecision{Reason: RefReasonAdminOnly}
	}
	return RefDecision{Allow: true}
}

// isZeroID reports whether id is the all-zero object name that stands
// for "no object" (SHA-1 or SHA-256 length). An empty id counts as zero:
// an update without a new object can only be a deletion.
func isZeroID(id string) bool {
	return strings.Trim(id, "0") == ""
}

// MatchBranch reports whether branch (without "refs/heads/") matches the
// protected branch pattern: a glob where * and ? do not cross "/", so
// "release/*" covers "release/1.0" but not "release/1.0/fix". A malformed
// pattern matches nothing; NormalizeBranchPattern refuses those.
func MatchBranch(pattern, branch string) bool {
	ok, err := path.Match(pattern, branch)
	return err == nil && ok
}

// NormalizeBranchPattern checks a protected branch pattern and returns it
// without a leading "refs/heads/". ErrInvalid for an empty or overlong
// pattern, a malformed glob, a name that still starts with "refs/", and
// anything git would not accept in a branch name apart from the glob
// characters * ? [ ].
func NormalizeBranchPattern(p string) (string, error) {
	p = strings.TrimPrefix(strings.TrimSpace(p), "refs/heads/")
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("branch pattern %q: %s: %w", p, why, ErrInvalid)
	}
	switch {
	case p == "":
		return bad("empty")
	case len(p) > 200:
		return bad("longer than 200 bytes")
	case strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//"):
		return bad("empty path component")
	case strings.Contains(p, "..") || strings.Contains(p, "@{") || strings.HasSuffix(p, ".lock") || strings.HasPrefix(p, "-"):
		return bad("not a valid branch name")
	case strings.HasPrefix(p, "refs/"):
		// "refs/heads/refs/heads/x" would name the branch "refs/heads/x",
		// which reads as the branch "x" everywhere else.
		return bad("ambiguous: a branch name starting with refs/")
	}
	for _, r := range p {
		if unicode.IsControl(r) || unicode.IsSpace(r) || strings.ContainsRune("~^:\\", r) {
			return bad("contains a character branch names may not have")
		}
	}
	if _, err := path.Match(p, ""); err != nil {
		return bad("malformed glob")
	}
	return p, nil
}
