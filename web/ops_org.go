package web

import (
	"context"
	"fmt"

	"gatehouse"
)

// Operations on organizations and teams, shared by the API and the panel.
// What a caller may do with an organization itself is gatehouse.DecideOrg's
// call; with a repository, as everywhere, Authorize's (team grants are
// repository settings, like collaborators).

// orgAccess returns nil if c has at least need on org. An organization c
// may not see answers ErrNotFound, worded like one that does not exist.
func (s *Server) orgAccess(ctx context.Context, c caller, org string, need gatehouse.AccessLevel) error {
	if s.Orgs == nil {
		return errUnavailable
	}
	ms, err := s.Orgs.FindOrgMembers(ctx, org)
	if err != nil {
		return err
	}
	role := gatehouse.RoleNone
	for _, m := range ms {
		if m.User == c.user.Name {
			role = m.Role
		}
	}
	switch lvl := gatehouse.DecideOrg(c.user, role); {
	case lvl == gatehouse.AccessNone:
		return fmt.Errorf("organization %q: %w", org, gatehouse.ErrNotFound)
	case lvl < need:
		return fmt.Errorf("only admins of %s may change it: %w", org, gatehouse.ErrForbidden)
	}
	return nil
}

// listOrgs returns every organization to site admins, and the ones c is a
// member of to others.
func (s *Server) listOrgs(ctx context.Context, c caller) ([]*gatehouse.Organization, error) {
	if s.Orgs == nil {
		return nil, errUnavailable
	}
	f := gatehouse.OrgFilter{}
	if !c.user.Admin {
		f.Member = c.user.Name
	}
	return s.Orgs.FindOrgs(ctx, f)
}

func (s *Server) findOrg(ctx context.Context, c caller, org string) (*gatehouse.Organization, error) {
	if err := s.orgAccess(ctx, c, org, gatehouse.AccessRead); err != nil {
		return nil, err
	}
	return s.Orgs.FindOrgByName(ctx, org)
}

// parseDefaultLevel reads an organization's default member level; empty
// is read, the usual default.
func parseDefaultLevel(v string) (gatehouse.AccessLevel, error) {
	if v == "" {
		return gatehouse.AccessRead, nil
	}
	lvl, err := gatehouse.ParseAccessLevel(v)
	if err != nil || lvl > gatehouse.AccessRead {
		return 0, fmt.Errorf("default level %q must be read or none: %w", v, gatehouse.ErrInvalid)
	}
	return lvl, nil
}

// createOrg is for site admins, as organizations are created with the
// command line; they then name the organization's admins.
func (s *Server) createOrg(ctx context.Context, c caller, name, defaultLevel string) (*gatehouse.Organization, error) {
	if err := requireSiteAdmin(c, "create organizations"); err != nil {
		return nil, err
	}
	if s.Orgs == nil {
		return nil, errUnavailable
	}
	lvl, err := parseDefaultLevel(defaultLevel)
	if err != nil {
		return nil, err
	}
	o := &gatehouse.Organization{Name: name, DefaultLevel: lvl}
	if err := s.Orgs.CreateOrg(ctx, o); err != nil {
		return nil, err
	}
	s.record(ctx, c, gatehouse.AuditOrgCreate, "", o.Name+" default="+o.DefaultLevel.String())
	return o, nil
}

func (s *Server) updateOrg(ctx context.Context, c caller, org, defaultLevel string) (*gatehouse.Organization, error) {
	if err := s.orgAccess(ctx, c, org, gatehouse.AccessAdmin); err != nil {
		return nil, err
	}
	lvl, err := parseDefaultLevel(defaultLevel)
	if err != nil {
		return nil, err
	}
	o, err := s.Orgs.UpdateOrg(ctx, org, gatehouse.OrgUpdate{DefaultLevel: &lvl})
	if err != nil {
		return nil, err
	}
	s.record(ctx, c, gatehouse.AuditOrgUpdate, "", o.Name+" default="+o.DefaultLevel.String())
	return o, nil
}

// deleteOrg refuses (ErrConflict) while the organization owns
// repositories: those are removed one by one first, each with its disk.
func (s *Server) deleteOrg(ctx context.Context, c caller, org string) error {
	if err := s.orgAccess(ctx, c, org, gatehouse.AccessAdmin); err != nil {
		return err
	}
	if err := s.Orgs.DeleteOrg(ctx, org); err != nil {
		return err
	}
	s.record(ctx, c, gatehouse.AuditOrgDelete, "", org)
	return nil
}

func (s *Server) listOrgMembers(ctx context.Context, c caller, org string) ([]*gatehouse.OrgMember, error) {
	if err := s.orgAccess(ctx, c, org, gatehouse.AccessRead); err != nil {
		return nil, err
	}
	return s.Orgs.FindOrgMembers(ctx, org)
}

func (s *Server) setOrgMember(ctx context.Context, c caller, org, user, role string) (*gatehouse.OrgMember, error) {
	if err := s.orgAccess(ctx, c, org, gatehouse.AccessAdmin); err != nil {
		return nil, err
	}
	r, err := gatehouse.ParseOrgRole(role)
	if err != nil {
		return nil, err
	}
	if err := s.Orgs.SetOrgMember(ctx, org, user, r); err != nil {
		return nil, err
	}
	s.record(ctx, c, gatehouse.AuditOrgMemberSet, "", org+" "+user+" "+string(r))
	return &gatehouse.OrgMember{User: user, Role: r}, nil
}

func (s *Server) removeOrgMember(ctx context.Context, c caller, org, user string) error {
	if err := s.orgAccess(ctx, c, org, gatehouse.AccessAdmin); err != nil {
		return err
	}
	if err := s.Orgs.RemoveOrgMember(ctx, org, user); err != nil {
		return err
	}
	s.record(ctx, c, gatehouse.AuditOrgMemberRemove, "", org+" "+user)
	return nil
}

func (s *Server) listTeams(ctx context.Context, c caller, org string) ([]*gatehouse.Team, error) {
	if err := s.orgAccess(ctx, c, org, gatehouse.AccessRead); err != nil {
		return nil, err
	}
	return s.Orgs.FindTeams(ctx, org)
}

func (s *Server) createTeam(ctx context.Context, c caller, org, name string) (*gatehouse.Team, error) {
	if err := s.orgAccess(ctx, c, org, gatehouse.AccessAdmin); err != nil {
		return nil, err
	}
	t := &gatehouse.Team{Org: org, Name: name}
	if err := s.Orgs.CreateTeam(ctx, t); err != nil {
		return nil, err
	}
	s.record(ctx, c, gatehouse.AuditTeamCreate, "", t.FullName())
	return t, nil
}

func (s *Server) deleteTeam(ctx context.Context, c caller, org, team string) error {
	if err := s.orgAccess(ctx, c, org, gatehouse.AccessAdmin); err != nil {
		return err
	}
	if err := s.Orgs.DeleteTeam(ctx, org, team); err != nil {
		return err
	}
	s.record(ctx, c, gatehouse.AuditTeamDelete, "", org+"/"+team)
	return nil
}

func (s *Server) listTeamMembers(ctx context.Context, c caller, org, team string) ([]string, error) {
	if err := s.orgAccess(ctx, c, org, gatehouse.AccessRead); err != nil {
		return nil, err
	}
	return s.Orgs.FindTeamMembers(ctx, org, team)
}

func (s *Server) addTeamMember(ctx context.Context, c caller, org, team, user string) error {
	if err := s.orgAccess(ctx, c, org, gatehouse.AccessAdmin); err != nil {
		return err
	}
	if err := s.Orgs.AddTeamMember(ctx, org, team, user); err != nil {
		return err
	}
	s.record(ctx, c, gatehouse.AuditTeamMemberAdd, "", org+"/"+team+" "+user)
	return nil
}

func (s *Server) removeTeamMember(ctx context.Context, c caller, org, team, user string) error {
	if err := s.orgAccess(ctx, c, org, gatehouse.AccessAdmin); err != nil {
		return err
	}
	if err := s.Orgs.RemoveTeamMember(ctx, org, team, user); err != nil {
		return err
	}
	s.record(ctx, c, gatehouse.AuditTeamMemberRemove, "", org+"/"+team+" "+user)
	return nil
}

// listTeamGrants needs admin on the repository, like its collaborators.
func (s *Server) listTeamGrants(ctx context.Context, c caller, owner, name string) ([]*gatehouse.TeamGrant, error) {
	if _, _, err := s.authorize(ctx, c, owner, name, gatehouse.OpAdmin); err != nil {
		return nil, err
	}
	if s.Orgs == nil {
		return nil, errUnavailable
	}
	return s.Orgs.FindTeamGrants(ctx, owner, name)
}

// setTeamGrant needs admin on the repository and a view of the team's
// organization, so that nobody probes for teams they cannot see.
func (s *Server) setTeamGrant(ctx context.Context, c caller, owner, name, org, team, level string) (*gatehouse.TeamGrant, error) {
	if _, _, err := s.authorize(ctx, c, owner, name, gatehouse.OpAdmin); err != nil {
		return nil, err
	}
	if err := s.orgAccess(ctx, c, org, gatehouse.AccessRead); err != nil {
		return nil, err
	}
	lvl, err := gatehouse.ParseAccessLevel(level)
	if err != nil || lvl == gatehouse.AccessNone {
		return nil, fmt.Errorf("level %q must be read, write or admin: %w", level, gatehouse.ErrInvalid)
	}
	if err := s.Orgs.SetTeamGrant(ctx, owner, name, org, team, lvl); err != nil {
		return nil, err
	}
	s.record(ctx, c, gatehouse.AuditTeamGrantSet, owner+"/"+name, "@"+org+"/"+team+" "+lvl.String())
	return &gatehouse.TeamGrant{Team: org + "/" + team, Level: lvl}, nil
}

func (s *Server) removeTeamGrant(ctx context.Context, c caller, owner, name, org, team string) error {
	if _, _, err := s.authorize(ctx, c, owner, name, gatehouse.OpAdmin); err != nil {
		return err
	}
	if s.Orgs == nil {
		return errUnavailable
	}
	if err := s.Orgs.RemoveTeamGrant(ctx, owner, name, org, team); err != nil {
		return err
	}
	s.record(ctx, c, gatehouse.AuditTeamGrantRemove, owner+"/"+name, "@"+org+"/"+team)
	return nil
}
