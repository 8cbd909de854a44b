package backend

import (
	"context"
	"fmt"

	"gatehouse"
)

// Repositories and who may reach them: collaborators, deploy keys and
// protected branches, all of which need admin on the repository.

// FindRepos returns the repositories matching f that the actor may read;
// the local operator sees all of them.
func (b *Backend) FindRepos(ctx context.Context, f gatehouse.RepoFilter) ([]*gatehouse.Repo, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	f.ReadableBy = nil
	if !a.Local() {
		f.ReadableBy = &a
	}
	return b.Repos.FindRepos(ctx, f)
}

// FindRepo returns owner/name if the actor may read it.
func (b *Backend) FindRepo(ctx context.Context, owner, name string) (*gatehouse.Repo, error) {
	r, _, err := b.RepoAccess(ctx, owner, name)
	return r, err
}

// RepoAccess returns owner/name and the actor's level on it, if they may
// read it.
func (b *Backend) RepoAccess(ctx context.Context, owner, name string) (*gatehouse.Repo, gatehouse.AccessLevel, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, gatehouse.AccessNone, err
	}
	return b.authorize(ctx, a, owner, name, gatehouse.OpRead)
}

// DiskUsage returns the size of owner/name on disk, if the actor may read
// it.
func (b *Backend) DiskUsage(ctx context.Context, owner, name string) (int64, error) {
	if _, err := b.FindRepo(ctx, owner, name); err != nil {
		return 0, err
	}
	return b.Repos.DiskUsage(ctx, owner, name)
}

// CreateRepo creates r where gatehouse.Decide allows OpCreate: under the
// actor's own name, an organization they administer, or, for site
// admins, anywhere.
func (b *Backend) CreateRepo(ctx context.Context, r *gatehouse.Repo) error {
	a, err := actor(ctx)
	if err != nil {
		return err
	}
	if err := gatehouse.ValidateName(r.Owner); err != nil {
		return err
	}
	if err := gatehouse.ValidateName(r.Name); err != nil {
		return err
	}
	if !a.Local() {
		facts, err := b.Repos.AccessFacts(ctx, a, r.Owner, r.Name)
		if err != nil {
			return err
		}
		// An existing repository the actor administers falls through to
		// CreateRepo's conflict, which tells them nothing new.
		if !gatehouse.Decide(*facts, gatehouse.OpCreate).Allow {
			return fmt.Errorf("you may create repositories only under your own name or an organization you administer: %w", gatehouse.ErrForbidden)
		}
	}
	if err := b.Repos.CreateRepo(ctx, r); err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditRepoCreate, r.FullName(), r.Visibility())
	return nil
}

// RepoCreatedByPush records that a's push, or LFS upload, into a missing
// repository created r (RepoService.Authorize creates it, as Decide
// allows): the event CreateRepo raises, so that it is audited and
// webhooks hear it like any other creation. Wire it as the repository
// service's creation callback.
func (b *Backend) RepoCreatedByPush(ctx context.Context, a gatehouse.Actor, r *gatehouse.Repo) {
	b.publish(ctx, a, gatehouse.AuditRepoCreate, r.FullName(), r.Visibility())
}

func (b *Backend) UpdateRepo(ctx context.Context, owner, name string, upd gatehouse.RepoUpdate) (*gatehouse.Repo, error) {
	a, err := b.repoAdminActor(ctx, owner, name)
	if err != nil {
		return nil, err
	}
	r, err := b.Repos.UpdateRepo(ctx, owner, name, upd)
	if err != nil {
		return nil, err
	}
	var changed []string // sorted by name
	if upd.DefaultBranch != nil {
		changed = append(changed, "default_branch")
	}
	if upd.Description != nil {
		changed = append(changed, "description")
	}
	if upd.Private != nil {
		changed = append(changed, "visibility")
	}
	b.publishEvent(ctx, gatehouse.Event{Kind: gatehouse.AuditRepoUpdate, Actor: a, Repo: r.FullName(),
		Detail: fmt.Sprintf("%s description=%q", r.Visibility(), r.Description), Changed: changed})
	return r, nil
}

// RenameRepo moves owner/name to newOwner/newName; site admins only, as
// it changes two namespaces.
func (b *Backend) RenameRepo(ctx context.Context, owner, name, newOwner, newName string) (*gatehouse.Repo, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := requireSiteAdmin(a, "rename repositories"); err != nil {
		return nil, err
	}
	r, err := b.Repos.RenameRepo(ctx, owner, name, newOwner, newName)
	if err != nil {
		return nil, err
	}
	b.publishEvent(ctx, gatehouse.Event{Kind: gatehouse.AuditRepoRename, Actor: a, Repo: r.FullName(), Detail: "from " + owner + "/" + name, Subject: owner + "/" + name})
	return r, nil
}

func (b *Backend) DeleteRepo(ctx context.Context, owner, name string) error {
	return b.deleteRepo(ctx, owner, name, "")
}

// deleteRepo removes owner/name (its disk with it) and records why.
func (b *Backend) deleteRepo(ctx context.Context, owner, name, why string) error {
	a, err := b.repoAdminActor(ctx, owner, name)
	if err != nil {
		return err
	}
	if err := b.Repos.DeleteRepo(ctx, owner, name); err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditRepoDelete, owner+"/"+name, why)
	return nil
}

func (b *Backend) FindCollaborators(ctx context.Context, owner, name string) ([]*gatehouse.Collaborator, error) {
	_, err := b.repoAdminActor(ctx, owner, name)
	if err != nil {
		return nil, err
	}
	return b.Repos.FindCollaborators(ctx, owner, name)
}

func (b *Backend) SetCollaborator(ctx context.Context, owner, name, user string, level gatehouse.AccessLevel) error {
	a, err := b.repoAdminActor(ctx, owner, name)
	if err != nil {
		return err
	}
	if err := checkGrant(level); err != nil {
		return err
	}
	if err := b.Repos.SetCollaborator(ctx, owner, name, user, level); err != nil {
		return err
	}
	b.publishEvent(ctx, gatehouse.Event{Kind: gatehouse.AuditCollabSet, Actor: a, Repo: owner + "/" + name, Detail: user + " " + level.String(), Subject: user, Level: level})
	return nil
}

func (b *Backend) RemoveCollaborator(ctx context.Context, owner, name, user string) error {
	a, err := b.repoAdminActor(ctx, owner, name)
	if err != nil {
		return err
	}
	if err := b.Repos.RemoveCollaborator(ctx, owner, name, user); err != nil {
		return err
	}
	b.publishEvent(ctx, gatehouse.Event{Kind: gatehouse.AuditCollabRemove, Actor: a, Repo: owner + "/" + name, Detail: user, Subject: user})
	return nil
}

func (b *Backend) FindDeployKeys(ctx context.Context, owner, name string) ([]*gatehouse.DeployKey, error) {
	_, err := b.repoAdminActor(ctx, owner, name)
	if err != nil {
		return nil, err
	}
	if b.DeployKeys == nil {
		return nil, ErrUnavailable
	}
	return b.DeployKeys.FindDeployKeys(ctx, owner, name)
}

func (b *Backend) AddDeployKey(ctx context.Context, owner, name, text string, write bool) (*gatehouse.DeployKey, error) {
	a, err := b.repoAdminActor(ctx, owner, name)
	if err != nil {
		return nil, err
	}
	if b.DeployKeys == nil {
		return nil, ErrUnavailable
	}
	if !siteAdmin(a) && claimsVerifyRequired(text) {
		return nil, fmt.Errorf("only a site admin may register a deploy key with verify-required (see AddExpiringKey): %w", gatehouse.ErrForbidden)
	}
	k, err := b.DeployKeys.AddDeployKey(ctx, owner, name, text, write)
	if err != nil {
		return nil, err
	}
	b.publish(ctx, a, gatehouse.AuditDeployKeyAdd, owner+"/"+name, fmt.Sprintf("%s write=%v", k.Fingerprint, k.Write))
	return k, nil
}

func (b *Backend) RemoveDeployKey(ctx context.Context, owner, name, fingerprint string) error {
	a, err := b.repoAdminActor(ctx, owner, name)
	if err != nil {
		return err
	}
	if b.DeployKeys == nil {
		return ErrUnavailable
	}
	if err := b.DeployKeys.RemoveDeployKey(ctx, owner, name, fingerprint); err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditDeployKeyRemove, owner+"/"+name, fingerprint)
	return nil
}

func (b *Backend) FindProtectedBranches(ctx context.Context, owner, name string) ([]*gatehouse.ProtectedBranch, error) {
	_, err := b.repoAdminActor(ctx, owner, name)
	if err != nil {
		return nil, err
	}
	if b.Protection == nil {
		return nil, ErrUnavailable
	}
	return b.Protection.FindProtectedBranches(ctx, owner, name)
}

func (b *Backend) AddProtectedBranch(ctx context.Context, owner, name, pattern string, adminOnly bool) (*gatehouse.ProtectedBranch, error) {
	a, err := b.repoAdminActor(ctx, owner, name)
	if err != nil {
		return nil, err
	}
	if b.Protection == nil {
		return nil, ErrUnavailable
	}
	p, err := b.Protection.AddProtectedBranch(ctx, owner, name, pattern, adminOnly)
	if err != nil {
		return nil, err
	}
	b.publish(ctx, a, gatehouse.AuditProtectAdd, owner+"/"+name, fmt.Sprintf("%s admin_only=%v", p.Pattern, p.AdminOnly))
	return p, nil
}

func (b *Backend) RemoveProtectedBranch(ctx context.Context, owner, name, pattern string) error {
	a, err := b.repoAdminActor(ctx, owner, name)
	if err != nil {
		return err
	}
	if b.Protection == nil {
		return ErrUnavailable
	}
	if err := b.Protection.RemoveProtectedBranch(ctx, owner, name, pattern); err != nil {
		return err
	}
	b.publish(ctx, a, gatehouse.AuditProtectRemove, owner+"/"+name, pattern)
	return nil
}

// FindAuditEvents returns the events matching f, oldest first. Site
// admins read everything; others their own actions, or a repository they
// administer.
func (b *Backend) FindAuditEvents(ctx context.Context, f gatehouse.AuditFilter) ([]*gatehouse.AuditEvent, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if !siteAdmin(a) {
		switch {
		case f.Repo != "":
			owner, name, err := gatehouse.ParseRepoPath(f.Repo)
			if err != nil {
				return nil, err
			}
			if err := b.repoAdmin(ctx, a, owner, name); err != nil {
				return nil, err
			}
		case f.Actor != a.User.Name:
			return nil, fmt.Errorf("only site admins may read others' audit events; filter by user=%s or by a repository you administer: %w", a.User.Name, gatehouse.ErrForbidden)
		}
	}
	return b.Audit.FindAuditEvents(ctx, f)
}

// recentWindow is how many of the newest audit entries RecentPushes and
// LastPush look through.
const (
	recentWindow     = 500
	repoRecentWindow = 200
)

// RecentPushes returns up to n of the newest pushes to repositories the
// actor may read, newest first, among the latest audit entries: the log
// is filtered per repository, so nothing private leaks.
func (b *Backend) RecentPushes(ctx context.Context, n int) ([]*gatehouse.AuditEvent, error) {
	rs, err := b.FindRepos(ctx, gatehouse.RepoFilter{})
	if err != nil {
		return nil, err
	}
	readable := map[string]bool{}
	for _, r := range rs {
		readable[r.FullName()] = true
	}
	es, err := b.Audit.FindAuditEvents(ctx, gatehouse.AuditFilter{Limit: recentWindow})
	if err != nil {
		return nil, err
	}
	var pushes []*gatehouse.AuditEvent
	for i := len(es) - 1; i >= 0 && len(pushes) < n; i-- {
		if e := es[i]; e.Action == gatehouse.AuditPush && readable[e.Repo] {
			pushes = append(pushes, e)
		}
	}
	return pushes, nil
}

// LastPush returns the newest push to owner/name among its latest audit
// entries, or nil, if the actor may read it. A repository busy with other
// events may show none.
func (b *Backend) LastPush(ctx context.Context, owner, name string) (*gatehouse.AuditEvent, error) {
	r, err := b.FindRepo(ctx, owner, name)
	if err != nil {
		return nil, err
	}
	es, err := b.Audit.FindAuditEvents(ctx, gatehouse.AuditFilter{Repo: r.FullName(), Limit: repoRecentWindow})
	if err != nil {
		return nil, err
	}
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Action == gatehouse.AuditPush {
			return es[i], nil
		}
	}
	return nil, nil
}

// FindRefs returns up to max of owner/name's refs under prefix
// ("refs/heads/", "refs/tags/"), and whether more were left out, if the
// actor may read it.
func (b *Backend) FindRefs(ctx context.Context, owner, name, prefix string, max int) ([]gatehouse.Ref, bool, error) {
	r, err := b.FindRepo(ctx, owner, name)
	if err != nil {
		return nil, false, err
	}
	rl, ok := b.Repos.(gatehouse.RefLister)
	if !ok {
		return nil, false, fmt.Errorf("listing refs: %w", ErrUnavailable)
	}
	return rl.FindRefs(ctx, r.Owner, r.Name, prefix, max)
}
