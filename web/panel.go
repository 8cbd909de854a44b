package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"gatehouse"
	"gatehouse/backend"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// sessionCookie holds the panel session's secret.
const sessionCookie = "gatehouse_session"

// pages are parsed once: the layout plus one file per page.
var pages = parsePages()

var funcs = template.FuncMap{
	"when": func(t any) string {
		switch t := t.(type) {
		case time.Time:
			return t.UTC().Format("2006-01-02 15:04 UTC")
		case *time.Time:
			if t == nil {
				return "never"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		}
		return ""
	},
	"pathesc": url.PathEscape,
	"bytes":   humanBytes,
}

// humanBytes formats a size the way people read it: "812 B", "4.2 MiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

func parsePages() map[string]*template.Template {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	m := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		m[base] = template.Must(template.New("layout.html").Funcs(funcs).Funcs(browseFuncs).ParseFS(templateFS, "templates/layout.html", n))
	}
	return m
}

// view is what every page template gets.
type view struct {
	Title string
	Me    *gatehouse.User
	CSRF  string
	Flash string // a success message
	Error string // why the last form was refused
	Data  any
}

func (s *Server) panelRoutes(r chi.Router) {
	static, _ := fs.Sub(staticFS, "static")
	r.Handle("/static/*", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	r.Get("/login/{secret}", s.loginPage)
	r.With(limitBody).Post("/login", s.login)
	r.Group(func(r chi.Router) {
		r.Use(limitBody, s.requireSession, s.checkCSRF)
		r.Get("/", s.dashboard)
		r.Post("/logout", s.logout)
		r.Get("/users", s.usersPage)
		r.Post("/users", s.usersCreate)
		r.Get("/users/{user}", s.userPage)
		r.Post("/users/{user}/update", s.userUpdate)
		r.Post("/users/{user}/keys", s.userAddKey)
		r.Post("/users/{user}/keys/remove", s.userRemoveKey)
		r.Post("/users/{user}/tokens", s.userCreateToken)
		r.Post("/users/{user}/tokens/{id}/revoke", s.userRevokeToken)
		r.Get("/repos", s.reposPage)
		r.Post("/repos", s.reposCreate)
		r.Get("/repos/{owner}/{name}", s.repoPage)
		r.Post("/repos/{owner}/{name}/settings", s.repoSettings)
		r.Post("/repos/{owner}/{name}/delete", s.repoDelete)
		r.Post("/repos/{owner}/{name}/collaborators", s.repoSetCollaborator)
		r.Post("/repos/{owner}/{name}/collaborators/remove", s.repoRemoveCollaborator)
		r.Post("/repos/{owner}/{name}/deploy-keys", s.repoAddDeployKey)
		r.Post("/repos/{owner}/{name}/deploy-keys/remove", s.repoRemoveDeployKey)
		r.Post("/repos/{owner}/{name}/protected", s.repoAddProtected)
		r.Post("/repos/{owner}/{name}/protected/remove", s.repoRemoveProtected)
		r.Get("/audit", s.auditPage)
		r.Get("/hostkeys", s.hostKeysPage)
		s.orgPanelRoutes(r)
		s.hookPanelRoutes(r)
		s.browsePanelRoutes(r)
		s.stepUpPanelRoutes(r)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.panelError(w, r, fmt.Errorf("page %s: %w", r.URL.Path, gatehouse.ErrNotFound))
	})
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next.ServeHTTP(w, r)
	})
}

// secure reports whether the browser reached us over TLS, directly or
// through a proxy that says so. Trusting the header only ever adds the
// Secure flag, which a spoofer could only use to lose their own cookie.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// csrfToken is derived from the session secret, which only the server and
// the cookie (HttpOnly, so not even the page's own scripts) know; another
// site can neither read the cookie nor compute this. Deriving it avoids
// storing a second secret per session.
func csrfToken(sessionSecret string) string {
	sum := sha256.Sum256([]byte("gatehouse csrf\x00" + sessionSecret))
	return hex.EncodeToString(sum[:])
}

type sessionInfo struct {
	secret string
}

var sessionKey = &contextKey{"session"}

type contextKey struct{ name string }

// requireSession lets requests with a live session through and sends
// others to a page that explains how to log in.
func (s *Server) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(sessionCookie)
		if err != nil {
			s.loggedOut(w, r)
			return
		}
		sess, err := s.Logins.FindSession(r.Context(), ck.Value)
		if err != nil {
			if !errors.Is(err, gatehouse.ErrNotFound) {
				s.panelError(w, r, err)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
			s.loggedOut(w, r)
			return
		}
		ctx := gatehouse.NewContextWithActor(r.Context(), gatehouse.Actor{User: sess.User, Address: r.RemoteAddr})
		ctx = contextWithSession(ctx, sessionInfo{secret: ck.Value})
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func contextWithSession(ctx context.Context, si sessionInfo) context.Context {
	return context.WithValue(ctx, sessionKey, si)
}

// sessionFrom returns the session requireSession found.
func sessionFrom(r *http.Request) sessionInfo {
	si, _ := r.Context().Value(sessionKey).(sessionInfo)
	return si
}

// checkCSRF refuses state-changing requests whose form does not carry
// the session's CSRF token. SameSite=Strict already keeps the cookie off
// cross-site requests; the token also covers browsers that ignore it.
func (s *Server) checkCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		si := sessionFrom(r)
		if err := r.ParseForm(); err != nil {
			s.renderStatus(w, r, http.StatusBadRequest, "error", "Bad request", nil, "The form could not be read.")
			return
		}
		if !constantTimeEqual(r.PostForm.Get("csrf"), csrfToken(si.secret)) {
			s.Logger.Warn("csrf refused", logPath, r.URL.Path, "addr", r.RemoteAddr)
			s.renderStatus(w, r, http.StatusForbidden, "error", "Refused", nil, "This form is stale or did not come from this panel. Reload the page and try again.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) loggedOut(w http.ResponseWriter, r *http.Request) {
	s.renderStatus(w, r, http.StatusUnauthorized, "loggedout", "Log in", nil, "")
}

// loginPage shows a button that spends the link. Spending it on GET would
// let link previewers (chat unfurlers, mail scanners) use it up, or worse,
// use it.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s.renderStatus(w, r, http.StatusOK, "login", "Log in", chi.URLParam(r, "secret"), "")
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	// The login form carries no CSRF token (there is no session yet), so
	// a cross-site form could log a victim in to the attacker's account.
	// Browsers send Origin with every POST; it must be this panel. "null"
	// is what a page that hides its origin sends, so it is refused too.
	if o := r.Header.Get("Origin"); o != "" {
		if u, err := url.Parse(o); err != nil || o == "null" || u.Host != r.Host {
			s.renderStatus(w, r, http.StatusForbidden, "error", "Refused", nil, "Log in from the link itself, not from another site.")
			return
		}
	}
	if err := r.ParseForm(); err != nil {
		s.renderStatus(w, r, http.StatusBadRequest, "error", "Bad request", nil, "The form could not be read.")
		return
	}
	if !s.loginStepUp(w, r, r.PostForm.Get("link")) {
		return
	}
	sess, err := s.Logins.RedeemLoginLink(r.Context(), r.PostForm.Get("link"))
	if err != nil {
		if errors.Is(err, gatehouse.ErrNotFound) {
			s.renderStatus(w, r, http.StatusUnauthorized, "loggedout", "Log in", nil,
				"This login link is unknown, used or expired. Make a new one with `gatehouse login-link USER` or `ssh HOST login`.")
			return
		}
		s.panelError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: sess.Secret, Path: "/",
		Expires: sess.ExpiresAt, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode,
	})
	if err := s.Backend.LoggedIn(gatehouse.NewContextWithActor(r.Context(), gatehouse.Actor{User: sess.User, Address: r.RemoteAddr})); err != nil {
		s.Logger.Error("login not recorded", logErr, err)
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.Logins.DeleteSession(r.Context(), sessionFrom(r).secret); err != nil {
		s.panelError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode})
	s.renderStatus(w, r, http.StatusOK, "loggedout", "Logged out", nil, "")
}

// render writes page with data and the session's details.
func (s *Server) render(w http.ResponseWriter, r *http.Request, page, title string, data any, flash, errMsg string, status int) {
	v := view{Title: title, Data: data, Flash: flash, Error: errMsg}
	if c := callerFromContext(r.Context()); c.User != nil {
		v.Me = c.User
		v.CSRF = csrfToken(sessionFrom(r).secret)
	}
	var buf bytes.Buffer
	if err := pages[page].Execute(&buf, v); err != nil {
		s.Logger.Error("render", "page", page, logErr, err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, status int, page, title string, data any, errMsg string) {
	s.render(w, r, page, title, data, "", errMsg, status)
}

// panelError shows err on an error page with its status.
func (s *Server) panelError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := s.errorStatus(r, err)
	s.renderStatus(w, r, status, "error", http.StatusText(status), nil, msg)
}

// done redirects after a successful form (so a reload does not repeat
// it), with a message for the next page.
func done(w http.ResponseWriter, r *http.Request, to, msg string) {
	http.Redirect(w, r, to+"?ok="+url.QueryEscape(msg), http.StatusSeeOther)
}

// flash is the success message a redirect carried. It is only ever shown
// as escaped text, so a crafted link can at worst show odd words.
func flash(r *http.Request) string {
	m := r.URL.Query().Get("ok")
	if len(m) > 200 {
		m = m[:200]
	}
	return m
}

// dashboardData is the dashboard's content.
type dashboardData struct {
	Users, Repos, Keys int
	Pushes             []*gatehouse.AuditEvent
	// Subjects are the pushed commits' subject lines, by id.
	Subjects map[string]string
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	ctx, c := r.Context(), callerFromContext(r.Context())
	var d dashboardData
	us, err := s.Backend.FindUsers(ctx)
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	rs, err := s.Backend.FindRepos(ctx, gatehouse.RepoFilter{})
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	ks, err := s.Backend.FindKeys(ctx, c.User.Name)
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	d.Users, d.Repos, d.Keys = len(us), len(rs), len(ks)
	if d.Pushes, err = s.Backend.RecentPushes(ctx, 10); err != nil {
		s.Logger.Error("dashboard audit", logErr, err)
	}
	d.Subjects = s.Backend.PushSubjects(ctx, d.Pushes)
	s.render(w, r, "dashboard", "Dashboard", d, flash(r), "", http.StatusOK)
}

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request) {
	s.showUsers(w, r, flash(r), "", http.StatusOK)
}

func (s *Server) showUsers(w http.ResponseWriter, r *http.Request, fl, errMsg string, status int) {
	us, err := s.Backend.FindUsers(r.Context())
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	s.render(w, r, "users", "Users", us, fl, errMsg, status)
}

func (s *Server) usersCreate(w http.ResponseWriter, r *http.Request) {
	u, err := s.createUser(r.Context(), strings.TrimSpace(r.PostForm.Get("name")), r.PostForm.Get("admin") == "on")
	if err != nil {
		status, msg := s.errorStatus(r, err)
		s.showUsers(w, r, "", msg, status)
		return
	}
	done(w, r, "/users", "Created user "+u.Name)
}

// userData is a user's page: keys and tokens.
type userData struct {
	User      *gatehouse.User
	Keys      []*gatehouse.PublicKey
	Tokens    []*gatehouse.Token
	NewSecret string // a token just created, shown once
}

func (s *Server) userPage(w http.ResponseWriter, r *http.Request) {
	s.showUser(w, r, "", flash(r), "", http.StatusOK)
}

func (s *Server) showUser(w http.ResponseWriter, r *http.Request, secret, fl, errMsg string, status int) {
	ctx, name := r.Context(), chi.URLParam(r, "user")
	u, err := s.Backend.FindUserByName(ctx, name)
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	d := userData{User: u, NewSecret: secret}
	if d.Keys, err = s.Backend.FindKeys(ctx, name); err == nil {
		d.Tokens, err = s.Backend.FindTokens(ctx, name)
	}
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	s.render(w, r, "user", u.Name, d, fl, errMsg, status)
}

// userResult finishes a form on the user page: back to it with a message
// on success, the page again with the refusal otherwise.
func (s *Server) userResult(w http.ResponseWriter, r *http.Request, err error, msg string) {
	if err != nil {
		status, m := s.errorStatus(r, err)
		if status == http.StatusNotFound {
			s.panelError(w, r, err)
			return
		}
		s.showUser(w, r, "", "", m, status)
		return
	}
	done(w, r, "/users/"+url.PathEscape(chi.URLParam(r, "user")), msg)
}

// userUpdate applies one of the admin's buttons on a user's page.
func (s *Server) userUpdate(w http.ResponseWriter, r *http.Request) {
	yes, no := true, false
	var upd gatehouse.UserUpdate
	switch r.PostForm.Get("action") {
	case "disable":
		upd.Disabled = &yes
	case "enable":
		upd.Disabled = &no
	case "admin":
		upd.Admin = &yes
	case "unadmin":
		upd.Admin = &no
	default:
		s.userResult(w, r, fmt.Errorf("unknown action: %w", gatehouse.ErrInvalid), "")
		return
	}
	u, err := s.Backend.UpdateUser(r.Context(), chi.URLParam(r, "user"), upd)
	msg := ""
	if err == nil {
		msg = fmt.Sprintf("Saved %s: %s, %s", u.Name, map[bool]string{true: "site admin", false: "user"}[u.Admin], map[bool]string{true: "disabled", false: "active"}[u.Disabled])
	}
	s.userResult(w, r, err, msg)
}

func (s *Server) userAddKey(w http.ResponseWriter, r *http.Request) {
	k, err := s.Backend.AddKey(r.Context(), chi.URLParam(r, "user"), r.PostForm.Get("key"))
	msg := ""
	if err == nil {
		msg = "Added key " + k.Fingerprint
	}
	s.userResult(w, r, err, msg)
}

func (s *Server) userRemoveKey(w http.ResponseWriter, r *http.Request) {
	fp := r.PostForm.Get("fingerprint")
	s.userResult(w, r, s.Backend.RemoveKey(r.Context(), chi.URLParam(r, "user"), fp), "Removed key "+fp)
}

func (s *Server) userCreateToken(w http.ResponseWriter, r *http.Request) {
	ttl, err := parseTTL(r.PostForm.Get("expires"))
	if err != nil {
		s.userResult(w, r, err, "")
		return
	}
	scope, err := parseScope(r.PostForm.Get("scope"))
	if err != nil {
		s.userResult(w, r, err, "")
		return
	}
	_, secret, err := s.createToken(r.Context(), chi.URLParam(r, "user"), strings.TrimSpace(r.PostForm.Get("name")), scope, ttl)
	if err != nil {
		s.userResult(w, r, err, "")
		return
	}
	// Rendered, not redirected: the secret must not travel in a URL.
	s.showUser(w, r, secret, "Token created. Copy it now: it is not shown again.", "", http.StatusOK)
}

func (s *Server) userRevokeToken(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		s.userResult(w, r, fmt.Errorf("token: %w", gatehouse.ErrNotFound), "")
		return
	}
	s.userResult(w, r, s.Backend.RevokeToken(r.Context(), chi.URLParam(r, "user"), id), "Revoked the token")
}

// repoRow is a repository in the list.
type repoRow struct {
	*gatehouse.Repo
	Clone string
}

func (s *Server) reposPage(w http.ResponseWriter, r *http.Request) {
	s.showRepos(w, r, flash(r), "", http.StatusOK)
}

func (s *Server) showRepos(w http.ResponseWriter, r *http.Request, fl, errMsg string, status int) {
	rs, err := s.Backend.FindRepos(r.Context(), gatehouse.RepoFilter{})
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	rows := make([]repoRow, len(rs))
	for i, repo := range rs {
		rows[i] = repoRow{repo, s.cloneURL(repo)}
	}
	s.render(w, r, "repos", "Repositories", rows, fl, errMsg, status)
}

func (s *Server) reposCreate(w http.ResponseWriter, r *http.Request) {
	c := callerFromContext(r.Context())
	owner := strings.TrimSpace(r.PostForm.Get("owner"))
	if owner == "" {
		owner = c.User.Name
	}
	repo := &gatehouse.Repo{Owner: owner, Name: strings.TrimSpace(r.PostForm.Get("name")),
		Private: r.PostForm.Get("visibility") != "public", Description: r.PostForm.Get("description")}
	if err := s.Backend.CreateRepo(r.Context(), repo); err != nil {
		status, msg := s.errorStatus(r, err)
		s.showRepos(w, r, "", msg, status)
		return
	}
	done(w, r, "/repos/"+repo.FullName(), "Created "+repo.FullName())
}

// repoData is a repository's page. The lists are only filled for its
// admins; readers see the clone URL and description.
type repoData struct {
	Repo          *gatehouse.Repo
	Access        gatehouse.AccessLevel
	Clone         string
	SCPClone      string
	IsAdmin       bool
	Collaborators []*gatehouse.Collaborator
	DeployKeys    []*gatehouse.DeployKey
	Protected     []*gatehouse.ProtectedBranch
	NoDeployKeys  bool
	NoProtection  bool
	LastPush      *gatehouse.AuditEvent
	// Code is the repository's refs, latest commits and README; nil
	// when they could not be read.
	Code *repoCode
	// Size is the repository's size on disk; -1 when it could not be read.
	Size int64
	// LFSSize is the part of it in Git LFS objects; -1 when the server
	// serves no LFS or it could not be read.
	LFSSize int64
}

func (s *Server) repoPage(w http.ResponseWriter, r *http.Request) {
	s.showRepo(w, r, flash(r), "", http.StatusOK)
}

func (s *Server) showRepo(w http.ResponseWriter, r *http.Request, fl, errMsg string, status int) {
	ctx := r.Context()
	owner, name := chi.URLParam(r, "owner"), chi.URLParam(r, "name")
	repo, lvl, err := s.Backend.RepoAccess(ctx, owner, name)
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	d := repoData{Repo: repo, Access: lvl, Clone: s.cloneURL(repo), IsAdmin: lvl >= gatehouse.AccessAdmin}
	// The last push is read from the audit log, which records every ref
	// update.
	if d.LastPush, err = s.Backend.LastPush(ctx, owner, name); err != nil {
		s.Logger.Warn("last push", "repo", repo.FullName(), "err", err)
	}
	d.Code = s.repoCode(r, repo)
	if d.Size, err = s.Backend.DiskUsage(ctx, owner, name); err != nil {
		s.Logger.Warn("repository size", "repo", repo.FullName(), "err", err)
		d.Size = -1
	}
	if d.LFSSize, err = s.Backend.LFSUsage(ctx, owner, name); err != nil {
		if !errors.Is(err, backend.ErrUnavailable) {
			s.Logger.Warn("LFS size", "repo", repo.FullName(), "err", err)
		}
		d.LFSSize = -1
	}
	host, port, _ := strings.Cut(s.SSHAddr, ":")
	if port == "" || port == "22" {
		d.SCPClone = "git@" + host + ":" + repo.FullName() + ".git"
	}
	if d.IsAdmin {
		if d.Collaborators, err = s.Backend.FindCollaborators(ctx, owner, name); err != nil {
			s.panelError(w, r, err)
			return
		}
		d.DeployKeys, err = s.Backend.FindDeployKeys(ctx, owner, name)
		d.NoDeployKeys = errors.Is(err, backend.ErrUnavailable)
		if err != nil && !d.NoDeployKeys {
			s.panelError(w, r, err)
			return
		}
		d.Protected, err = s.Backend.FindProtectedBranches(ctx, owner, name)
		d.NoProtection = errors.Is(err, backend.ErrUnavailable)
		if err != nil && !d.NoProtection {
			s.panelError(w, r, err)
			return
		}
	}
	s.render(w, r, "repo", repo.FullName(), d, fl, errMsg, status)
}

func (s *Server) repoResult(w http.ResponseWriter, r *http.Request, err error, msg string) {
	if err != nil {
		status, m := s.errorStatus(r, err)
		if status == http.StatusNotFound || status == http.StatusForbidden {
			s.panelError(w, r, err)
			return
		}
		s.showRepo(w, r, "", m, status)
		return
	}
	done(w, r, "/repos/"+chi.URLParam(r, "owner")+"/"+chi.URLParam(r, "name"), msg)
}

func repoParams(r *http.Request) (string, string) {
	return chi.URLParam(r, "owner"), chi.URLParam(r, "name")
}

func (s *Server) repoSettings(w http.ResponseWriter, r *http.Request) {
	owner, name := repoParams(r)
	private := r.PostForm.Get("visibility") != "public"
	desc := r.PostForm.Get("description")
	upd := gatehouse.RepoUpdate{Private: &private, Description: &desc}
	if b := strings.TrimSpace(r.PostForm.Get("default_branch")); b != "" {
		upd.DefaultBranch = &b
	}
	_, err := s.Backend.UpdateRepo(r.Context(), owner, name, upd)
	s.repoResult(w, r, err, "Saved the settings")
}

// repoDelete removes the repository once its full name is typed back,
// the usual guard against deleting the wrong one.
func (s *Server) repoDelete(w http.ResponseWriter, r *http.Request) {
	owner, name := repoParams(r)
	if r.PostForm.Get("confirm") != owner+"/"+name {
		s.repoResult(w, r, fmt.Errorf("type %s/%s to confirm the deletion: %w", owner, name, gatehouse.ErrInvalid), "")
		return
	}
	if err := s.Backend.DeleteRepo(r.Context(), owner, name); err != nil {
		s.repoResult(w, r, err, "")
		return
	}
	done(w, r, "/repos", "Deleted "+owner+"/"+name)
}

func (s *Server) repoSetCollaborator(w http.ResponseWriter, r *http.Request) {
	owner, name := repoParams(r)
	user := strings.TrimSpace(r.PostForm.Get("user"))
	cb, err := s.setCollaborator(r.Context(), owner, name, user, r.PostForm.Get("level"))
	msg := ""
	if err == nil {
		msg = fmt.Sprintf("%s now has %s access", cb.User, cb.Level)
	}
	s.repoResult(w, r, err, msg)
}

func (s *Server) repoRemoveCollaborator(w http.ResponseWriter, r *http.Request) {
	owner, name := repoParams(r)
	user := r.PostForm.Get("user")
	s.repoResult(w, r, s.Backend.RemoveCollaborator(r.Context(), owner, name, user), "Removed "+user)
}

func (s *Server) repoAddDeployKey(w http.ResponseWriter, r *http.Request) {
	owner, name := repoParams(r)
	k, err := s.Backend.AddDeployKey(r.Context(), owner, name, r.PostForm.Get("key"), r.PostForm.Get("write") == "on")
	msg := ""
	if err == nil {
		msg = "Added deploy key " + k.Fingerprint
	}
	s.repoResult(w, r, err, msg)
}

func (s *Server) repoRemoveDeployKey(w http.ResponseWriter, r *http.Request) {
	owner, name := repoParams(r)
	fp := r.PostForm.Get("fingerprint")
	s.repoResult(w, r, s.Backend.RemoveDeployKey(r.Context(), owner, name, fp), "Removed deploy key "+fp)
}

func (s *Server) repoAddProtected(w http.ResponseWriter, r *http.Request) {
	owner, name := repoParams(r)
	p, err := s.Backend.AddProtectedBranch(r.Context(), owner, name, strings.TrimSpace(r.PostForm.Get("pattern")), r.PostForm.Get("admin_only") == "on")
	msg := ""
	if err == nil {
		msg = "Protected " + p.Pattern
	}
	s.repoResult(w, r, err, msg)
}

func (s *Server) repoRemoveProtected(w http.ResponseWriter, r *http.Request) {
	owner, name := repoParams(r)
	pattern := r.PostForm.Get("pattern")
	s.repoResult(w, r, s.Backend.RemoveProtectedBranch(r.Context(), owner, name, pattern), "Unprotected "+pattern)
}

// auditData is the audit page: the filter as given and one page.
type auditData struct {
	User, Repo, Since string
	*auditPage
	Next string // query string of the next page
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	c := callerFromContext(r.Context())
	q := r.URL.Query()
	// Non-admins see their own actions unless they ask for a repository.
	if !c.User.Admin && q.Get("user") == "" && q.Get("repo") == "" {
		q.Set("user", c.User.Name)
	}
	f, pg, err := auditQuery(q)
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	p, err := s.auditEvents(r.Context(), f, pg)
	if err != nil {
		s.panelError(w, r, err)
		return
	}
	d := auditData{User: q.Get("user"), Repo: q.Get("repo"), Since: q.Get("since"), auditPage: p}
	if p.NextPage > 0 {
		q.Set("page", strconv.Itoa(p.NextPage))
		d.Next = "/audit?" + q.Encode()
	}
	s.render(w, r, "audit", "Audit log", d, "", "", http.StatusOK)
}

func (s *Server) hostKeysPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "hostkeys", "Host keys", struct {
		Keys    []HostKey
		SSHAddr string
	}{s.HostKeys, s.SSHAddr}, "", "", http.StatusOK)
}
