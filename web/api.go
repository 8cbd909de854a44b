package web

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"gatehouse"
)

// callerFromContext returns the actor an auth middleware stored (with
// gatehouse.NewContextWithActor); the routes that call it are all behind
// one, and the backend refuses a request without one.
func callerFromContext(ctx context.Context) gatehouse.Actor {
	a, _ := gatehouse.ActorFromContext(ctx)
	return a
}

func (s *Server) apiRoutes(r chi.Router) {
	// requireToken finds the caller, then requireScope checks their
	// token's scope against the route.
	r.Use(s.requireToken, s.requireScope(r))
	r.Get("/user", s.apiMe)
	r.Get("/users", s.apiListUsers)
	r.Post("/users", s.apiCreateUser)
	r.Get("/users/{user}", s.apiGetUser)
	r.Patch("/users/{user}", s.apiUpdateUser)
	r.Delete("/users/{user}", s.apiDeleteUser)
	r.Get("/users/{user}/keys", s.apiListKeys)
	r.Post("/users/{user}/keys", s.apiAddKey)
	// Fingerprints hold "/" (base64), so the rest of the path is the
	// fingerprint; clients may send it escaped or not.
	r.Delete("/users/{user}/keys/*", s.apiRemoveKey)
	r.Get("/users/{user}/tokens", s.apiListTokens)
	r.Post("/users/{user}/tokens", s.apiCreateToken)
	r.Delete("/users/{user}/tokens/{id}", s.apiRevokeToken)
	r.Get("/repos", s.apiListRepos)
	r.Post("/repos", s.apiCreateRepo)
	r.Route("/repos/{owner}/{name}", func(r chi.Router) {
		r.Get("/", s.apiGetRepo)
		r.Patch("/", s.apiUpdateRepo)
		r.Delete("/", s.apiDeleteRepo)
		r.Get("/collaborators", s.apiListCollaborators)
		r.Put("/collaborators/{user}", s.apiSetCollaborator)
		r.Delete("/collaborators/{user}", s.apiRemoveCollaborator)
		r.Get("/teams", s.apiListTeamGrants)
		r.Put("/teams/{org}/{team}", s.apiSetTeamGrant)
		r.Delete("/teams/{org}/{team}", s.apiRemoveTeamGrant)
		r.Get("/deploy-keys", s.apiListDeployKeys)
		r.Post("/deploy-keys", s.apiAddDeployKey)
		r.Delete("/deploy-keys/*", s.apiRemoveDeployKey)
		r.Get("/protected-branches", s.apiListProtected)
		r.Post("/protected-branches", s.apiAddProtected)
		// Patterns hold "/" too ("release/*").
		r.Delete("/protected-branches/*", s.apiRemoveProtected)
		r.Route("/hooks", s.hookRoutes(repoHooks))
	})
	r.Route("/orgs", s.orgRoutes)
	r.Route("/hooks", s.hookRoutes(siteHooks))
	r.Get("/audit", s.apiAudit)
	s.policyRoutes(r)
	s.stepUpAPIRoutes(r)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.apiError(w, r, fmt.Errorf("no such endpoint: %w", gatehouse.ErrNotFound))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
	})
}

// requireToken authenticates "Authorization: Bearer TOKEN". Every
// refusal reads the same, so a caller learns nothing about which tokens
// exist, have expired or belong to disabled users.
func (s *Server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
			s.apiError(w, r, fmt.Errorf("send Authorization: Bearer TOKEN: %w", errUnauthorized))
			return
		}
		t, u, err := s.Tokens.AuthenticateToken(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			if !errors.Is(err, gatehouse.ErrNotFound) {
				s.apiError(w, r, err)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="invalid_token"`)
			s.apiError(w, r, fmt.Errorf("invalid, expired or revoked token: %w", errUnauthorized))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		ctx := gatehouse.NewContextWithActor(r.Context(), gatehouse.Actor{User: u, Token: t, Address: r.RemoteAddr})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *Server) apiError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := s.errorStatus(r, err)
	writeJSON(w, status, map[string]string{"error": msg})
}

// respond writes v with status, or the error.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, v)
}

// decode reads a JSON body into v, refusing unknown fields and trailing
// data so that typos in scripts fail loudly.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("request body over %d bytes: %w", maxBody, errBadRequest)
		}
		return fmt.Errorf("request body is not the expected JSON: %v: %w", err, errBadRequest)
	}
	if dec.More() {
		return fmt.Errorf("request body has data after the JSON value: %w", errBadRequest)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("request body has data after the JSON value: %w", errBadRequest)
	}
	return nil
}

// wildcard returns the unescaped rest of the path matched by "*".
func wildcard(r *http.Request) (string, error) {
	v, err := url.PathUnescape(chi.URLParam(r, "*"))
	if err != nil || v == "" {
		return "", fmt.Errorf("bad path: %w", errBadRequest)
	}
	return v, nil
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) {
	c := callerFromContext(r.Context())
	writeJSON(w, http.StatusOK, c.User)
}

func (s *Server) apiListUsers(w http.ResponseWriter, r *http.Request) {
	us, err := s.Backend.FindUsers(r.Context())
	s.respond(w, r, http.StatusOK, nonNil(us), err)
}

func (s *Server) apiCreateUser(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name  string `json:"name"`
		Admin bool   `json:"admin"`
	}
	if err := decode(r, &in); err != nil {
		s.apiError(w, r, err)
		return
	}
	u, err := s.createUser(r.Context(), in.Name, in.Admin)
	s.respond(w, r, http.StatusCreated, u, err)
}

func (s *Server) apiGetUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.Backend.FindUserByName(r.Context(), chi.URLParam(r, "user"))
	s.respond(w, r, http.StatusOK, u, err)
}

func (s *Server) apiUpdateUser(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Admin    *bool `json:"admin"`
		Disabled *bool `json:"disabled"`
	}
	if err := decode(r, &in); err != nil {
		s.apiError(w, r, err)
		return
	}
	u, err := s.Backend.UpdateUser(r.Context(), chi.URLParam(r, "user"),
		gatehouse.UserUpdate{Admin: in.Admin, Disabled: in.Disabled})
	s.respond(w, r, http.StatusOK, u, err)
}

func (s *Server) apiDeleteUser(w http.ResponseWriter, r *http.Request) {
	err := s.Backend.DeleteUser(r.Context(), chi.URLParam(r, "user"))
	s.respond(w, r, http.StatusNoContent, nil, err)
}

func (s *Server) apiListKeys(w http.ResponseWriter, r *http.Request) {
	ks, err := s.Backend.FindKeys(r.Context(), chi.URLParam(r, "user"))
	s.respond(w, r, http.StatusOK, nonNil(ks), err)
}

func (s *Server) apiAddKey(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Key string `json:"key"`
	}
	if err := decode(r, &in); err != nil {
		s.apiError(w, r, err)
		return
	}
	k, err := s.Backend.AddKey(r.Context(), chi.URLParam(r, "user"), in.Key)
	s.respond(w, r, http.StatusCreated, k, err)
}

func (s *Server) apiRemoveKey(w http.ResponseWriter, r *http.Request) {
	fp, err := wildcard(r)
	if err == nil {
		err = s.Backend.RemoveKey(r.Context(), chi.URLParam(r, "user"), fp)
	}
	s.respond(w, r, http.StatusNoContent, nil, err)
}

func (s *Server) apiListTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := s.Backend.FindTokens(r.Context(), chi.URLParam(r, "user"))
	s.respond(w, r, http.StatusOK, nonNil(ts), err)
}

func (s *Server) apiCreateToken(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name      string `json:"name"`
		ExpiresIn string `json:"expires_in"` // a Go duration, "720h"; empty: never
		Scope     string `json:"scope"`      // read, write or admin; empty: see createToken
	}
	if err := decode(r, &in); err != nil {
		s.apiError(w, r, err)
		return
	}
	ttl, err := parseTTL(in.ExpiresIn)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	scope, err := parseScope(in.Scope)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	t, secret, err := s.createToken(r.Context(), chi.URLParam(r, "user"), in.Name, scope, ttl)
	out := struct {
		*gatehouse.Token
		Secret string `json:"token"`
	}{t, secret}
	s.respond(w, r, http.StatusCreated, out, err)
}

// parseTTL reads a token lifetime: empty for none, else a Go duration.
func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("expiry %q must be a positive duration such as 720h: %w", s, gatehouse.ErrInvalid)
	}
	return d, nil
}

// parseScope reads a token scope: empty for the default (zero), else
// read, write or admin.
func parseScope(s string) (gatehouse.TokenScope, error) {
	if s == "" {
		return 0, nil
	}
	return gatehouse.ParseTokenScope(s)
}

func (s *Server) apiRevokeToken(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		s.apiError(w, r, fmt.Errorf("token %q: %w", chi.URLParam(r, "id"), gatehouse.ErrNotFound))
		return
	}
	err = s.Backend.RevokeToken(r.Context(), chi.URLParam(r, "user"), id)
	s.respond(w, r, http.StatusNoContent, nil, err)
}

func (s *Server) apiListRepos(w http.ResponseWriter, r *http.Request) {
	rs, err := s.Backend.FindRepos(r.Context(), gatehouse.RepoFilter{})
	s.respond(w, r, http.StatusOK, nonNil(rs), err)
}

func (s *Server) apiCreateRepo(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Owner       string `json:"owner"`
		Name        string `json:"name"`
		Private     *bool  `json:"private"` // default true, as on the command line
		Description string `json:"description"`
	}
	if err := decode(r, &in); err != nil {
		s.apiError(w, r, err)
		return
	}
	c := callerFromContext(r.Context())
	if in.Owner == "" {
		in.Owner = c.User.Name
	}
	repo := &gatehouse.Repo{Owner: in.Owner, Name: in.Name, Private: in.Private == nil || *in.Private, Description: in.Description}
	err := s.Backend.CreateRepo(r.Context(), repo)
	s.respond(w, r, http.StatusCreated, repo, err)
}

func (s *Server) apiGetRepo(w http.ResponseWriter, r *http.Request) {
	repo, lvl, err := s.Backend.RepoAccess(r.Context(), chi.URLParam(r, "owner"), chi.URLParam(r, "name"))
	out := struct {
		*gatehouse.Repo
		Access gatehouse.AccessLevel `json:"access"`
		Clone  string                `json:"clone_url"`
	}{Repo: repo, Access: lvl}
	if repo != nil {
		out.Clone = s.cloneURL(repo)
	}
	s.respond(w, r, http.StatusOK, out, err)
}

func (s *Server) apiUpdateRepo(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Private       *bool   `json:"private"`
		Description   *string `json:"description"`
		DefaultBranch *string `json:"default_branch"`
	}
	if err := decode(r, &in); err != nil {
		s.apiError(w, r, err)
		return
	}
	repo, err := s.Backend.UpdateRepo(r.Context(), chi.URLParam(r, "owner"), chi.URLParam(r, "name"),
		gatehouse.RepoUpdate{Private: in.Private, Description: in.Description, DefaultBranch: in.DefaultBranch})
	s.respond(w, r, http.StatusOK, repo, err)
}

func (s *Server) apiDeleteRepo(w http.ResponseWriter, r *http.Request) {
	err := s.Backend.DeleteRepo(r.Context(), chi.URLParam(r, "owner"), chi.URLParam(r, "name"))
	s.respond(w, r, http.StatusNoContent, nil, err)
}

func (s *Server) apiListCollaborators(w http.ResponseWriter, r *http.Request) {
	cs, err := s.Backend.FindCollaborators(r.Context(), chi.URLParam(r, "owner"), chi.URLParam(r, "name"))
	s.respond(w, r, http.StatusOK, nonNil(cs), err)
}

func (s *Server) apiSetCollaborator(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Level string `json:"level"`
	}
	if err := decode(r, &in); err != nil {
		s.apiError(w, r, err)
		return
	}
	cb, err := s.setCollaborator(r.Context(), chi.URLParam(r, "owner"), chi.URLParam(r, "name"), chi.URLParam(r, "user"), in.Level)
	s.respond(w, r, http.StatusOK, cb, err)
}

func (s *Server) apiRemoveCollaborator(w http.ResponseWriter, r *http.Request) {
	err := s.Backend.RemoveCollaborator(r.Context(), chi.URLParam(r, "owner"), chi.URLParam(r, "name"), chi.URLParam(r, "user"))
	s.respond(w, r, http.StatusNoContent, nil, err)
}

func (s *Server) apiListDeployKeys(w http.ResponseWriter, r *http.Request) {
	ks, err := s.Backend.FindDeployKeys(r.Context(), chi.URLParam(r, "owner"), chi.URLParam(r, "name"))
	s.respond(w, r, http.StatusOK, nonNil(ks), err)
}

func (s *Server) apiAddDeployKey(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Key   string `json:"key"`
		Write bool   `json:"write"`
	}
	if err := decode(r, &in); err != nil {
		s.apiError(w, r, err)
		return
	}
	k, err := s.Backend.AddDeployKey(r.Context(), chi.URLParam(r, "owner"), chi.URLParam(r, "name"), in.Key, in.Write)
	s.respond(w, r, http.StatusCreated, k, err)
}

func (s *Server) apiRemoveDeployKey(w http.ResponseWriter, r *http.Request) {
	fp, err := wildcard(r)
	if err == nil {
		err = s.Backend.RemoveDeployKey(r.Context(), chi.URLParam(r, "owner"), chi.URLParam(r, "name"), fp)
	}
	s.respond(w, r, http.StatusNoContent, nil, err)
}

func (s *Server) apiListProtected(w http.ResponseWriter, r *http.Request) {
	ps, err := s.Backend.FindProtectedBranches(r.Context(), chi.URLParam(r, "owner"), chi.URLParam(r, "name"))
	s.respond(w, r, http.StatusOK, nonNil(ps), err)
}

func (s *Server) apiAddProtected(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Pattern   string `json:"pattern"`
		AdminOnly bool   `json:"admin_only"`
	}
	if err := decode(r, &in); err != nil {
		s.apiError(w, r, err)
		return
	}
	p, err := s.Backend.AddProtectedBranch(r.Context(), chi.URLParam(r, "owner"), chi.URLParam(r, "name"), in.Pattern, in.AdminOnly)
	s.respond(w, r, http.StatusCreated, p, err)
}

func (s *Server) apiRemoveProtected(w http.ResponseWriter, r *http.Request) {
	pattern, err := wildcard(r)
	if err == nil {
		err = s.Backend.RemoveProtectedBranch(r.Context(), chi.URLParam(r, "owner"), chi.URLParam(r, "name"), pattern)
	}
	s.respond(w, r, http.StatusNoContent, nil, err)
}

// apiAudit serves GET /audit?user=U&repo=OWNER/NAME&since=T&page=N&per_page=M.
func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request) {
	f, pg, err := auditQuery(r.URL.Query())
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	p, err := s.auditEvents(r.Context(), f, pg)
	s.respond(w, r, http.StatusOK, p, err)
}

// auditQuery reads the audit filter as the command line takes it (since is
// an RFC 3339 time or a duration back from now) and the page.
func auditQuery(q url.Values) (gatehouse.AuditFilter, paging, error) {
	f := gatehouse.AuditFilter{Actor: q.Get("user"), Repo: strings.TrimSuffix(q.Get("repo"), ".git")}
	if since := q.Get("since"); since != "" {
		if d, err := time.ParseDuration(since); err == nil {
			f.Since = time.Now().Add(-d)
		} else if t, err := time.Parse(time.RFC3339, since); err == nil {
			f.Since = t
		} else {
			return f, paging{}, fmt.Errorf("since %q is neither a time (RFC 3339) nor a duration: %w", since, gatehouse.ErrInvalid)
		}
	}
	pg, err := parsePaging(q, maxAuditWindow)
	return f, pg, err
}

// Paging bounds, for every paged list.
const (
	defaultPerPage = 50
	maxPerPage     = 100
)

// paging is a page of a list, checked by parsePaging: page counts from 1,
// and the rows up to the end of the page fit the list's window. last is
// the last page of this size that does.
type paging struct {
	page, perPage, last int
}

// end is the number of rows up to the end of the page.
func (p paging) end() int { return p.page * p.perPage }

// parsePaging reads page (default 1) and per_page (default 50, at most
// 100) from q. Pages reach back window-1 rows at most, so that one row
// past the page (which tells whether there is a next one) still fits in
// window. Anything else, including numbers too large for an int, is a
// bad request; the product is checked by division, so it cannot overflow.
func parsePaging(q url.Values, window int) (paging, error) {
	num := func(name string, def, hi int, why string) (int, error) {
		v := q.Get(name)
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > hi {
			return 0, fmt.Errorf("%s %q must be a number from 1 to %d%s: %w", name, v, hi, why, errBadRequest)
		}
		return n, nil
	}
	perPage, err := num("per_page", defaultPerPage, maxPerPage, "")
	if err != nil {
		return paging{}, err
	}
	lastPage := (window - 1) / perPage
	page, err := num("page", 1, lastPage, fmt.Sprintf(" (pages reach back %d entries; narrow the list instead)", lastPage*perPage))
	if err != nil {
		return paging{}, err
	}
	return paging{page: page, perPage: perPage, last: lastPage}, nil
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// cloneURL is the SSH clone URL of repo.
func (s *Server) cloneURL(repo *gatehouse.Repo) string {
	return "ssh://git@" + s.SSHAddr + "/" + repo.FullName() + ".git"
}

// constantTimeEqual compares secrets without leaking where they differ.
func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
