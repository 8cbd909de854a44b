package web

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gatehouse"
)

// The operations below are what the API and the panel both do: each
// checks who may do it, calls the same service method the command line
// calls (so input is validated in one place), and records admin changes
// in the audit log. Access to repositories is only ever decided by
// RepoService.Authorize, which applies gatehouse.Decide.

// caller is the person behind a request.
type caller struct {
	user *gatehouse.User
	// token is the API token the request came with; nil for a panel
	// session, which is not limited by a scope.
	token *gatehouse.Token
	addr  string
}

func (c caller) actor() gatehouse.Actor { return gatehouse.Actor{User: c.user} }

// record writes an admin change to the audit log. The change has happened,
// so a failed write is logged rather than failing the request.
func (s *Server) record(ctx context.Context, c caller, action, repo, detail string) {
	e := &gatehouse.AuditEvent{Actor: c.user.Name, Action: action, Repo: repo, Detail: detail, Address: c.addr}
	if err := s.Audit.RecordEvent(context.WithoutCancel(ctx), e); err != nil {
		s.Logger.Error("audit write failed", logErr, err, "action", action)
	}
}

// userVisible returns ErrNotFound unless c may see user name's account:
// site admins see everyone, others only themselves. Not ErrForbidden, so
// that nobody learns which names exist.
func userVisible(c caller, name string) error {
	if c.user.Admin || c.user.Name == name {
		return nil
	}
	return fmt.Errorf("user %q: %w", name, gatehouse.ErrNotFound)
}

func requireSiteAdmin(c caller, what string) error {
	if !c.user.Admin {
		return fmt.Errorf("only site admins may %s: %w", what, gatehouse.ErrForbidden)
	}
	return nil
}

func (s *Server) listUsers(ctx context.Context, c caller) ([]*gatehouse.User, error) {
	if !c.user.Admin {
		u, err := s.Users.FindUserByName(ctx, c.user.Name)
		if err != nil {
			return nil, err
		}
		return []*gatehouse.User{u}, nil
	}
	return s.Users.FindUsers(ctx)
}

func (s *Server) findUser(ctx context.Context, c caller, name string) (*gatehouse.User, error) {
	if err := userVisible(c, name); err != nil {
		return nil, err
	}
	return s.Users.FindUserByName(ctx, name)
}

func (s *Server) createUser(ctx context.Context, c caller, name string, admin bool) (*gatehouse.User, error) {
	if err := requireSiteAdmin(c, "create users"); err != nil {
		return nil, err
	}
	u := &gatehouse.User{Name: name, Admin: admin}
	if err := s.Users.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	s.record(ctx, c, gatehouse.AuditUserCreate, "", u.Name+map[bool]string{true: " (admin)"}[admin])
	return u, nil
}

func (s *Server) updateUser(ctx context.Context, c caller, name string, upd gatehouse.UserUpdate) (*gatehouse.User, error) {
	if err := userVisible(c, name); err != nil {
		return nil, err
	}
	if err := requireSiteAdmin(c, "change users"); err != nil {
		return nil, err
	}
	u, err := s.Users.UpdateUser(ctx, name, upd)
	if err != nil {
		return nil, err
	}
	s.record(ctx, c, gatehouse.AuditUserUpdate, "", fmt.Sprintf("%s admin=%v disabled=%v", u.Name, u.Admin, u.Disabled))
	return u, nil
}

func (s *Server) deleteUser(ctx context.Context, c caller, name string) error {
	if err := userVisible(c, name); err != nil {
		return err
	}
	if err := requireSiteAdmin(c, "remove users"); err != nil {
		return err
	}
	if err := s.Users.DeleteUser(ctx, name); err != nil {
		return err
	}
	s.record(ctx, c, gatehouse.AuditUserDelete, "", name)
	return nil
}

func (s *Server) listKeys(ctx context.Context, c caller, user string) ([]*gatehouse.PublicKey, error) {
	if err := userVisible(c, user); err != nil {
		return nil, err
	}
	return s.Keys.FindKeys(ctx, user)
}

func (s *Server) addKey(ctx context.Context, c caller, user, text string) (*gatehouse.PublicKey, error) {
	if err := userVisible(c, user); err != nil {
		return nil, err
	}
	k, err := s.Keys.AddKey(ctx, user, text)
	if err != nil {
		return nil, err
	}
	s.record(ctx, c, gatehouse.AuditKeyAdd, "", user+" "+k.Fingerprint)
	return k, nil
}

func (s *Server) removeKey(ctx context.Context, c caller, user, fp string) error {
	if err := userVisible(c, user); err != nil {
		return err
	}
	if err := s.Keys.RemoveKey(ctx, user, fp); err != nil {
		return err
	}
	s.record(ctx, c, gatehouse.AuditKeyRemove, "", user+" "+fp)
	return nil
}

func (s *Server) listTokens(ctx context.Context, c caller, user string) ([]*gatehouse.Token, error) {
	if err := userVisible(c, user); err != nil {
		return nil, err
	}
	return s.Tokens.FindTokens(ctx, user)
}

// createToken makes a token for user; ttl zero means no expiry and scope
// zero the default. A request made with a token gets at most that token's
// scope (its scope by default) and expiry (gatehouse.MintLimits); a panel
// session gets what it asks for, admin by default.
func (s *Server) createToken(ctx context.Context, c caller, user, name string, scope gatehouse.TokenScope, ttl time.Duration) (*gatehouse.Token, string, error) {
	if err := userVisible(c, user); err != nil {
		return nil, "", err
	}
	if ttl < 0 {
		return nil, "", fmt.Errorf("token lifetime must be positive: %w", gatehouse.ErrInvalid)
	}
	now := time.Now()
	var exp *time.Time
	if ttl > 0 {
		e := now.Add(ttl)
		exp = &e
	}
	if c.token != nil {
		var err error
		if scope, exp, err = gatehouse.MintLimits(c.token, now, scope, exp); err != nil {
			return nil, "", err
		}
	} else if scope == 0 {
		scope = gatehouse.ScopeAdmin
	}
	t, secret, err := s.Tokens.CreateToken(ctx, user, name, scope, exp)
	if err != nil {
		return nil, "", err
	}
	s.record(ctx, c, gatehouse.AuditTokenCreate, "", fmt.Sprintf("%s #%d %s %s", user, t.ID, t.Scope, name))
	return t, secret, nil
}

func (s *Server) revokeToken(ctx context.Context, c caller, user string, id int64) error {
	if err := userVisible(c, user); err != nil {
		return err
	}
	if err := s.Tokens.RevokeToken(ctx, user, id); err != nil {
		return err
	}
	s.record(ctx, c, gatehouse.AuditTokenRevoke, "", fmt.Sprintf("%s #%d", user, id))
	return nil
}

func (s *Server) listRepos(ctx context.Context, c caller) ([]*gatehouse.Repo, error) {
	a := c.actor()
	return s.Repos.FindRepos(ctx, gatehouse.RepoFilter{ReadableBy: &a})
}

// authorize wraps RepoService.Authorize for an existing repository. Read
// and admin are the only operations the web side asks for, so Authorize
// never creates a repository here.
func (s *Server) authorize(ctx context.Context, c caller, owner, name string, op gatehouse.Operation) (*gatehouse.Repo, gatehouse.AccessLevel, error) {
	if op == gatehouse.OpWrite {
		return nil, gatehouse.AccessNone, errors.New("web: authorize with OpWrite would create repositories")
	}
	return s.Repos.Authorize(ctx, c.actor(), owner, name, op)
}

// createRepo creates r where gatehouse.Decide allows OpCreate: under the
// caller's own name, an organization they administer, or, for site
// admins, anywhere.
func (s *Server) createRepo(ctx context.Context, c caller, r *gatehouse.Repo) error {
	if err := gatehouse.ValidateName(r.Owner); err != nil {
		return err
	}
	if err := gatehouse.ValidateName(r.Name); err != nil {
		return err
	}
	facts, err := s.Repos.AccessFacts(ctx, c.actor(), r.Owner, r.Name)
	if err != nil {
		return err
	}
	// An existing repository the caller administers falls through to
	// CreateRepo's conflict, which tells them nothing new.
	if !gatehouse.Decide(*facts, gatehouse.OpCreate).Allow {
		return fmt.Errorf("you may create repositories only under your own name or an organization you administer: %w", gatehouse.ErrForbidden)
	}
	if err := s.Repos.CreateRepo(ctx, r); err != nil {
		return err
	}
	s.record(ctx, c, gatehouse.AuditRepoCreate, r.FullName(), visibility(r))
	return nil
}

func (s *Server) updateRepo(ctx context.Context, c caller, owner, name string, upd gatehouse.RepoUpdate) (*gatehouse.Repo, error) {
	if _, _, err := s.authorize(ctx, c, owner, name, gatehouse.OpAdmin); err != nil {
		return nil, err
	}
	r, err := s.Repos.UpdateRepo(ctx, owner, name, upd)
	if err != nil {
		return nil, err
	}
	s.record(ctx, c, gatehouse.AuditRepoUpdate, r.FullName(), fmt.Sprintf("%s description=%q", visibility(r), r.Description))
	return r, nil
}

func (s *Server) deleteRepo(ctx context.Context, c caller, owner, name string) error {
	if _, _, err := s.authorize(ctx, c, owner, name, gatehouse.OpAdmin); err != nil {
		return err
	}
	if err := s.Repos.DeleteRepo(ctx, owner, name); err != nil {
		return err
	}
	s.record(ctx, c, gatehouse.AuditRepoDelete, owner+"/"+name, "")
	return nil
}

func (s *Server) listCollaborators(ctx context.Context, c caller, owner, name string) ([]*gatehouse.Collaborator, error) {
	if _, _, err := s.authorize(ctx, c, owner, name, gatehouse.OpAdmin); err != nil {
		return nil, err
	}
	return s.Repos.FindCollaborators(ctx, owner, name)
}

func (s *Server) setCollaborator(ctx context.Context, c caller, owner, name, user, level string) (*gatehouse.Collaborator, error) {
	if _, _, err := s.authorize(ctx, c, owner, name, gatehouse.OpAdmin); err != nil {
		return nil, err
	}
	// The same check as `gatehouse collab add`: "none" is removal, not a level.
	lvl, err := gatehouse.ParseAccessLevel(level)
	if err != nil || lvl == gatehouse.AccessNone {
		return nil, fmt.Errorf("level %q must be read, write or admin: %w", level, gatehouse.ErrInvalid)
	}
	if err := s.Repos.SetCollaborator(ctx, owner, name, user, lvl); err != nil {
		return nil, err
	}
	s.record(ctx, c, gatehouse.AuditCollabSet, owner+"/"+name, user+" "+lvl.String())
	return &gatehouse.Collaborator{User: user, Level: lvl}, nil
}

func (s *Server) removeCollaborator(ctx context.Context, c caller, owner, name, user string) error {
	if _, _, err := s.authorize(ctx, c, owner, name, gatehouse.OpAdmin); err != nil {
		return err
	}
	if err := s.Repos.RemoveCollaborator(ctx, owner, name, user); err != nil {
		return err
	}
	s.record(ctx, c, gatehouse.AuditCollabRemove, owner+"/"+name, user)
	return nil
}

// errUnavailable is for a service the server was started without.
var errUnavailable = errors.New("not available on this server")

func (s *Server) listDeployKeys(ctx context.Context, c caller, owner, name string) ([]*gatehouse.DeployKey, error) {
	if _, _, err := s.authorize(ctx, c, owner, name, gatehouse.OpAdmin); err != nil {
		return nil, err
	}
	if s.DeployKeys == nil {
		return nil, errUnavailable
	}
	return s.DeployKeys.FindDeployKeys(ctx, owner, name)
}

func (s *Server) addDeployKey(ctx context.Context, c caller, owner, name, text string, write bool) (*gatehouse.DeployKey, error) {
	if _, _, err := s.authorize(ctx, c, owner, name, gatehouse.OpAdmin); err != nil {
		return nil, err
	}
	if s.DeployKeys == nil {
		return nil, errUnavailable
	}
	k, err := s.DeployKeys.AddDeployKey(ctx, owner, name, text, write)
	if err != nil {
		return nil, err
	}
	s.record(ctx, c, gatehouse.AuditDeployKeyAdd, owner+"/"+name, fmt.Sprintf("%s write=%v", k.Fingerprint, k.Write))
	return k, nil
}

func (s *Server) removeDeployKey(ctx context.Context, c caller, owner, name, fp string) error {
	if _, _, err := s.authorize(ctx, c, owner, name, gatehouse.OpAdmin); err != nil {
		return err
	}
	if s.DeployKeys == nil {
		return errUnavailable
	}
	if err := s.DeployKeys.RemoveDeployKey(ctx, owner, name, fp); err != nil {
		return err
	}
	s.record(ctx, c, gatehouse.AuditDeployKeyRemove, owner+"/"+name, fp)
	return nil
}

func (s *Server) listProtected(ctx context.Context, c caller, owner, name string) ([]*gatehouse.ProtectedBranch, error) {
	if _, _, err := s.authorize(ctx, c, owner, name, gatehouse.OpAdmin); err != nil {
		return nil, err
	}
	if s.Protection == nil {
		return nil, errUnavailable
	}
	return s.Protection.FindProtectedBranches(ctx, owner, name)
}

func (s *Server) addProtected(ctx context.Context, c caller, owner, name, pattern string, adminOnly bool) (*gatehouse.ProtectedBranch, error) {
	if _, _, err := s.authorize(ctx, c, owner, name, gatehouse.OpAdmin); err != nil {
		return nil, err
	}
	if s.Protection == nil {
		return nil, errUnavailable
	}
	p, err := s.Protection.AddProtectedBranch(ctx, owner, name, pattern, adminOnly)
	if err != nil {
		return nil, err
	}
	s.record(ctx, c, gatehouse.AuditProtectAdd, owner+"/"+name, fmt.Sprintf("%s admin_only=%v", p.Pattern, p.AdminOnly))
	return p, nil
}

func (s *Server) removeProtected(ctx context.Context, c caller, owner, name, pattern string) error {
	if _, _, err := s.authorize(ctx, c, owner, name, gatehouse.OpAdmin); err != nil {
		return err
	}
	if s.Protection == nil {
		return errUnavailable
	}
	if err := s.Protection.RemoveProtectedBranch(ctx, owner, name, pattern); err != nil {
		return err
	}
	s.record(ctx, c, gatehouse.AuditProtectRemove, owner+"/"+name, pattern)
	return nil
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

// auditEvents returns page pg of the events matching f. Site admins
// read everything; others their own actions, or a repository they
// administer.
func (s *Server) auditEvents(ctx context.Context, c caller, f gatehouse.AuditFilter, pg paging) (*auditPage, error) {
	if !c.user.Admin {
		switch {
		case f.Repo != "":
			owner, name, err := gatehouse.ParseRepoPath(f.Repo)
			if err != nil {
				return nil, err
			}
			if _, _, err := s.authorize(ctx, c, owner, name, gatehouse.OpAdmin); err != nil {
				return nil, err
			}
		case f.Actor != c.user.Name:
			return nil, fmt.Errorf("only site admins may read others' audit events; filter by user=%s or by a repository you administer: %w", c.user.Name, gatehouse.ErrForbidden)
		}
	}
	// One more than the page needs tells whether there is a next page;
	// parsePaging keeps that within maxAuditWindow.
	f.Limit = pg.end() + 1
	es, err := s.Audit.FindAuditEvents(ctx, f)
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

func visibility(r *gatehouse.Repo) string {
	if r.Private {
		return "private"
	}
	return "public"
}
