package keys_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"gatehouse"
	"gatehouse/keys"
)

// MustCreateOrg creates an organization whose members read by default.
func MustCreateOrg(tb testing.TB, db *keys.DB, name string) *gatehouse.Organization {
	tb.Helper()
	o := &gatehouse.Organization{Name: name, DefaultLevel: gatehouse.AccessRead}
	if err := keys.NewOrgService(db).CreateOrg(context.Background(), o); err != nil {
		tb.Fatal(err)
	}
	return o
}

// One namespace, both directions, with a message that says who has it.
func testOrgService_Namespace(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	orgs, us := keys.NewOrgService(db), keys.NewUserService(db)
	MustCreateUser(t, db, "alice")
	MustCreateOrg(t, db, "acme")

	err := orgs.CreateOrg(ctx, &gatehouse.Organization{Name: "alice"})
	if !errors.Is(err, gatehouse.ErrConflict) || !strings.Contains(err.Error(), "taken by a user") {
		t.Errorf("org named like a user: %v", err)
	}
	err = us.CreateUser(ctx, &gatehouse.User{Name: "acme"})
	if !errors.Is(err, gatehouse.ErrConflict) || !strings.Contains(err.Error(), "taken by an organization") {
		t.Errorf("user named like an org: %v", err)
	}
	if err := orgs.CreateOrg(ctx, &gatehouse.Organization{Name: "acme"}); !errors.Is(err, gatehouse.ErrConflict) {
		t.Errorf("org twice: %v", err)
	}
	if err := orgs.CreateOrg(ctx, &gatehouse.Organization{Name: "Bad"}); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Errorf("bad name: %v", err)
	}
	if err := orgs.CreateOrg(ctx, &gatehouse.Organization{Name: "x", DefaultLevel: gatehouse.AccessWrite}); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Errorf("default write: %v", err)
	}

	// An organization is no user: not listed, not counted, not found, so
	// it can never get keys, tokens or grants.
	users, err := us.FindUsers(ctx)
	if err != nil || len(users) != 1 || users[0].Name != "alice" {
		t.Errorf("FindUsers = %v, %v", users, err)
	}
	if n, err := us.CountUsers(ctx); err != nil || n != 1 {
		t.Errorf("CountUsers = %d, %v", n, err)
	}
	if _, err := us.FindUserByName(ctx, "acme"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("FindUserByName(org): %v", err)
	}
	if _, err := orgs.FindOrgByName(ctx, "alice"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("FindOrgByName(user): %v", err)
	}
	if err := orgs.SetOrgMember(ctx, "acme", "acme", gatehouse.RoleMember); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("org as its own member: %v", err)
	}
}

func TestOrgService_Namespace(t *testing.T) { eachDB(t, testOrgService_Namespace) }

func testOrgService_MembersTeamsGrants(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	orgs, rs := keys.NewOrgService(db), keys.NewRepoStore(db)
	dave := MustCreateUser(t, db, "dave")
	MustCreateUser(t, db, "erin")
	acme := MustCreateOrg(t, db, "acme")
	repo := MustCreateRepo(t, db, "acme", "api", true)
	if repo.OwnerID != acme.ID {
		t.Fatalf("owner id %d, want %d", repo.OwnerID, acme.ID)
	}
	factsOf := func() *gatehouse.AccessFacts {
		t.Helper()
		f, err := rs.AccessFacts(ctx, gatehouse.Actor{User: dave}, "acme", "api")
		if err != nil {
			t.Fatal(err)
		}
		return f
	}

	if f := factsOf(); f.Org == nil || f.Org.ID != acme.ID || f.Org.Role != gatehouse.RoleNone || f.Org.DefaultLevel != gatehouse.AccessRead {
		t.Fatalf("non-member facts %+v", f.Org)
	}
	if err := orgs.SetOrgMember(ctx, "acme", "dave", "owner"); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Errorf("role owner: %v", err)
	}
	if err := orgs.SetOrgMember(ctx, "acme", "dave", gatehouse.RoleMember); err != nil {
		t.Fatal(err)
	}
	if f := factsOf(); f.Org.Role != gatehouse.RoleMember {
		t.Errorf("member facts %+v", f.Org)
	}
	if err := orgs.SetOrgMember(ctx, "acme", "dave", gatehouse.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	ms, err := orgs.FindOrgMembers(ctx, "acme")
	if err != nil || len(ms) != 1 || *ms[0] != (gatehouse.OrgMember{User: "dave", Role: gatehouse.RoleAdmin}) {
		t.Errorf("FindOrgMembers = %v, %v", ms, err)
	}

	// Teams: only org members join; grants are collected per team.
	for _, n := range []string{"devs", "ops"} {
		if err := orgs.CreateTeam(ctx, &gatehouse.Team{Org: "acme", Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	if err := orgs.CreateTeam(ctx, &gatehouse.Team{Org: "acme", Name: "devs"}); !errors.Is(err, gatehouse.ErrConflict) {
		t.Errorf("team twice: %v", err)
	}
	if err := orgs.CreateTeam(ctx, &gatehouse.Team{Org: "dave", Name: "x"}); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("team in a user: %v", err)
	}
	if err := orgs.AddTeamMember(ctx, "acme", "devs", "erin"); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Errorf("non-member into team: %v", err)
	}
	for _, n := range []string{"devs", "ops"} {
		if err := orgs.AddTeamMember(ctx, "acme", n, "dave"); err != nil {
			t.Fatal(err)
		}
	}
	if err := orgs.AddTeamMember(ctx, "acme", "devs", "dave"); !errors.Is(err, gatehouse.ErrConflict) {
		t.Errorf("twice into team: %v", err)
	}
	if err := orgs.SetTeamGrant(ctx, "acme", "api", "acme", "devs", gatehouse.AccessWrite); err != nil {
		t.Fatal(err)
	}
	if err := orgs.SetTeamGrant(ctx, "acme", "api", "acme", "ops", gatehouse.AccessRead); err != nil {
		t.Fatal(err)
	}
	if err := orgs.SetTeamGrant(ctx, "acme", "api", "acme", "ops", gatehouse.AccessNone); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Errorf("grant none: %v", err)
	}
	gs, err := orgs.FindTeamGrants(ctx, "acme", "api")
	if err != nil || len(gs) != 2 || gs[0].Team != "acme/devs" || gs[0].Level != gatehouse.AccessWrite {
		t.Errorf("FindTeamGrants = %v, %v", gs, err)
	}
	f := factsOf()
	slices.Sort(f.TeamGrants)
	if !slices.Equal(f.TeamGrants, []gatehouse.AccessLevel{gatehouse.AccessRead, gatehouse.AccessWrite}) {
		t.Errorf("team grants %v", f.TeamGrants)
	}
	// FindRepos collects the same facts.
	if rs, err := rs.FindRepos(ctx, gatehouse.RepoFilter{ReadableBy: &gatehouse.Actor{User: dave}}); err != nil || len(rs) != 1 {
		t.Errorf("FindRepos = %v, %v", rs, err)
	}

	// Removal: from a team, then from the org (which empties its teams).
	if err := orgs.RemoveTeamMember(ctx, "acme", "devs", "dave"); err != nil {
		t.Fatal(err)
	}
	if err := orgs.RemoveTeamMember(ctx, "acme", "devs", "dave"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("remove twice: %v", err)
	}
	if f := factsOf(); !slices.Equal(f.TeamGrants, []gatehouse.AccessLevel{gatehouse.AccessRead}) {
		t.Errorf("after team removal %v", f.TeamGrants)
	}
	if err := orgs.RemoveOrgMember(ctx, "acme", "dave"); err != nil {
		t.Fatal(err)
	}
	if f := factsOf(); f.Org.Role != gatehouse.RoleNone || len(f.TeamGrants) != 0 {
		t.Errorf("after org removal %+v %v", f.Org, f.TeamGrants)
	}
	if rs, err := rs.FindRepos(ctx, gatehouse.RepoFilter{ReadableBy: &gatehouse.Actor{User: dave}}); err != nil || len(rs) != 0 {
		t.Errorf("FindRepos after removal = %v, %v", rs, err)
	}
	if ms, err := orgs.FindTeamMembers(ctx, "acme", "ops"); err != nil || len(ms) != 0 {
		t.Errorf("ops members %v, %v", ms, err)
	}

	// Default none; and removal refused while it owns repositories.
	none := gatehouse.AccessNone
	if o, err := orgs.UpdateOrg(ctx, "acme", gatehouse.OrgUpdate{DefaultLevel: &none}); err != nil || o.DefaultLevel != none {
		t.Errorf("UpdateOrg = %+v, %v", o, err)
	}
	if err := orgs.DeleteOrg(ctx, "acme"); !errors.Is(err, gatehouse.ErrConflict) {
		t.Errorf("DeleteOrg with repos: %v", err)
	}
	if err := rs.DeleteRepo(ctx, "acme", "api"); err != nil {
		t.Fatal(err)
	}
	if err := orgs.DeleteOrg(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := orgs.FindTeams(ctx, "acme"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("teams of a deleted org: %v", err)
	}
	// The name is free again, for a user this time.
	MustCreateUser(t, db, "acme")
}

func TestOrgService_MembersTeamsGrants(t *testing.T) { eachDB(t, testOrgService_MembersTeamsGrants) }

// Creating in or renaming into an organization's namespace works; an
// org's missing repository still reports the org for create-on-push.
func testRepoStore_OrgOwner(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	rs := keys.NewRepoStore(db)
	alice := MustCreateUser(t, db, "alice")
	acme := MustCreateOrg(t, db, "acme")
	MustCreateRepo(t, db, "alice", "tool", false)
	r, err := rs.RenameRepo(ctx, "alice", "tool", "acme", "tool")
	if err != nil || r.OwnerID != acme.ID || r.Owner != "acme" {
		t.Fatalf("RenameRepo = %+v, %v", r, err)
	}
	f, err := rs.AccessFacts(ctx, gatehouse.Actor{User: alice}, "acme", "nothing")
	if err != nil || f.Repo != nil || f.Org == nil || f.Org.ID != acme.ID {
		t.Fatalf("facts for a missing org repo: %+v, %v", f, err)
	}
	f, err = rs.AccessFacts(ctx, gatehouse.Actor{User: alice}, "alice", "nothing")
	if err != nil || f.Org != nil {
		t.Fatalf("facts in a user's namespace: %+v, %v", f, err)
	}
}

func TestRepoStore_OrgOwner(t *testing.T) { eachDB(t, testRepoStore_OrgOwner) }
