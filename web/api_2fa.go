package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"gatehouse"
)

// stepUpAPIRoutes serves two-factor step-up under /api/v1: the site's
// and organizations' policies, a user's state and its reset by an admin.
// Enrolment is the panel's only (it shows a QR code and, once, the
// recovery codes).
func (s *Server) stepUpAPIRoutes(r chi.Router) {
	r.Get("/2fa/policy", s.apiGetStepUpPolicy)
	r.Put("/2fa/policy", s.apiSetStepUpPolicy)
	r.Get("/2fa/orgs/{org}/policy", s.apiGetStepUpPolicy)
	r.Put("/2fa/orgs/{org}/policy", s.apiSetStepUpPolicy)
	r.Get("/users/{user}/2fa", s.apiGetStepUpStatus)
	r.Delete("/users/{user}/2fa", s.apiResetStepUp)
}

// apiGetStepUpPolicy answers the site's policy, or the organization's
// for /2fa/orgs/{org}/policy.
func (s *Server) apiGetStepUpPolicy(w http.ResponseWriter, r *http.Request) {
	p, err := s.Backend.FindStepUpPolicy(r.Context(), chi.URLParam(r, "org"))
	s.respond(w, r, http.StatusOK, p, err)
}

// apiSetStepUpPolicy takes {"level": "off|write|all", "protected_only": bool}.
func (s *Server) apiSetStepUpPolicy(w http.ResponseWriter, r *http.Request) {
	var in gatehouse.StepUpPolicy
	if err := decode(r, &in); err != nil {
		s.apiError(w, r, err)
		return
	}
	org := chi.URLParam(r, "org")
	if err := s.Backend.SetStepUpPolicy(r.Context(), org, in); err != nil {
		s.apiError(w, r, err)
		return
	}
	p, err := s.Backend.FindStepUpPolicy(r.Context(), org)
	s.respond(w, r, http.StatusOK, p, err)
}

func (s *Server) apiGetStepUpStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.Backend.FindStepUpStatus(r.Context(), chi.URLParam(r, "user"))
	s.respond(w, r, http.StatusOK, st, err)
}

func (s *Server) apiResetStepUp(w http.ResponseWriter, r *http.Request) {
	user := chi.URLParam(r, "user")
	if err := s.Backend.ResetStepUp(r.Context(), user); err != nil {
		s.apiError(w, r, err)
		return
	}
	st, err := s.Backend.FindStepUpStatus(r.Context(), user)
	s.respond(w, r, http.StatusOK, st, err)
}
