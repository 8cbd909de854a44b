package backend

import (
	"context"
	"fmt"

	"gatehouse"
)

// Organizations and teams. What an actor may do with an organization
// itself is gatehouse.DecideOrg's call; with a repository, as everywhere,
// Authorize's (team grants are repository settings, like collaborators).

// orgAccess returns nil if a has at least need on org. An organization a
// may not see answers ErrNotFound, worded like one that does not exist.
// The local operator passes; the store reports a missing organization.
func (b *Backend) orgAccess(ctx context.Context, a gatehouse.Actor, org string, need gatehouse.AccessLevel) error {
	if b.Orgs == nil {
		return ErrUnavailable
	}
	if a.Local() {
		return nil
	}
	ms, err := b.Orgs.FindOrgMembers(ctx, org)
	if err != nil {
		return err
	}
	role := gatehouse.RoleNone
	for _, m := range ms {
		if m.User == a.User.Name {
			role = m.Role
		}
	}
	switch lvl := gatehouse.DecideOrg(a.User, role); {
	case lvl == gatehouse.AccessNone:
		return fmt.Errorf("organization %q: %w", org, gatehouse.ErrNotFound)
	case lvl < need:
		return fmt.Errorf("only admins of %s may change it: %w", org, gatehouse.ErrForbidden)
	}
	return nil
}

// orgActor returns the actor in ctx if they have at least need on org.
func (b *Backend) orgActor(ctx context.Context, org string, need gatehouse.AccessLevel) (gatehouse.Actor, error) {
	a, err := actor(ctx)
	if err != nil {
		return a, err
	}
	return a, b.orgAccess(ctx, a, org, need)
}

// CanAdminOrg reports whether the actor in ctx administers org.
func (b *Backend) CanAdminOrg(ctx context.Context, org string) bool {
	_, err := b.orgActor(ctx, org, gatehouse.AccessAdmin)
	return err == nil
}

// FindOrgs returns the organizations matching f: all of them to site
// admins, and to others only those they are a member of.
func (b *Backend) FindOrgs(ctx context.Context, f gatehouse.OrgFilter) ([]*gatehouse.Organization, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if b.Orgs == nil {
		return nil, ErrUnavailable
	}
	if !siteAdmin(a) {
		f.Member = a.User.Name
	}
	return b.Orgs.FindOrgs(ctx, f)
}

func (b *Backend) FindOrgByName(ctx context.Context, name string) (*gatehouse.Organization, error) {
	if _, err := b.orgActor(ctx, name, gatehouse.AccessRead); err != nil {
		return nil, err
	}
	return b.Orgs.FindOrgByName(ctx, name)
}

// CreateOrg is for site admins; they then name the organization's admins.
func (b *Backend) CreateOrg(ctx context.Context, o *gatehouse.Organization) error {
	a, err := actor(ctx)
	if err != nil {
		return err
	}
	if err := requireSiteAdmin(a, "create organizations"); err != nil {
		return err
	}
	if b.Orgs == nil {
		return ErrUnavailable
	}
	if err := b.Orgs.CreateOrg(ctx, o); err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditOrgCreate, "", o.Name+" default="+o.DefaultLevel.String())
	return nil
}

func (b *Backend) UpdateOrg(ctx context.Context, name string, upd gatehouse.OrgUpdate) (*gatehouse.Organization, error) {
	a, err := b.orgActor(ctx, name, gatehouse.AccessAdmin)
	if err != nil {
		return nil, err
	}
	o, err := b.Orgs.UpdateOrg(ctx, name, upd)
	if err != nil {
		return nil, err
	}
	b.publish(ctx, a, gatehouse.AuditOrgUpdate, "", o.Name+" default="+o.DefaultLevel.String())
	return o, nil
}

// DeleteOrg refuses (ErrConflict) while the organization owns
// repositories; DeleteOrgWithRepos removes them first.
func (b *Backend) DeleteOrg(ctx context.Context, name string) error {
	a, err := b.orgActor(ctx, name, gatehouse.AccessAdmin)
	if err != nil {
		return err
	}
	if err := b.Orgs.DeleteOrg(ctx, name); err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditOrgDelete, "", name)
	return nil
}

// DeleteOrgWithRepos removes the organization's repositories, one at a
// time and each with its disk, then the organization; it returns the
// repositories removed (also when a later step fails).
func (b *Backend) DeleteOrgWithRepos(ctx context.Context, name string) ([]string, error) {
	if _, err := b.FindOrgByName(ctx, name); err != nil {
		return nil, err
	}
	if _, err := b.orgActor(ctx, name, gatehouse.AccessAdmin); err != nil {
		return nil, err
	}
	rs, err := b.Repos.FindRepos(ctx, gatehouse.RepoFilter{Owner: name})
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, r := range rs {
		if err := b.deleteRepo(ctx, r.Owner, r.Name, "org rm --force"); err != nil {
			return removed, err
		}
		removed = append(removed, r.FullName())
	}
	return removed, b.DeleteOrg(ctx, name)
}

func (b *Backend) FindOrgMembers(ctx context.Context, org string) ([]*gatehouse.OrgMember, error) {
	if _, err := b.orgActor(ctx, org, gatehouse.AccessRead); err != nil {
		return nil, err
	}
	return b.Orgs.FindOrgMembers(ctx, org)
}

func (b *Backend) SetOrgMember(ctx context.Context, org, user string, role gatehouse.OrgRole) error {
	a, err := b.orgActor(ctx, org, gatehouse.AccessAdmin)
	if err != nil {
		return err
	}
	if err := b.Orgs.SetOrgMember(ctx, org, user, role); err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditOrgMemberSet, "", org+" "+user+" "+string(role))
	return nil
}

func (b *Backend) RemoveOrgMember(ctx context.Context, org, user string) error {
	a, err := b.orgActor(ctx, org, gatehouse.AccessAdmin)
	if err != nil {
		return err
	}
	if err := b.Orgs.RemoveOrgMember(ctx, org, user); err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditOrgMemberRemove, "", org+" "+user)
	return nil
}

func (b *Backend) FindTeams(ctx context.Context, org string) ([]*gatehouse.Team, error) {
	if _, err := b.orgActor(ctx, org, gatehouse.AccessRead); err != nil {
		return nil, err
	}
	return b.Orgs.FindTeams(ctx, org)
}

func (b *Backend) CreateTeam(ctx context.Context, t *gatehouse.Team) error {
	a, err := b.orgActor(ctx, t.Org, gatehouse.AccessAdmin)
	if err != nil {
		return err
	}
	if err := b.Orgs.CreateTeam(ctx, t); err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditTeamCreate, "", t.FullName())
	return nil
}

func (b *Backend) DeleteTeam(ctx context.Context, org, team string) error {
	a, err := b.orgActor(ctx, org, gatehouse.AccessAdmin)
	if err != nil {
		return err
	}
	if err := b.Orgs.DeleteTeam(ctx, org, team); err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditTeamDelete, "", org+"/"+team)
	return nil
}

func (b *Backend) FindTeamMembers(ctx context.Context, org, team string) ([]string, error) {
	if _, err := b.orgActor(ctx, org, gatehouse.AccessRead); err != nil {
		return nil, err
	}
	return b.Orgs.FindTeamMembers(ctx, org, team)
}

func (b *Backend) AddTeamMember(ctx context.Context, org, team, user string) error {
	a, err := b.orgActor(ctx, org, gatehouse.AccessAdmin)
	if err != nil {
		return err
	}
	if err := b.Orgs.AddTeamMember(ctx, org, team, user); err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditTeamMemberAdd, "", org+"/"+team+" "+user)
	return nil
}

func (b *Backend) RemoveTeamMember(ctx context.Context, org, team, user string) error {
	a, err := b.orgActor(ctx, org, gatehouse.AccessAdmin)
	if err != nil {
		return err
	}
	if err := b.Orgs.RemoveTeamMember(ctx, org, team, user); err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditTeamMemberRemove, "", org+"/"+team+" "+user)
	return nil
}

// FindTeamGrants needs admin on the repository, like its collaborators.
func (b *Backend) FindTeamGrants(ctx context.Context, owner, name string) ([]*gatehouse.TeamGrant, error) {
	_, err := b.repoAdminActor(ctx, owner, name)
	if err != nil {
		return nil, err
	}
	if b.Orgs == nil {
		return nil, ErrUnavailable
	}
	return b.Orgs.FindTeamGrants(ctx, owner, name)
}

// SetTeamGrant needs admin on the repository and a view of the team's
// organization, so that nobody probes for teams they cannot see.
func (b *Backend) SetTeamGrant(ctx context.Context, owner, name, org, team string, level gatehouse.AccessLevel) error {
	a, err := b.repoAdminActor(ctx, owner, name)
	if err != nil {
		return err
	}
	if err := b.orgAccess(ctx, a, org, gatehouse.AccessRead); err != nil {
		return err
	}
	if err := checkGrant(level); err != nil {
		return err
	}
	if err := b.Orgs.SetTeamGrant(ctx, owner, name, org, team, level); err != nil {
		return err
	}
	b.publishEvent(ctx, gatehouse.Event{Kind: gatehouse.AuditTeamGrantSet, Actor: a, Repo: owner + "/" + name,
		Detail: "@" + org + "/" + team + " " + level.String(), Subject: "@" + org + "/" + team, Level: level})
	return nil
}

func (b *Backend) RemoveTeamGrant(ctx context.Context, owner, name, org, team string) error {
	a, err := b.repoAdminActor(ctx, owner, name)
	if err != nil {
		return err
	}
	if b.Orgs == nil {
		return ErrUnavailable
	}
	if err := b.Orgs.RemoveTeamGrant(ctx, owner, name, org, team); err != nil {
		return err
	}
	b.publishEvent(ctx, gatehouse.Event{Kind: gatehouse.AuditTeamGrantRemove, Actor: a, Repo: owner + "/" + name,
		Detail: "@" + org + "/" + team, Subject: "@" + org + "/" + team})
	return nil
}
