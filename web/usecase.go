package web

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gatehouse"
	"gatehouse/backend"
)

// The use cases themselves (who may do what, the store, the audit entry)
// are the backend's; what is here only turns what the API and the panel
// both receive into its calls and its results into what they both show.

// newBackend is the backend for a Server not handed one: on its own
// services.
func (s *Server) newBackend() *backend.Backend {
	return &backend.Backend{
		Users: s.Users, Keys: s.Keys, Repos: s.Repos, Orgs: s.Orgs, Tokens: s.Tokens,
		DeployKeys: s.DeployKeys, Protection: s.Protection, Audit: s.Audit, Logins: s.Logins,
		Logger: s.Logger,
	}
}

func (s *Server) createUser(ctx context.Context, name string, admin bool) (*gatehouse.User, error) {
	u := &gatehouse.User{Name: name, Admin: admin}
	if err := s.Backend.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// createToken makes a token for user; ttl zero means no expiry and scope
// zero the default (see backend.CreateToken).
func (s *Server) createToken(ctx context.Context, user, name string, scope gatehouse.TokenScope, ttl time.Duration) (*gatehouse.Token, string, error) {
	if ttl < 0 {
		return nil, "", fmt.Errorf("token lifetime must be positive: %w", gatehouse.ErrInvalid)
	}
	var exp *time.Time
	if ttl > 0 {
		e := time.Now().Add(ttl)
		exp = &e
	}
	return s.Backend.CreateToken(ctx, user, name, scope, exp)
}

func (s *Server) setCollaborator(ctx context.Context, owner, name, user, level string) (*gatehouse.Collaborator, error) {
	lvl, err := gatehouse.ParseGrantLevel(level)
	if err != nil {
		return nil, err
	}
	if err := s.Backend.SetCollaborator(ctx, owner, name, user, lvl); err != nil {
		return nil, err
	}
	return &gatehouse.Collaborator{User: user, Level: lvl}, nil
}

func (s *Server) createOrg(ctx context.Context, name, defaultLevel string) (*gatehouse.Organization, error) {
	lvl, err := gatehouse.ParseDefaultLevel(defaultLevel)
	if err != nil {
		return nil, err
	}
	o := &gatehouse.Organization{Name: name, DefaultLevel: lvl}
	if err := s.Backend.CreateOrg(ctx, o); err != nil {
		return nil, err
	}
	return o, nil
}

func (s *Server) updateOrg(ctx context.Context, org, defaultLevel string) (*gatehouse.Organization, error) {
	lvl, err := gatehouse.ParseDefaultLevel(defaultLevel)
	if err != nil {
		return nil, err
	}
	return s.Backend.UpdateOrg(ctx, org, gatehouse.OrgUpdate{DefaultLevel: &lvl})
}

func (s *Server) setOrgMember(ctx context.Context, org, user, role string) (*gatehouse.OrgMember, error) {
	r, err := gatehouse.ParseOrgRole(role)
	if err != nil {
		return nil, err
	}
	if err := s.Backend.SetOrgMember(ctx, org, user, r); err != nil {
		return nil, err
	}
	return &gatehouse.OrgMember{User: user, Role: r}, nil
}

func (s *Server) createTeam(ctx context.Context, org, name string) (*gatehouse.Team, error) {
	t := &gatehouse.Team{Org: org, Name: name}
	if err := s.Backend.CreateTeam(ctx, t); err != nil {
		return nil, err
	}
	return t, nil
}

func (s *Server) setTeamGrant(ctx context.Context, owner, name, org, team, level string) (*gatehouse.TeamGrant, error) {
	lvl, err := gatehouse.ParseGrantLevel(level)
	if err != nil {
		return nil, err
	}
	if err := s.Backend.SetTeamGrant(ctx, owner, name, org, team, lvl); err != nil {
		return nil, err
	}
	return &gatehouse.TeamGrant{Team: org + "/" + team, Level: lvl}, nil
}

// auditPage is one page of the audit log, newest first.
type auditPage struct {
	Events   []*gatehouse.AuditEvent `json:"events"`
	Page     int                     `json:"page"`
	PerPage  int                     `json:"per_page"`
	NextPage int                     `json:"next_page,omitempty"`
}

// maxAuditWindow is how far back pages reach: the store returns at most
// this many of the newest events, so deeper history needs --since.
const maxAuditWindow = 1000

// auditEvents returns page pg of the events matching f that the caller
// may read.
func (s *Server) auditEvents(ctx context.Context, f gatehouse.AuditFilter, pg paging) (*auditPage, error) {
	// One more than the page needs tells whether there is a next page;
	// parsePaging keeps that within maxAuditWindow.
	f.Limit = pg.end() + 1
	es, err := s.Backend.FindAuditEvents(ctx, f)
	if err != nil {
		return nil, err
	}
	slices.Reverse(es) // newest first
	p := &auditPage{Page: pg.page, PerPage: pg.perPage, Events: []*gatehouse.AuditEvent{}}
	if len(es) > pg.end() {
		// No link to a page past the window, which would be refused.
		if pg.page < pg.last {
			p.NextPage = pg.page + 1
		}
		es = es[:pg.end()]
	}
	if start := pg.end() - pg.perPage; start < len(es) {
		p.Events = es[start:]
	}
	return p, nil
}
