package web

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"gatehouse"
)

// orgPanelRoutes adds the organization pages; panelRoutes calls it inside
// the group that requires a session and checks CSRF. Every form goes
// through the same backend calls as the API.
func (s *Server) orgPanelRoutes(r chi.Router) {
	r.Get("/orgs", s.orgsPage)
	r.Post("/orgs", s.orgsCreate)
	r.Get("/orgs/{org}", s.orgPage)
	r.Post("/orgs/{org}/settings", s.orgForm(func(r *http.Request, org string) (string, error) {
		o, err := s.updateOrg(r.Context(), org, r.PostForm.Get("default_level"))
		if err != nil {
			return "", err
		}
		return "Members of " + o.Name + " now have " + o.DefaultLevel.String() + " on its repositories", nil
	}))
	r.Post("/orgs/{org}/members", s.orgForm(func(r *http.Request, org string) (string, error) {
		m, err := s.setOrgMember(r.Context(), org, strings.TrimSpace(r.PostForm.Get("user")), r.PostForm.Get("role"))
		if err != nil {
			return "", err
		}
		return m.User + " is " + string(m.Role) + " of " + org, nil
	}))
	r.Post("/orgs/{org}/members/remove", s.orgForm(func(r *http.Request, org string) (string, error) {
		user := r.PostForm.Get("user")
		return "Removed " + user + " from " + org + " and its teams", s.Backend.RemoveOrgMember(r.Context(), org, user)
	}))
	r.Post("/orgs/{org}/teams", s.orgForm(func(r *http.Request, org string) (string, error) {
		t, err := s.createTeam(r.Context(), org, strings.TrimSpace(r.PostForm.Get("name")))
		if err != nil {
			return "", err
		}
		return "Created team " + t.FullName(), nil
	}))
	r.Post("/orgs/{org}/teams/remove", s.orgForm(func(r *http.Request, org string) (string, error) {
		team := r.PostForm.Get("team")
		return "Removed team " + org + "/" + team, s.Backend.DeleteTeam(r.Context(), org, team)
	}))
	r.Post("/orgs/{org}/teams/members", s.orgForm(func(r *http.Request, org string) (string, error) {
		team, user := r.PostForm.Get("team"), strings.TrimSpace(r.PostForm.Get("user"))
		return "Added " + user + " to " + org + "/" + team, s.Backend.AddTeamMember(r.Context(), org, team, user)
	}))
	r.Post("/orgs/{org}/teams/members/remove", s.orgForm(func(r *http.Request, org string) (string, error) {
		team, user := r.PostForm.Get("team"), r.PostForm.Get("user")
		return "Removed " + user + " from " + org + "/" + team, s.Backend.RemoveTeamMember(r.Context(), org, team, user)
	}))
}

// orgForm runs one organization form: on success back to the page with
// the message, on refusal the page again with the reason and its status.
func (s *Server) orgForm(do func(r *http.Request, org string) (string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		org := chi.URLParam(r, "org")
		msg, err := do(r, org)
		if err != nil {
			status, emsg := s.errorStatus(r, err)
			s.showOrg(w, r, "", emsg, status)
			return
		}
		done(w, r, "/orgs/"+org, msg)
	}
}

func (s *Server) orgsPage(w http.ResponseWriter, r *http.Request) {
	s.showOrgs(w, r, flash(r), "", http.StatusOK)
}

func (s *Server) showOrgs(w http.ResponseWriter, r *http.Request, fl, errMsg string, status int) {
	orgs, err := s.Backend.FindOrgs(r.Context(), gatehouse.OrgFilter{})
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	s.render(w, r, "orgs", "Organizations", orgs, fl, errMsg, status)
}

func (s *Server) orgsCreate(w http.ResponseWriter, r *http.Request) {
	o, err := s.createOrg(r.Context(), strings.TrimSpace(r.PostForm.Get("name")), r.PostForm.Get("default_level"))
	if err != nil {
		status, msg := s.errorStatus(r, err)
		s.showOrgs(w, r, "", msg, status)
		return
	}
	done(w, r, "/orgs/"+o.Name, "Created organization "+o.Name)
}

// orgData is an organization's page.
type orgData struct {
	Org     *gatehouse.Organization
	Members []*gatehouse.OrgMember
	Teams   []teamRow
	// CanAdmin shows the forms; the operations check again regardless.
	CanAdmin bool
}

type teamRow struct {
	*gatehouse.Team
	Members []string
}

func (s *Server) orgPage(w http.ResponseWriter, r *http.Request) {
	s.showOrg(w, r, flash(r), "", http.StatusOK)
}

func (s *Server) showOrg(w http.ResponseWriter, r *http.Request, fl, errMsg string, status int) {
	ctx, name := r.Context(), chi.URLParam(r, "org")
	o, err := s.Backend.FindOrgByName(ctx, name)
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	d := orgData{Org: o, CanAdmin: s.Backend.CanAdminOrg(ctx, name)}
	if d.Members, err = s.Backend.FindOrgMembers(ctx, name); err != nil {
		s.panelError(w, r, err)
		return
	}
	ts, err := s.Backend.FindTeams(ctx, name)
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	for _, t := range ts {
		ms, err := s.Backend.FindTeamMembers(ctx, name, t.Name)
		if err != nil {
			s.panelError(w, r, err)
			return
		}
		d.Teams = append(d.Teams, teamRow{t, ms})
	}
	s.render(w, r, "org", o.Name, d, fl, errMsg, status)
}
