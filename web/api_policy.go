package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"gatehouse"
)

// policyRoutes serves the key policies: the site's at /policies/keys,
// an organization's at /orgs/ORG/policies/keys, a user's at
// /users/USER/policies/keys. GET answers {"policy", "scope"}; PUT takes
// {"policy": "any"|"sk-only"|"sk-touch"|"sk-verify"} and answers the same
// as GET. Who may do what is the backend's call (site admins; an
// organization's admins for it).
func (s *Server) policyRoutes(r chi.Router) {
	site := func(*http.Request) gatehouse.KeyPolicyScope {
		return gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeSite}
	}
	user := func(r *http.Request) gatehouse.KeyPolicyScope {
		return gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeUser, Name: chi.URLParam(r, "user")}
	}
	for path, scope := range map[string]func(*http.Request) gatehouse.KeyPolicyScope{
		"/policies/keys":              site,
		"/users/{user}/policies/keys": user,
	} {
		r.Get(path, s.apiGetKeyPolicy(scope))
		r.Put(path, s.apiSetKeyPolicy(scope))
	}
}

// orgPolicyRoutes serves /orgs/ORG/policies/keys, inside orgRoutes.
func (s *Server) orgPolicyRoutes(r chi.Router) {
	org := func(r *http.Request) gatehouse.KeyPolicyScope {
		return gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeOrg, Name: chi.URLParam(r, "org")}
	}
	r.Get("/policies/keys", s.apiGetKeyPolicy(org))
	r.Put("/policies/keys", s.apiSetKeyPolicy(org))
}

// keyPolicyScopes are the token scopes the routes need (see apiScopes).
var keyPolicyScopes = map[string]gatehouse.TokenScope{
	"GET /policies/keys":              gatehouse.ScopeRead,
	"PUT /policies/keys":              gatehouse.ScopeAdmin,
	"GET /orgs/{org}/policies/keys":   gatehouse.ScopeRead,
	"PUT /orgs/{org}/policies/keys":   gatehouse.ScopeAdmin,
	"GET /users/{user}/policies/keys": gatehouse.ScopeRead,
	"PUT /users/{user}/policies/keys": gatehouse.ScopeAdmin,
}

func (s *Server) apiGetKeyPolicy(scopeOf func(*http.Request) gatehouse.KeyPolicyScope) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scope := scopeOf(r)
		p, err := s.Backend.FindKeyPolicy(r.Context(), scope)
		s.respond(w, r, http.StatusOK, gatehouse.KeyPolicyRule{Policy: p, Scope: scope}, err)
	}
}

func (s *Server) apiSetKeyPolicy(scopeOf func(*http.Request) gatehouse.KeyPolicyScope) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Policy string `json:"policy"`
		}
		if err := decode(r, &in); err != nil {
			s.apiError(w, r, err)
			return
		}
		p, err := gatehouse.ParseKeyPolicy(in.Policy)
		if err != nil {
			s.apiError(w, r, err)
			return
		}
		scope := scopeOf(r)
		if err := s.Backend.SetKeyPolicy(r.Context(), scope, p); err != nil {
			s.apiError(w, r, err)
			return
		}
		p, err = s.Backend.FindKeyPolicy(r.Context(), scope)
		s.respond(w, r, http.StatusOK, gatehouse.KeyPolicyRule{Policy: p, Scope: scope}, err)
	}
}
