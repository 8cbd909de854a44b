package gatehouse

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Organization is an owner beside users: repositories live under its
// name ("acme/api") and its members share them. Its name is in the users'
// namespace: a name is a user or an organization, never both.
type Organization struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// DefaultLevel is what every member has on the organization's
	// repositories: AccessRead (the default) or AccessNone, when access
	// should come from teams only.
	DefaultLevel AccessLevel `json:"default_level"`
	CreatedAt    time.Time   `json:"created_at"`
}

// OrgRole is a user's role in an organization.
type OrgRole string

const (
	// RoleNone is not a member; never stored.
	RoleNone OrgRole = ""
	// RoleMember has the organization's default level on its repositories.
	RoleMember OrgRole = "member"
	// RoleAdmin has admin on all the organization's repositories and may
	// create repositories in it by pushing.
	RoleAdmin OrgRole = "admin"
)

// ParseOrgRole reads "member" or "admin".
func ParseOrgRole(s string) (OrgRole, error) {
	switch r := OrgRole(strings.ToLower(s)); r {
	case RoleMember, RoleAdmin:
		return r, nil
	}
	return RoleNone, fmt.Errorf("role %q must be member or admin: %w", s, ErrInvalid)
}

// OrgMember is a user's membership in an organization.
type OrgMember struct {
	User string  `json:"user"`
	Role OrgRole `json:"role"`
}

// OrgFilter narrows FindOrgs; zero fields match everything.
type OrgFilter struct {
	// Member keeps the organizations this user is a member of.
	Member string
}

// OrgUpdate holds the fields to change; nil means leave as is.
type OrgUpdate struct {
	DefaultLevel *AccessLevel
}

// Team is a group of an organization's members that is granted levels on
// repositories, written "@ORG/TEAM" where a collaborator is expected.
type Team struct {
	ID        int64     `json:"id"`
	Org       string    `json:"org"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// FullName is "org/team".
func (t *Team) FullName() string { return t.Org + "/" + t.Name }

// TeamGrant is a team granted a level on a repository.
type TeamGrant struct {
	Team  string      `json:"team"` // org/team
	Level AccessLevel `json:"level"`
}

// ParseTeamRef reads "@ORG/TEAM" (or "ORG/TEAM" when at is false) into
// its two names. ok is false when s does not name a team at all (a user
// name), err is set when it does but is malformed.
func ParseTeamRef(s string, at bool) (org, team string, ok bool, err error) {
	if at {
		if s, ok = strings.CutPrefix(s, "@"); !ok {
			return "", "", false, nil
		}
	}
	org, team, cut := strings.Cut(s, "/")
	if !cut || strings.Contains(team, "/") {
		return "", "", true, fmt.Errorf("team %q must be ORG/TEAM: %w", s, ErrInvalid)
	}
	for _, n := range []string{org, team} {
		if err := ValidateName(n); err != nil {
			return "", "", true, err
		}
	}
	return org, team, true, nil
}

// OrgService manages organizations, their members and teams, and the
// levels teams are granted on repositories. Changes are not audited here;
// the front end that makes them records who did.
type OrgService interface {
	// CreateOrg validates o.Name and stores o, filling ID and CreatedAt.
	// The zero DefaultLevel is AccessNone, so callers set AccessRead for
	// the usual default. ErrInvalid, ErrConflict if a user or an
	// organization has the name.
	CreateOrg(ctx context.Context, o *Organization) error
	// FindOrgByName returns ErrNotFound if there is no such organization.
	FindOrgByName(ctx context.Context, name string) (*Organization, error)
	// FindOrgs lists the organizations f selects, by name.
	FindOrgs(ctx context.Context, f OrgFilter) ([]*Organization, error)
	// UpdateOrg applies upd. ErrInvalid for a default level other than
	// none or read; ErrNotFound.
	UpdateOrg(ctx context.Context, name string, upd OrgUpdate) (*Organization, error)
	// DeleteOrg removes the organization with its memberships, teams and
	// their grants. ErrConflict while it owns repositories: those live on
	// disk too and go through the repository service first.
	DeleteOrg(ctx context.Context, name string) error

	// SetOrgMember adds user to org with role, or changes the role.
	// ErrInvalid for another role, ErrNotFound for an unknown org or user.
	SetOrgMember(ctx context.Context, org, user string, role OrgRole) error
	// RemoveOrgMember removes user from org and from all its teams.
	// ErrNotFound if user is not a member.
	RemoveOrgMember(ctx context.Context, org, user string) error
	FindOrgMembers(ctx context.Context, org string) ([]*OrgMember, error)

	// CreateTeam stores t (t.Org names an existing organization).
	// ErrInvalid, ErrNotFound (org), ErrConflict.
	CreateTeam(ctx context.Context, t *Team) error
	// DeleteTeam removes the team with its members and grants.
	DeleteTeam(ctx context.Context, org, team string) error
	FindTeams(ctx context.Context, org string) ([]*Team, error)
	// AddTeamMember adds user to org/team. ErrInvalid unless user is a
	// member of org (a team never reaches beyond its organization);
	// ErrConflict if already in the team; ErrNotFound.
	AddTeamMember(ctx context.Context, org, team, user string) error
	// RemoveTeamMember: ErrNotFound if user is not in the team.
	RemoveTeamMember(ctx context.Context, org, team, user string) error
	// FindTeamMembers lists the user names in org/team.
	FindTeamMembers(ctx context.Context, org, team string) ([]string, error)

	// SetTeamGrant grants org/team level on owner/name, replacing an
	// earlier grant. ErrInvalid unless level is read, write or admin.
	SetTeamGrant(ctx context.Context, owner, name, org, team string, level AccessLevel) error
	// RemoveTeamGrant: ErrNotFound if the team has no grant there.
	RemoveTeamGrant(ctx context.Context, owner, name, org, team string) error
	// FindTeamGrants lists the teams granted on owner/name.
	FindTeamGrants(ctx context.Context, owner, name string) ([]*TeamGrant, error)
}

// Audit actions for organizations and teams.
const (
	AuditOrgCreate        = "org.create"
	AuditOrgUpdate        = "org.update"
	AuditOrgDelete        = "org.delete"
	AuditOrgMemberSet     = "org.member.set"
	AuditOrgMemberRemove  = "org.member.remove"
	AuditTeamCreate       = "team.create"
	AuditTeamDelete       = "team.delete"
	AuditTeamMemberAdd    = "team.member.add"
	AuditTeamMemberRemove = "team.member.remove"
	AuditTeamGrantSet     = "team.grant.set"
	AuditTeamGrantRemove  = "team.grant.remove"
)
