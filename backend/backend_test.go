package backend_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse"
	"gatehouse/backend"
	"gatehouse/keys"
	"gatehouse/repos"
	"gatehouse/repos/indexpack/packtest"
)

// fixture is a backend on a fresh database and repository folder, with
// users root (site admin), alice, bob and carol, alice's private
// repository alice/r on which bob has read and carol admin, and the
// organization acme (admin ada, member mel) owning acme/api.
type fixture struct {
	b      *backend.Backend
	root   string
	users  map[string]*gatehouse.User
	events *sink
}

type sink struct {
	mu sync.Mutex
	es []gatehouse.Event
}

func (s *sink) Publish(_ context.Context, e gatehouse.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.es = append(s.es, e)
}

func (s *sink) kinds() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ks []string
	for _, e := range s.es {
		ks = append(ks, e.Kind)
	}
	return ks
}

func mustFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	db, err := keys.Open(filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{root: filepath.Join(dir, "repos"), users: map[string]*gatehouse.User{}, events: &sink{}}
	rs := repos.NewService(keys.NewRepoStore(db), f.root)
	t.Cleanup(rs.Close)
	f.b = &backend.Backend{
		Users: keys.NewUserService(db), Keys: keys.NewKeyService(db), Repos: rs, Orgs: keys.NewOrgService(db),
		Tokens: keys.NewTokenService(db), DeployKeys: keys.NewDeployKeyService(db), Protection: keys.NewProtectionService(db),
		Audit: keys.NewAuditService(db), Logins: keys.NewLoginService(db), Events: f.events, Git: rs,
	}
	ctx := f.local()
	for _, n := range []string{"root", "alice", "bob", "carol", "ada", "mel"} {
		u := &gatehouse.User{Name: n, Admin: n == "root"}
		if err := f.b.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		f.users[n] = u
	}
	steps := []error{
		f.b.CreateRepo(ctx, &gatehouse.Repo{Owner: "alice", Name: "r", Private: true}),
		f.b.SetCollaborator(ctx, "alice", "r", "bob", gatehouse.AccessRead),
		f.b.SetCollaborator(ctx, "alice", "r", "carol", gatehouse.AccessAdmin),
		f.b.CreateOrg(ctx, &gatehouse.Organization{Name: "acme", DefaultLevel: gatehouse.AccessRead}),
		f.b.SetOrgMember(ctx, "acme", "ada", gatehouse.RoleAdmin),
		f.b.SetOrgMember(ctx, "acme", "mel", gatehouse.RoleMember),
		f.b.CreateRepo(ctx, &gatehouse.Repo{Owner: "acme", Name: "api", Private: true}),
	}
	if err := errors.Join(steps...); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) local() context.Context {
	return gatehouse.NewContextWithActor(context.Background(), gatehouse.LocalActor("cli"))
}

func (f *fixture) as(name string) context.Context {
	return gatehouse.NewContextWithActor(context.Background(), gatehouse.Actor{User: f.users[name], Address: "192.0.2.1:1234"})
}

// Every method refuses a context without an actor, or with one that is
// not a user (a deploy key, nobody).
func TestMissingActorRefused(t *testing.T) {
	f := mustFixture(t)
	for name, ctx := range map[string]context.Context{
		"none":       context.Background(),
		"anonymous":  gatehouse.NewContextWithActor(context.Background(), gatehouse.Actor{}),
		"deploy key": gatehouse.NewContextWithActor(context.Background(), gatehouse.Actor{DeployKey: &gatehouse.DeployKey{ID: 1, RepoID: 1, Write: true}}),
	} {
		calls := map[string]error{
			"FindUsers":       second(f.b.FindUsers(ctx)),
			"CreateUser":      f.b.CreateUser(ctx, &gatehouse.User{Name: "eve"}),
			"FindRepos":       second(f.b.FindRepos(ctx, gatehouse.RepoFilter{})),
			"FindRepo":        second(f.b.FindRepo(ctx, "alice", "r")),
			"SetCollaborator": f.b.SetCollaborator(ctx, "alice", "r", "eve", gatehouse.AccessAdmin),
			"DeleteRepo":      f.b.DeleteRepo(ctx, "alice", "r"),
			"FindOrgs":        second(f.b.FindOrgs(ctx, gatehouse.OrgFilter{})),
			"DeleteOrg":       f.b.DeleteOrg(ctx, "acme"),
			"FindAuditEvents": second(f.b.FindAuditEvents(ctx, gatehouse.AuditFilter{})),
		}
		for call, err := range calls {
			if !errors.Is(err, gatehouse.ErrForbidden) {
				t.Errorf("%s with %s: %v, want ErrForbidden", call, name, err)
			}
		}
	}
	if _, err := f.b.FindRepo(f.local(), "alice", "r"); err != nil {
		t.Errorf("alice/r is gone after the refused calls: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

// Who sees and changes which accounts.
func TestUserRules(t *testing.T) {
	f := mustFixture(t)
	tests := []struct {
		name string
		do   func() error
		want error // nil, or the sentinel the error must wrap
	}{
		{"site admin lists all", func() error { return wantUsers(f.b.FindUsers(f.as("root")))(6) }, nil},
		{"local lists all", func() error { return wantUsers(f.b.FindUsers(f.local()))(6) }, nil},
		{"non-admin lists only self", func() error { return wantUsers(f.b.FindUsers(f.as("bob")))(1) }, nil},
		{"non-admin reads self", func() error { return second(f.b.FindUserByName(f.as("bob"), "bob")) }, nil},
		{"non-admin cannot see others", func() error { return second(f.b.FindUserByName(f.as("bob"), "alice")) }, gatehouse.ErrNotFound},
		{"non-admin cannot list others' keys", func() error { return second(f.b.FindKeys(f.as("bob"), "alice")) }, gatehouse.ErrNotFound},
		{"non-admin cannot create users", func() error { return f.b.CreateUser(f.as("bob"), &gatehouse.User{Name: "eve"}) }, gatehouse.ErrForbidden},
		{"non-admin cannot change self", func() error {
			yes := true
			return second(f.b.UpdateUser(f.as("bob"), "bob", gatehouse.UserUpdate{Admin: &yes}))
		}, gatehouse.ErrForbidden},
		{"non-admin cannot remove others", func() error { return f.b.DeleteUser(f.as("bob"), "alice") }, gatehouse.ErrNotFound},
		{"site admin creates users", func() error { return f.b.CreateUser(f.as("root"), &gatehouse.User{Name: "eve"}) }, nil},
		{"non-admin cannot mint for others", func() error { return second3(f.b.CreateToken(f.as("bob"), "alice", "x", 0, nil)) }, gatehouse.ErrNotFound},
		{"non-admin mints own token", func() error { return second3(f.b.CreateToken(f.as("bob"), "bob", "x", 0, nil)) }, nil},
		{"non-admin cannot make another's login link", func() error { return second(f.b.CreateLoginLink(f.as("bob"), "alice")) }, gatehouse.ErrNotFound},
		{"user makes their own login link", func() error { return second(f.b.CreateLoginLink(f.as("bob"), "bob")) }, nil},
		{"local makes login links", func() error { return second(f.b.CreateLoginLink(f.local(), "alice")) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { check(t, tt.do(), tt.want) })
	}
}

func second3[A, B any](_ A, _ B, err error) error { return err }

func wantUsers(us []*gatehouse.User, err error) func(int) error {
	return func(n int) error {
		if err == nil && len(us) != n {
			return errors.New("wrong number of users")
		}
		return err
	}
}

func check(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("refused: %v", err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("got %v, want %v", err, want)
	}
}

// Repository settings need admin on the repository, as Authorize decides.
func TestRepoRules(t *testing.T) {
	f := mustFixture(t)
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"read collaborator reads", func() error { return second(f.b.FindRepo(f.as("bob"), "alice", "r")) }, nil},
		{"read collaborator cannot add collaborators", func() error {
			return f.b.SetCollaborator(f.as("bob"), "alice", "r", "mel", gatehouse.AccessWrite)
		}, gatehouse.ErrForbidden},
		{"read collaborator cannot list collaborators", func() error { return second(f.b.FindCollaborators(f.as("bob"), "alice", "r")) }, gatehouse.ErrForbidden},
		{"read collaborator cannot protect", func() error {
			return second(f.b.AddProtectedBranch(f.as("bob"), "alice", "r", "main", false))
		}, gatehouse.ErrForbidden},
		{"outsider does not see it", func() error { return second(f.b.FindRepo(f.as("mel"), "alice", "r")) }, gatehouse.ErrNotFound},
		{"outsider cannot delete it", func() error { return f.b.DeleteRepo(f.as("mel"), "alice", "r") }, gatehouse.ErrNotFound},
		{"admin collaborator adds collaborators", func() error {
			return f.b.SetCollaborator(f.as("carol"), "alice", "r", "mel", gatehouse.AccessWrite)
		}, nil},
		{"none is not a level to grant", func() error {
			return f.b.SetCollaborator(f.as("alice"), "alice", "r", "mel", gatehouse.AccessNone)
		}, gatehouse.ErrInvalid},
		{"no repositories under others' names", func() error {
			return f.b.CreateRepo(f.as("bob"), &gatehouse.Repo{Owner: "alice", Name: "new"})
		}, gatehouse.ErrForbidden},
		{"repositories under one's own name", func() error {
			return f.b.CreateRepo(f.as("bob"), &gatehouse.Repo{Owner: "bob", Name: "new"})
		}, nil},
		{"non-admin cannot rename", func() error { return second(f.b.RenameRepo(f.as("alice"), "alice", "r", "alice", "s")) }, gatehouse.ErrForbidden},
		{"non-admin reads others' audit only by repository they administer", func() error {
			return second(f.b.FindAuditEvents(f.as("bob"), gatehouse.AuditFilter{Repo: "alice/r"}))
		}, gatehouse.ErrForbidden},
		{"admin collaborator reads the repository's audit", func() error {
			return second(f.b.FindAuditEvents(f.as("carol"), gatehouse.AuditFilter{Repo: "alice/r"}))
		}, nil},
		{"non-admin cannot read all audit", func() error { return second(f.b.FindAuditEvents(f.as("bob"), gatehouse.AuditFilter{})) }, gatehouse.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { check(t, tt.do(), tt.want) })
	}
	rs, err := f.b.FindRepos(f.as("bob"), gatehouse.RepoFilter{})
	if err != nil || len(rs) != 2 { // alice/r (collaborator) and bob/new
		t.Errorf("bob's repositories: %v %v", rs, err)
	}
}

// Organizations: site admins create, org admins manage, members see,
// others get ErrNotFound; removal with the repositories works for the
// local operator and for an org admin.
func TestOrgRules(t *testing.T) {
	for _, who := range []string{"local", "org admin", "site admin"} {
		t.Run(who, func(t *testing.T) {
			f := mustFixture(t)
			ctx := map[string]context.Context{"local": f.local(), "org admin": f.as("ada"), "site admin": f.as("root")}[who]
			check(t, f.b.CreateOrg(f.as("ada"), &gatehouse.Organization{Name: "other"}), gatehouse.ErrForbidden)
			check(t, f.b.SetOrgMember(f.as("mel"), "acme", "bob", gatehouse.RoleMember), gatehouse.ErrForbidden)
			check(t, second(f.b.FindOrgMembers(f.as("bob"), "acme")), gatehouse.ErrNotFound)
			check(t, second(f.b.DeleteOrgWithRepos(f.as("mel"), "acme")), gatehouse.ErrForbidden)
			check(t, second(f.b.DeleteOrgWithRepos(f.as("bob"), "acme")), gatehouse.ErrNotFound)
			check(t, f.b.DeleteOrg(ctx, "acme"), gatehouse.ErrConflict) // it owns acme/api

			dir := filepath.Join(f.root, "acme", "api.git")
			if _, err := os.Stat(dir); err != nil {
				t.Fatal(err)
			}
			removed, err := f.b.DeleteOrgWithRepos(ctx, "acme")
			if err != nil || len(removed) != 1 || removed[0] != "acme/api" {
				t.Fatalf("DeleteOrgWithRepos = %v, %v", removed, err)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("acme/api left on disk: %v", err)
			}
			check(t, second(f.b.FindOrgByName(f.local(), "acme")), gatehouse.ErrNotFound)
			check(t, second(f.b.DeleteOrgWithRepos(f.local(), "acme")), gatehouse.ErrNotFound)
		})
	}
}

// Each change is one event and one audit entry, named after the actor:
// the local operator's name, or the user with their address.
func TestEventsAndAudit(t *testing.T) {
	f := mustFixture(t)
	before := len(f.events.kinds())
	if err := f.b.SetCollaborator(f.as("carol"), "alice", "r", "mel", gatehouse.AccessWrite); err != nil {
		t.Fatal(err)
	}
	if err := f.b.SetCollaborator(f.as("bob"), "alice", "r", "mel", gatehouse.AccessAdmin); err == nil {
		t.Fatal("read collaborator changed collaborators")
	}
	if ks := f.events.kinds()[before:]; len(ks) != 1 || ks[0] != gatehouse.AuditCollabSet {
		t.Errorf("events: %v, want one %s", ks, gatehouse.AuditCollabSet)
	}
	es, err := f.b.FindAuditEvents(f.local(), gatehouse.AuditFilter{Repo: "alice/r"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Actor+" "+e.Action+" "+e.Detail+" "+e.Address)
	}
	want := []string{
		"cli repo.create private ",
		"cli collab.set bob read ",
		"cli collab.set carol admin ",
		"carol collab.set mel write 192.0.2.1:1234",
	}
	if len(got) != len(want) {
		t.Fatalf("audit of alice/r:\n%q\nwant\n%q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("audit entry %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// firstCommitPush is a push request creating refs at one commit (of the
// empty tree), sent with its pack; and the commit's id.
func firstCommitPush(refs ...string) (req []byte, commit string) {
	tree := packtest.Whole(plumbing.TreeObject, nil)
	commitData := []byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n" +
		"author A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n\nfirst\n")
	commit = plumbing.ComputeHash(plumbing.CommitObject, commitData).String()
	var cmds []packtest.Command
	for _, r := range refs {
		cmds = append(cmds, packtest.Command{Old: packtest.ZeroID, New: commit, Ref: r})
	}
	return packtest.PushRequest("report-status", cmds, packtest.New(tree, packtest.Whole(plumbing.CommitObject, commitData)).Bytes()), commit
}

// A push through the backend raises one event per ref it moved, carrying
// the pusher, and writes their audit entries.
func TestPushRaisesEvents(t *testing.T) {
	f := mustFixture(t)
	ctx := f.as("alice")
	repo, err := f.b.FindRepo(ctx, "alice", "r")
	if err != nil {
		t.Fatal(err)
	}
	req, commit := firstCommitPush("refs/heads/main", "refs/tags/v1")
	var out bytes.Buffer
	before := len(f.events.kinds())
	res, err := f.b.ReceivePack(ctx, repo, gatehouse.GitSession{Stdin: bytes.NewReader(req), Stdout: &out, Stderr: io.Discard})
	if err != nil {
		t.Fatalf("push: %v\n%s", err, out.String())
	}
	if res.Updated.Len() != 2 {
		t.Fatalf("push moved %d refs, want 2:\n%s", res.Updated.Len(), out.String())
	}
	f.events.mu.Lock()
	got := f.events.es[before:]
	f.events.mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("push raised %d events, want 2: %+v", len(got), got)
	}
	for i, ref := range []string{"refs/heads/main", "refs/tags/v1"} {
		e := got[i]
		want := ref + " " + packtest.ZeroID + " " + commit
		if e.Kind != gatehouse.AuditPush || e.Repo != "alice/r" || e.Detail != want || e.Actor.User == nil || e.Actor.User.Name != "alice" {
			t.Errorf("event %d = %+v, want push of %s by alice", i, e, want)
		}
	}
	rows, err := f.b.FindAuditEvents(ctx, gatehouse.AuditFilter{Repo: "alice/r"})
	if err != nil {
		t.Fatal(err)
	}
	pushes := 0
	for _, r := range rows {
		if r.Action == gatehouse.AuditPush && r.Actor == "alice" && r.Address == "192.0.2.1:1234" {
			pushes++
		}
	}
	if pushes != 2 {
		t.Fatalf("%d push audit rows by alice, want 2: %+v", pushes, rows)
	}

	// Without an actor, nothing is served.
	if _, err := f.b.ReceivePack(context.Background(), repo, gatehouse.GitSession{Stdin: bytes.NewReader(req), Stdout: io.Discard, Stderr: io.Discard}); !errors.Is(err, gatehouse.ErrForbidden) {
		t.Fatalf("push without an actor: %v, want ErrForbidden", err)
	}
}

// A push of more refs than one chunk of events raises and audits every
// one of them.
func TestPushManyRefsRaisesEveryEvent(t *testing.T) {
	f := mustFixture(t)
	ctx := f.as("alice")
	repo, err := f.b.FindRepo(ctx, "alice", "r")
	if err != nil {
		t.Fatal(err)
	}
	const n = 2500
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("refs/heads/b%04d", i))
	}
	req, commit := firstCommitPush(names...)
	before := len(f.events.kinds())
	var out bytes.Buffer
	if _, err := f.b.ReceivePack(ctx, repo, gatehouse.GitSession{Stdin: bytes.NewReader(req), Stdout: &out, Stderr: io.Discard}); err != nil {
		t.Fatalf("push: %v\n%s", err, out.String())
	}
	f.events.mu.Lock()
	got := slices.Clone(f.events.es[before:])
	f.events.mu.Unlock()
	if len(got) != n {
		t.Fatalf("push raised %d events, want %d", len(got), n)
	}
	for i, e := range got {
		if want := fmt.Sprintf("refs/heads/b%04d %s %s", i, packtest.ZeroID, commit); e.Detail != want {
			t.Fatalf("event %d = %q, want %q", i, e.Detail, want)
		}
	}
	// The audit log as far as one query reads it: the last chunk's rows
	// (the last, partial one) among them.
	rows, err := f.b.FindAuditEvents(ctx, gatehouse.AuditFilter{Repo: "alice/r", Limit: keys.MaxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if r.Action == gatehouse.AuditPush {
			seen[r.Detail] = true
		}
	}
	for _, e := range got[n-keys.MaxAuditLimit:] {
		if !seen[e.Detail] {
			t.Fatalf("no audit row for %q among the newest %d", e.Detail, len(rows))
		}
	}
}
