package gatehouse

import (
	"fmt"
	"strings"
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
)

// Required is the least level the operation needs. An unknown operation
// needs more than anyone has, so it is always denied.
func (op Operation) Required() AccessLevel {
	switch op {
	case OpRead:
		return AccessRead
	case OpWrite:
		return AccessWrite
	case OpAdmin:
		return AccessAdmin
	}
	return AccessAdmin + 1
}

// Actor is who asks: a user, a deploy key, or nobody known (both nil).
type Actor struct {
	User      *User
	DeployKey *DeployKey
}

// Anonymous reports whether no user or deploy key is behind the actor.
func (a Actor) Anonymous() bool { return a.User == nil && a.DeployKey == nil }

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
	// AnonRead is the server's --anon-read setting.
	AnonRead bool
}

// Decision is the outcome of Decide.
type Decision struct {
	// Level is what the actor has on the repository.
	Level AccessLevel
	// Allow says whether the operation may go ahead.
	Allow bool
	// Create says the repository does not exist and the push may create it.
	Create bool
}

// Decide is the one access decision: what the actor in f may do, and
// whether op is allowed. It is pure and fails closed: anything it does not
// recognise gets AccessNone.
func Decide(f AccessFacts, op Operation) Decision {
	lvl := level(f)
	d := Decision{Level: lvl, Allow: lvl >= op.Required()}
	u := f.Actor.User
	if f.Repo == nil && op == OpWrite && u != nil && !u.Disabled && f.Actor.DeployKey == nil &&
		u.Name == f.Owner && ValidateName(f.Owner) == nil {
		// Pushing into nothing under one's own name creates the repository.
		d = Decision{Level: AccessAdmin, Allow: true, Create: true}
	}
	return d
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
		lvl := AccessNone
		if f.Grant > AccessNone && f.Grant <= AccessAdmin {
			lvl = f.Grant
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
