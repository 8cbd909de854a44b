package web

import (
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"gatehouse"
)

// apiScopes is the token scope each API route needs, by method and chi
// pattern under /api/v1, without a trailing slash (see requireScope). A
// scope caps the kind of operation only: the handler still asks the same
// access checks (Decide for repositories) as for any other caller. A route missing here is refused to every token,
// so a new route has to be placed before anyone can call it.
//
//   - read: every GET, which shows only what the user may see anyway.
//   - write: also creating repositories, where Decide allows OpCreate.
//   - admin: everything else: repository settings (visibility included),
//     deletion, collaborators, team grants, deploy keys and protected
//     branches, which all change who may reach a repository; users, keys,
//     tokens and organizations.
var apiScopes = map[string]gatehouse.TokenScope{
	"GET /user": gatehouse.ScopeRead,

	"GET /users":                  gatehouse.ScopeRead,
	"POST /users":                 gatehouse.ScopeAdmin,
	"GET /users/{user}":           gatehouse.ScopeRead,
	"PATCH /users/{user}":         gatehouse.ScopeAdmin,
	"DELETE /users/{user}":        gatehouse.ScopeAdmin,
	"GET /users/{user}/keys":      gatehouse.ScopeRead,
	"POST /users/{user}/keys":     gatehouse.ScopeAdmin,
	"DELETE /users/{user}/keys/*": gatehouse.ScopeAdmin,
	"GET /users/{user}/tokens":    gatehouse.ScopeRead,
	// Creating a token is admin, so MintLimits' scope cap never has to
	// turn a read or write token's request down.
	"POST /users/{user}/tokens":        gatehouse.ScopeAdmin,
	"DELETE /users/{user}/tokens/{id}": gatehouse.ScopeAdmin,

	"GET /repos":                                        gatehouse.ScopeRead,
	"POST /repos":                                       gatehouse.ScopeWrite,
	"GET /repos/{owner}/{name}":                         gatehouse.ScopeRead,
	"PATCH /repos/{owner}/{name}":                       gatehouse.ScopeAdmin,
	"DELETE /repos/{owner}/{name}":                      gatehouse.ScopeAdmin,
	"GET /repos/{owner}/{name}/collaborators":           gatehouse.ScopeRead,
	"PUT /repos/{owner}/{name}/collaborators/{user}":    gatehouse.ScopeAdmin,
	"DELETE /repos/{owner}/{name}/collaborators/{user}": gatehouse.ScopeAdmin,
	"GET /repos/{owner}/{name}/teams":                   gatehouse.ScopeRead,
	"PUT /repos/{owner}/{name}/teams/{org}/{team}":      gatehouse.ScopeAdmin,
	"DELETE /repos/{owner}/{name}/teams/{org}/{team}":   gatehouse.ScopeAdmin,
	"GET /repos/{owner}/{name}/deploy-keys":             gatehouse.ScopeRead,
	"POST /repos/{owner}/{name}/deploy-keys":            gatehouse.ScopeAdmin,
	"DELETE /repos/{owner}/{name}/deploy-keys/*":        gatehouse.ScopeAdmin,
	"GET /repos/{owner}/{name}/protected-branches":      gatehouse.ScopeRead,
	"POST /repos/{owner}/{name}/protected-branches":     gatehouse.ScopeAdmin,
	"DELETE /repos/{owner}/{name}/protected-branches/*": gatehouse.ScopeAdmin,

	"GET /orgs":                                      gatehouse.ScopeRead,
	"POST /orgs":                                     gatehouse.ScopeAdmin,
	"GET /orgs/{org}":                                gatehouse.ScopeRead,
	"PATCH /orgs/{org}":                              gatehouse.ScopeAdmin,
	"DELETE /orgs/{org}":                             gatehouse.ScopeAdmin,
	"GET /orgs/{org}/members":                        gatehouse.ScopeRead,
	"PUT /orgs/{org}/members/{user}":                 gatehouse.ScopeAdmin,
	"DELETE /orgs/{org}/members/{user}":              gatehouse.ScopeAdmin,
	"GET /orgs/{org}/teams":                          gatehouse.ScopeRead,
	"POST /orgs/{org}/teams":                         gatehouse.ScopeAdmin,
	"DELETE /orgs/{org}/teams/{team}":                gatehouse.ScopeAdmin,
	"GET /orgs/{org}/teams/{team}/members":           gatehouse.ScopeRead,
	"PUT /orgs/{org}/teams/{team}/members/{user}":    gatehouse.ScopeAdmin,
	"DELETE /orgs/{org}/teams/{team}/members/{user}": gatehouse.ScopeAdmin,

	"GET /audit": gatehouse.ScopeRead,

	// Webhooks: creating, removing and sending again are admin.
	"GET /repos/{owner}/{name}/hooks":                                      gatehouse.ScopeRead,
	"POST /repos/{owner}/{name}/hooks":                                     gatehouse.ScopeAdmin,
	"GET /repos/{owner}/{name}/hooks/{id}":                                 gatehouse.ScopeRead,
	"DELETE /repos/{owner}/{name}/hooks/{id}":                              gatehouse.ScopeAdmin,
	"GET /repos/{owner}/{name}/hooks/{id}/deliveries":                      gatehouse.ScopeRead,
	"GET /repos/{owner}/{name}/hooks/{id}/deliveries/{delivery}":           gatehouse.ScopeRead,
	"POST /repos/{owner}/{name}/hooks/{id}/deliveries/{delivery}/attempts": gatehouse.ScopeAdmin,
	"GET /orgs/{org}/hooks":                                                gatehouse.ScopeRead,
	"POST /orgs/{org}/hooks":                                               gatehouse.ScopeAdmin,
	"GET /orgs/{org}/hooks/{id}":                                           gatehouse.ScopeRead,
	"DELETE /orgs/{org}/hooks/{id}":                                        gatehouse.ScopeAdmin,
	"GET /orgs/{org}/hooks/{id}/deliveries":                                gatehouse.ScopeRead,
	"GET /orgs/{org}/hooks/{id}/deliveries/{delivery}":                     gatehouse.ScopeRead,
	"POST /orgs/{org}/hooks/{id}/deliveries/{delivery}/attempts":           gatehouse.ScopeAdmin,
	"GET /hooks":                                      gatehouse.ScopeRead,
	"POST /hooks":                                     gatehouse.ScopeAdmin,
	"GET /hooks/{id}":                                 gatehouse.ScopeRead,
	"DELETE /hooks/{id}":                              gatehouse.ScopeAdmin,
	"GET /hooks/{id}/deliveries":                      gatehouse.ScopeRead,
	"GET /hooks/{id}/deliveries/{delivery}":           gatehouse.ScopeRead,
	"POST /hooks/{id}/deliveries/{delivery}/attempts": gatehouse.ScopeAdmin,

	// Two-factor step-up: policies and an admin's reset are admin.
	"GET /2fa/policy":            gatehouse.ScopeRead,
	"PUT /2fa/policy":            gatehouse.ScopeAdmin,
	"GET /2fa/orgs/{org}/policy": gatehouse.ScopeRead,
	"PUT /2fa/orgs/{org}/policy": gatehouse.ScopeAdmin,
	"GET /users/{user}/2fa":      gatehouse.ScopeRead,
	"DELETE /users/{user}/2fa":   gatehouse.ScopeAdmin,
}

func init() {
	// The key policies' routes (api_policy.go) keep their scopes there.
	maps.Copy(apiScopes, keyPolicyScopes)
}

// requireScope refuses a request whose token's scope is below what its
// route needs in apiScopes. It runs after requireToken, before routing,
// so it looks the route up in routes (the API router) itself. A request
// that matches no route goes on to the router's 404 or 405, which run
// no handler.
func (s *Server) requireScope(routes chi.Routes) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			pattern := routes.Find(chi.NewRouteContext(), r.Method, routePath(r))
			if pattern == "" {
				next.ServeHTTP(w, r)
				return
			}
			// chi names the root of a router mounted with Route
			// "/repos/{owner}/{name}" or "/repos/{owner}/{name}/" depending
			// on the request's path; both are the one route.
			route := strings.TrimSuffix(pattern, "/")
			need, known := apiScopes[r.Method+" "+route]
			var have gatehouse.TokenScope // none, should a caller come without a token
			if t := callerFromContext(r.Context()).Token; t != nil {
				have = t.Scope
			}
			if !known || have < need {
				// RFC 6750's answer for a valid token that may not do this.
				w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="insufficient_scope"`)
				err := fmt.Errorf("%s %s needs a token with %s scope; this one has %s: %w", r.Method, route, need, have, gatehouse.ErrForbidden)
				if !known {
					err = fmt.Errorf("%s %s is not open to API tokens: %w", r.Method, route, gatehouse.ErrForbidden)
				}
				s.apiError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// routePath is the path the router in charge of r matches on: what the
// enclosing router left over, as chi's Mux.routeHTTP computes it.
func routePath(r *http.Request) string {
	if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.RoutePath != "" {
		return rctx.RoutePath
	}
	if r.URL.RawPath != "" {
		return r.URL.RawPath
	}
	if r.URL.Path == "" {
		return "/"
	}
	return r.URL.Path
}
