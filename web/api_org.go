package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"gatehouse"
)

// orgRoutes serves /api/v1/orgs: organizations, their members, teams and
// team members. Team grants live under the repository
// (/repos/OWNER/NAME/teams/ORG/TEAM), beside its collaborators.
func (s *Server) orgRoutes(r chi.Router) {
	r.Get("/", s.apiListOrgs)
	r.Post("/", s.apiCreateOrg)
	r.Route("/{org}", func(r chi.Router) {
		r.Get("/", s.apiGetOrg)
		r.Patch("/", s.apiUpdateOrg)
		r.Delete("/", s.apiDeleteOrg)
		r.Get("/members", s.apiListOrgMembers)
		r.Put("/members/{user}", s.apiSetOrgMember)
		r.Delete("/members/{user}", s.apiRemoveOrgMember)
		r.Get("/teams", s.apiListTeams)
		r.Post("/teams", s.apiCreateTeam)
		r.Delete("/teams/{team}", s.apiDeleteTeam)
		r.Get("/teams/{team}/members", s.apiListTeamMembers)
		r.Put("/teams/{team}/members/{user}", s.apiAddTeamMember)
		r.Delete("/teams/{team}/members/{user}", s.apiRemoveTeamMember)
		r.Route("/hooks", s.hookRoutes(orgHooks))
		s.orgPolicyRoutes(r)
	})
}

func (s *Server) apiListOrgs(w http.ResponseWriter, r *http.Request) {
	orgs, err := s.Backend.FindOrgs(r.Context(), gatehouse.OrgFilter{})
	s.respond(w, r, http.StatusOK, nonNil(orgs), err)
}

func (s *Server) apiCreateOrg(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name         string `json:"name"`
		DefaultLevel string `json:"default_level"` // read (default) or none
	}
	if err := decode(r, &in); err != nil {
		s.apiError(w, r, err)
		return
	}
	o, err := s.createOrg(r.Context(), in.Name, in.DefaultLevel)
	s.respond(w, r, http.StatusCreated, o, err)
}

func (s *Server) apiGetOrg(w http.ResponseWriter, r *http.Request) {
	o, err := s.Backend.FindOrgByName(r.Context(), chi.URLParam(r, "org"))
	s.respond(w, r, http.StatusOK, o, err)
}

func (s *Server) apiUpdateOrg(w http.ResponseWriter, r *http.Request) {
	var in struct {
		DefaultLevel string `json:"default_level"`
	}
	if err := decode(r, &in); err != nil {
		s.apiError(w, r, err)
		return
	}
	o, err := s.updateOrg(r.Context(), chi.URLParam(r, "org"), in.DefaultLevel)
	s.respond(w, r, http.StatusOK, o, err)
}

func (s *Server) apiDeleteOrg(w http.ResponseWriter, r *http.Request) {
	org := chi.URLParam(r, "org")
	if r.URL.Query().Get("force") != "true" {
		s.respond(w, r, http.StatusNoContent, nil, s.Backend.DeleteOrg(r.Context(), org))
		return
	}
	// ?force=true also removes the organization's repositories, as
	// `gatehouse org rm --force` does.
	removed, err := s.Backend.DeleteOrgWithRepos(r.Context(), org)
	s.respond(w, r, http.StatusOK, map[string]any{"deleted": org, "repositories": nonNil(removed)}, err)
}

func (s *Server) apiListOrgMembers(w http.ResponseWriter, r *http.Request) {
	ms, err := s.Backend.FindOrgMembers(r.Context(), chi.URLParam(r, "org"))
	s.respond(w, r, http.StatusOK, nonNil(ms), err)
}

func (s *Server) apiSetOrgMember(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Role string `json:"role"` // member or admin
	}
	if err := decode(r, &in); err != nil {
		s.apiError(w, r, err)
		return
	}
	m, err := s.setOrgMember(r.Context(), chi.URLParam(r, "org"), chi.URLParam(r, "user"), in.Role)
	s.respond(w, r, http.StatusOK, m, err)
}

func (s *Server) apiRemoveOrgMember(w http.ResponseWriter, r *http.Request) {
	err := s.Backend.RemoveOrgMember(r.Context(), chi.URLParam(r, "org"), chi.URLParam(r, "user"))
	s.respond(w, r, http.StatusNoContent, nil, err)
}

func (s *Server) apiListTeams(w http.ResponseWriter, r *http.Request) {
	ts, err := s.Backend.FindTeams(r.Context(), chi.URLParam(r, "org"))
	s.respond(w, r, http.StatusOK, nonNil(ts), err)
}

func (s *Server) apiCreateTeam(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(r, &in); err != nil {
		s.apiError(w, r, err)
		return
	}
	t, err := s.createTeam(r.Context(), chi.URLParam(r, "org"), in.Name)
	s.respond(w, r, http.StatusCreated, t, err)
}

func (s *Server) apiDeleteTeam(w http.ResponseWriter, r *http.Request) {
	err := s.Backend.DeleteTeam(r.Context(), chi.URLParam(r, "org"), chi.URLParam(r, "team"))
	s.respond(w, r, http.StatusNoContent, nil, err)
}

func (s *Server) apiListTeamMembers(w http.ResponseWriter, r *http.Request) {
	ms, err := s.Backend.FindTeamMembers(r.Context(), chi.URLParam(r, "org"), chi.URLParam(r, "team"))
	s.respond(w, r, http.StatusOK, nonNil(ms), err)
}

func (s *Server) apiAddTeamMember(w http.ResponseWriter, r *http.Request) {
	org, team, user := chi.URLParam(r, "org"), chi.URLParam(r, "team"), chi.URLParam(r, "user")
	err := s.Backend.AddTeamMember(r.Context(), org, team, user)
	s.respond(w, r, http.StatusOK, map[string]string{"team": org + "/" + team, "user": user}, err)
}

func (s *Server) apiRemoveTeamMember(w http.ResponseWriter, r *http.Request) {
	err := s.Backend.RemoveTeamMember(r.Context(), chi.URLParam(r, "org"), chi.URLParam(r, "team"), chi.URLParam(r, "user"))
	s.respond(w, r, http.StatusNoContent, nil, err)
}

func (s *Server) apiListTeamGrants(w http.ResponseWriter, r *http.Request) {
	gs, err := s.Backend.FindTeamGrants(r.Context(), chi.URLParam(r, "owner"), chi.URLParam(r, "name"))
	s.respond(w, r, http.StatusOK, nonNil(gs), err)
}

func (s *Server) apiSetTeamGrant(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Level string `json:"level"`
	}
	if err := decode(r, &in); err != nil {
		s.apiError(w, r, err)
		return
	}
	g, err := s.setTeamGrant(r.Context(), chi.URLParam(r, "owner"), chi.URLParam(r, "name"),
		chi.URLParam(r, "org"), chi.URLParam(r, "team"), in.Level)
	s.respond(w, r, http.StatusOK, g, err)
}

func (s *Server) apiRemoveTeamGrant(w http.ResponseWriter, r *http.Request) {
	err := s.Backend.RemoveTeamGrant(r.Context(), chi.URLParam(r, "owner"), chi.URLParam(r, "name"),
		chi.URLParam(r, "org"), chi.URLParam(r, "team"))
	s.respond(w, r, http.StatusNoContent, nil, err)
}
