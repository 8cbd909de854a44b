package gatehouse_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gatehouse"
)

func TestDecide(t *testing.T) {
	alice := &gatehouse.User{ID: 1, Name: "alice"}
	bob := &gatehouse.User{ID: 2, Name: "bob"}
	root := &gatehouse.User{ID: 3, Name: "root", Admin: true}
	gone := &gatehouse.User{ID: 4, Name: "gone", Disabled: true}
	goneAdmin := &gatehouse.User{ID: 5, Name: "goneadmin", Admin: true, Disabled: true}
	private := &gatehouse.Repo{ID: 10, Owner: "alice", OwnerID: 1, Name: "secret", Private: true}
	public := &gatehouse.Repo{ID: 11, Owner: "alice", OwnerID: 1, Name: "open"}
	// An owner name alone proves nothing: the id must match too.
	spoof := &gatehouse.Repo{ID: 12, Owner: "bob", OwnerID: 1, Name: "x", Private: true}
	dkRead := &gatehouse.DeployKey{ID: 1, RepoID: 10}
	dkWrite := &gatehouse.DeployKey{ID: 2, RepoID: 10, Write: true}
	dkOther := &gatehouse.DeployKey{ID: 3, RepoID: 11, Write: true}

	const (
		R = gatehouse.OpRead
		W = gatehouse.OpWrite
		A = gatehouse.OpAdmin
	)
	type want struct {
		level  gatehouse.AccessLevel
		allow  bool
		create bool
	}
	tests := []struct {
		name  string
		facts gatehouse.AccessFacts
		op    gatehouse.Operation
		want  want
	}{
		{"owner reads private", facts(alice, private), R, want{gatehouse.AccessAdmin, true, false}},
		{"owner pushes", facts(alice, private), W, want{gatehouse.AccessAdmin, true, false}},
		{"owner administers", facts(alice, private), A, want{gatehouse.AccessAdmin, true, false}},
		{"stranger on private", facts(bob, private), R, want{gatehouse.AccessNone, false, false}},
		{"stranger reads public", facts(bob, public), R, want{gatehouse.AccessRead, true, false}},
		{"stranger pushes public", facts(bob, public), W, want{gatehouse.AccessRead, false, false}},
		{"read collaborator", grant(facts(bob, private), gatehouse.AccessRead), R, want{gatehouse.AccessRead, true, false}},
		{"read collaborator pushes", grant(facts(bob, private), gatehouse.AccessRead), W, want{gatehouse.AccessRead, false, false}},
		{"write collaborator pushes", grant(facts(bob, private), gatehouse.AccessWrite), W, want{gatehouse.AccessWrite, true, false}},
		{"write collaborator administers", grant(facts(bob, private), gatehouse.AccessWrite), A, want{gatehouse.AccessWrite, false, false}},
		{"admin collaborator", grant(facts(bob, private), gatehouse.AccessAdmin), A, want{gatehouse.AccessAdmin, true, false}},
		{"grant out of range", grant(facts(bob, private), gatehouse.AccessAdmin+1), R, want{gatehouse.AccessNone, false, false}},
		{"negative grant", grant(facts(bob, private), -1), R, want{gatehouse.AccessNone, false, false}},
		{"site admin", facts(root, private), A, want{gatehouse.AccessAdmin, true, false}},
		{"disabled user with grant", grant(facts(gone, private), gatehouse.AccessAdmin), R, want{gatehouse.AccessNone, false, false}},
		{"disabled user on public", facts(gone, public), R, want{gatehouse.AccessNone, false, false}},
		{"disabled site admin", facts(goneAdmin, private), R, want{gatehouse.AccessNone, false, false}},
		{"owner name without id", facts(bob, spoof), R, want{gatehouse.AccessNone, false, false}},
		{"anonymous public, anon-read", anon(public, true), R, want{gatehouse.AccessRead, true, false}},
		{"anonymous public, no anon-read", anon(public, false), R, want{gatehouse.AccessNone, false, false}},
		{"anonymous private, anon-read", anon(private, true), R, want{gatehouse.AccessNone, false, false}},
		{"anonymous pushes public", anon(public, true), W, want{gatehouse.AccessRead, false, false}},
		{"deploy key reads", deploy(dkRead, private), R, want{gatehouse.AccessRead, true, false}},
		{"read deploy key pushes", deploy(dkRead, private), W, want{gatehouse.AccessRead, false, false}},
		{"write deploy key pushes", deploy(dkWrite, private), W, want{gatehouse.AccessWrite, true, false}},
		{"deploy key of another repo", deploy(dkOther, private), R, want{gatehouse.AccessNone, false, false}},
		{"deploy key on public repo elsewhere", deploy(dkRead, public), R, want{gatehouse.AccessNone, false, false}},
		{"user and deploy key at once", gatehouse.AccessFacts{Actor: gatehouse.Actor{User: alice, DeployKey: dkWrite}, Owner: "alice", Repo: private}, R, want{gatehouse.AccessNone, false, false}},
		{"create in own namespace", missing(alice, "alice"), W, want{gatehouse.AccessAdmin, true, true}},
		{"read missing in own namespace", missing(alice, "alice"), R, want{gatehouse.AccessNone, false, false}},
		{"create elsewhere", missing(bob, "alice"), W, want{gatehouse.AccessNone, false, false}},
		{"site admin creates elsewhere", missing(root, "alice"), W, want{gatehouse.AccessNone, false, false}},
		{"disabled user creates", missing(gone, "gone"), W, want{gatehouse.AccessNone, false, false}},
		{"anonymous creates", gatehouse.AccessFacts{Owner: "alice", AnonRead: true}, W, want{gatehouse.AccessNone, false, false}},
		{"deploy key creates", gatehouse.AccessFacts{Actor: gatehouse.Actor{DeployKey: dkWrite}, Owner: "alice"}, W, want{gatehouse.AccessNone, false, false}},
		{"create under a bad owner name", missing(&gatehouse.User{ID: 9, Name: "Bad/.."}, "Bad/.."), W, want{gatehouse.AccessNone, false, false}},
		{"create on purpose in own namespace", missing(alice, "alice"), gatehouse.OpCreate, want{gatehouse.AccessAdmin, true, true}},
		{"create on purpose elsewhere", missing(bob, "alice"), gatehouse.OpCreate, want{gatehouse.AccessNone, false, false}},
		{"site admin creates on purpose elsewhere", missing(root, "alice"), gatehouse.OpCreate, want{gatehouse.AccessAdmin, true, true}},
		{"disabled site admin creates on purpose", missing(goneAdmin, "alice"), gatehouse.OpCreate, want{gatehouse.AccessNone, false, false}},
		{"deploy key creates on purpose", gatehouse.AccessFacts{Actor: gatehouse.Actor{DeployKey: dkWrite}, Owner: "alice"}, gatehouse.OpCreate, want{gatehouse.AccessNone, false, false}},
		{"create existing as owner", facts(alice, private), gatehouse.OpCreate, want{gatehouse.AccessAdmin, true, false}},
		{"create existing as writer", grant(facts(bob, private), gatehouse.AccessWrite), gatehouse.OpCreate, want{gatehouse.AccessWrite, false, false}},
		{"unknown operation", facts(root, private), gatehouse.Operation(99), want{gatehouse.AccessAdmin, false, false}},
		{"zero operation", facts(alice, private), 0, want{gatehouse.AccessAdmin, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := gatehouse.Decide(tt.facts, tt.op)
			got := want{d.Level, d.Allow, d.Create}
			if got != tt.want {
				t.Fatalf("Decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func facts(u *gatehouse.User, r *gatehouse.Repo) gatehouse.AccessFacts {
	return gatehouse.AccessFacts{Actor: gatehouse.Actor{User: u}, Owner: r.Owner, Repo: r}
}

func grant(f gatehouse.AccessFacts, l gatehouse.AccessLevel) gatehouse.AccessFacts {
	f.Grant = l
	return f
}

func anon(r *gatehouse.Repo, anonRead bool) gatehouse.AccessFacts {
	return gatehouse.AccessFacts{Owner: r.Owner, Repo: r, AnonRead: anonRead}
}

func deploy(k *gatehouse.DeployKey, r *gatehouse.Repo) gatehouse.AccessFacts {
	return gatehouse.AccessFacts{Actor: gatehouse.Actor{DeployKey: k}, Owner: r.Owner, Repo: r}
}

func missing(u *gatehouse.User, owner string) gatehouse.AccessFacts {
	return gatehouse.AccessFacts{Actor: gatehouse.Actor{User: u}, Owner: owner}
}

// TestDecideOrg covers organizations and teams: each path that grants
// access, and the same facts with it removed.
func TestDecideOrg(t *testing.T) {
	dave := &gatehouse.User{ID: 1, Name: "dave"}
	root := &gatehouse.User{ID: 3, Name: "root", Admin: true}
	gone := &gatehouse.User{ID: 4, Name: "gone", Disabled: true}
	// acme (id 20) owns both repositories.
	private := &gatehouse.Repo{ID: 10, Owner: "acme", OwnerID: 20, Name: "api", Private: true}
	public := &gatehouse.Repo{ID: 11, Owner: "acme", OwnerID: 20, Name: "www"}
	dk := &gatehouse.DeployKey{ID: 1, RepoID: 10}
	org := func(role gatehouse.OrgRole, def gatehouse.AccessLevel) *gatehouse.OrgFacts {
		return &gatehouse.OrgFacts{ID: 20, Role: role, DefaultLevel: def}
	}
	on := func(u *gatehouse.User, r *gatehouse.Repo, o *gatehouse.OrgFacts, teams ...gatehouse.AccessLevel) gatehouse.AccessFacts {
		f := facts(u, r)
		f.Org, f.TeamGrants = o, teams
		return f
	}
	create := func(u *gatehouse.User, o *gatehouse.OrgFacts) gatehouse.AccessFacts {
		f := missing(u, "acme")
		f.Org = o
		return f
	}
	const (
		N  = gatehouse.AccessNone
		Rd = gatehouse.AccessRead
		Wr = gatehouse.AccessWrite
		Ad = gatehouse.AccessAdmin
		R  = gatehouse.OpRead
		W  = gatehouse.OpWrite
		A  = gatehouse.OpAdmin
	)
	type want struct {
		level  gatehouse.AccessLevel
		allow  bool
		create bool
	}
	tests := []struct {
		name  string
		facts gatehouse.AccessFacts
		op    gatehouse.Operation
		want  want
	}{
		{"org admin administers", on(dave, private, org(gatehouse.RoleAdmin, N)), A, want{Ad, true, false}},
		{"org admin removed", on(dave, private, org(gatehouse.RoleNone, Rd)), R, want{N, false, false}},
		{"org member, default read, reads", on(dave, private, org(gatehouse.RoleMember, Rd)), R, want{Rd, true, false}},
		{"org member, default read, pushes", on(dave, private, org(gatehouse.RoleMember, Rd)), W, want{Rd, false, false}},
		{"org member, default none", on(dave, private, org(gatehouse.RoleMember, N)), R, want{N, false, false}},
		{"org member removed", on(dave, private, org(gatehouse.RoleNone, Rd)), R, want{N, false, false}},
		{"org default out of range", on(dave, private, org(gatehouse.RoleMember, Ad)), R, want{N, false, false}},
		{"unknown role", on(dave, private, org("owner", Rd)), R, want{N, false, false}},
		{"org facts of another owner", on(dave, private, &gatehouse.OrgFacts{ID: 21, Role: gatehouse.RoleAdmin}), R, want{N, false, false}},
		{"org facts without id", on(dave, private, &gatehouse.OrgFacts{Role: gatehouse.RoleAdmin}), R, want{N, false, false}},
		{"team read", on(dave, private, org(gatehouse.RoleMember, N), Rd), R, want{Rd, true, false}},
		{"team read pushes", on(dave, private, org(gatehouse.RoleMember, N), Rd), W, want{Rd, false, false}},
		{"team write pushes", on(dave, private, org(gatehouse.RoleMember, N), Wr), W, want{Wr, true, false}},
		{"team admin administers", on(dave, private, org(gatehouse.RoleMember, N), Ad), A, want{Ad, true, false}},
		{"removed from team", on(dave, private, org(gatehouse.RoleMember, N)), R, want{N, false, false}},
		{"highest of two teams", on(dave, private, nil, Rd, Wr), W, want{Wr, true, false}},
		{"team grant out of range", on(dave, private, nil, Ad+1), R, want{N, false, false}},
		{"team grant negative", on(dave, private, nil, -1), R, want{N, false, false}},
		{"team beats org default", on(dave, private, org(gatehouse.RoleMember, Rd), Wr), W, want{Wr, true, false}},
		{"direct grant beats org default", grant(on(dave, private, org(gatehouse.RoleMember, Rd)), Wr), W, want{Wr, true, false}},
		{"org admin beats read grant", grant(on(dave, private, org(gatehouse.RoleAdmin, N), Rd), Rd), A, want{Ad, true, false}},
		{"public org repo, non-member", on(dave, public, org(gatehouse.RoleNone, N)), R, want{Rd, true, false}},
		{"public org repo, default none member", on(dave, public, org(gatehouse.RoleMember, N)), R, want{Rd, true, false}},
		{"site admin, non-member", on(root, private, org(gatehouse.RoleNone, N)), A, want{Ad, true, false}},
		{"disabled org admin", on(gone, private, org(gatehouse.RoleAdmin, Rd), Ad), R, want{N, false, false}},
		{"disabled on public org repo", on(gone, public, org(gatehouse.RoleMember, Rd)), R, want{N, false, false}},
		{"deploy key ignores org facts", gatehouse.AccessFacts{Actor: gatehouse.Actor{DeployKey: dk}, Owner: "acme", Repo: private,
			Org: org(gatehouse.RoleAdmin, Rd), TeamGrants: []gatehouse.AccessLevel{Ad}}, W, want{Rd, false, false}},
		{"anonymous ignores org facts", gatehouse.AccessFacts{Owner: "acme", Repo: private, Org: org(gatehouse.RoleAdmin, Rd)}, R, want{N, false, false}},
		{"org admin creates", create(dave, org(gatehouse.RoleAdmin, Rd)), W, want{Ad, true, true}},
		{"org admin reads missing", create(dave, org(gatehouse.RoleAdmin, Rd)), R, want{N, false, false}},
		{"org member creates", create(dave, org(gatehouse.RoleMember, Rd)), W, want{N, false, false}},
		{"non-member creates", create(dave, org(gatehouse.RoleNone, Rd)), W, want{N, false, false}},
		{"site admin creates in org", create(root, org(gatehouse.RoleNone, Rd)), W, want{N, false, false}},
		{"disabled org admin creates", create(gone, org(gatehouse.RoleAdmin, Rd)), W, want{N, false, false}},
		// A user named like the org cannot exist, but if the facts say
		// the owner is an organization, the own-namespace rule is off.
		{"own-name rule off in an org", func() gatehouse.AccessFacts {
			f := missing(&gatehouse.User{ID: 20, Name: "acme"}, "acme")
			f.Org = org(gatehouse.RoleNone, Rd)
			return f
		}(), W, want{N, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := gatehouse.Decide(tt.facts, tt.op)
			got := want{d.Level, d.Allow, d.Create}
			if got != tt.want {
				t.Fatalf("Decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestDecideOrgCombinations runs every combination of org role, org
// default, team grant, direct grant, visibility and disabled against the
// rule written out once more: the highest source wins, a disabled user
// gets nothing.
func TestDecideOrgCombinations(t *testing.T) {
	levels := []gatehouse.AccessLevel{gatehouse.AccessNone, gatehouse.AccessRead, gatehouse.AccessWrite, gatehouse.AccessAdmin}
	for _, role := range []gatehouse.OrgRole{gatehouse.RoleNone, gatehouse.RoleMember, gatehouse.RoleAdmin} {
		for _, def := range levels[:2] {
			for _, team := range levels {
				for _, direct := range levels {
					for _, priv := range []bool{true, false} {
						for _, disabled := range []bool{false, true} {
							u := &gatehouse.User{ID: 1, Name: "dave", Disabled: disabled}
							r := &gatehouse.Repo{ID: 10, Owner: "acme", OwnerID: 20, Name: "api", Private: priv}
							f := gatehouse.AccessFacts{Actor: gatehouse.Actor{User: u}, Owner: "acme", Repo: r, Grant: direct,
								Org: &gatehouse.OrgFacts{ID: 20, Role: role, DefaultLevel: def}}
							if team != gatehouse.AccessNone {
								f.TeamGrants = []gatehouse.AccessLevel{team}
							}
							want := max(team, direct)
							switch role {
							case gatehouse.RoleAdmin:
								want = gatehouse.AccessAdmin
							case gatehouse.RoleMember:
								want = max(want, def)
							}
							if !priv {
								want = max(want, gatehouse.AccessRead)
							}
							if disabled {
								want = gatehouse.AccessNone
							}
							for _, op := range []gatehouse.Operation{gatehouse.OpRead, gatehouse.OpWrite, gatehouse.OpAdmin} {
								d := gatehouse.Decide(f, op)
								if d.Level != want || d.Allow != (want >= op.Required()) || d.Create {
									t.Errorf("role=%q default=%s team=%s direct=%s private=%v disabled=%v op=%d: got %+v, want level %s",
										role, def, team, direct, priv, disabled, op, d, want)
								}
							}
						}
					}
				}
			}
		}
	}
}

func TestDecideOrgItself(t *testing.T) {
	u := &gatehouse.User{ID: 1, Name: "dave"}
	root := &gatehouse.User{ID: 2, Name: "root", Admin: true}
	gone := &gatehouse.User{ID: 3, Name: "gone", Admin: true, Disabled: true}
	for _, tt := range []struct {
		name string
		user *gatehouse.User
		role gatehouse.OrgRole
		want gatehouse.AccessLevel
	}{
		{"org admin", u, gatehouse.RoleAdmin, gatehouse.AccessAdmin},
		{"member", u, gatehouse.RoleMember, gatehouse.AccessRead},
		{"non-member", u, gatehouse.RoleNone, gatehouse.AccessNone},
		{"unknown role", u, "owner", gatehouse.AccessNone},
		{"site admin", root, gatehouse.RoleNone, gatehouse.AccessAdmin},
		{"disabled site admin and org admin", gone, gatehouse.RoleAdmin, gatehouse.AccessNone},
		{"no user", nil, gatehouse.RoleAdmin, gatehouse.AccessNone},
		{"user without id", &gatehouse.User{Name: "x"}, gatehouse.RoleAdmin, gatehouse.AccessNone},
	} {
		if got := gatehouse.DecideOrg(tt.user, tt.role); got != tt.want {
			t.Errorf("%s: DecideOrg = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestParseTeamRef(t *testing.T) {
	for _, tt := range []struct {
		in        string
		org, team string
		ok, err   bool
	}{
		{"@acme/devs", "acme", "devs", true, false},
		{"bob", "", "", false, false},
		{"@acme", "", "", true, true},
		{"@acme/devs/x", "", "", true, true},
		{"@Acme/devs", "", "", true, true},
		{"@../devs", "", "", true, true},
	} {
		org, team, ok, err := gatehouse.ParseTeamRef(tt.in, true)
		if org != tt.org || team != tt.team || ok != tt.ok || (err != nil) != tt.err {
			t.Errorf("ParseTeamRef(%q) = %q, %q, %v, %v", tt.in, org, team, ok, err)
		}
	}
}

func TestAccessLevelText(t *testing.T) {
	for _, s := range []string{"read", "write", "admin", "none"} {
		l, err := gatehouse.ParseAccessLevel(s)
		if err != nil || l.String() != s {
			t.Errorf("ParseAccessLevel(%q) = %v, %v", s, l, err)
		}
	}
	if _, err := gatehouse.ParseAccessLevel("owner"); err == nil {
		t.Error("ParseAccessLevel accepted owner")
	}
}

func TestDecideRef(t *testing.T) {
	alice := &gatehouse.User{ID: 1, Name: "alice"}
	carol := &gatehouse.User{ID: 2, Name: "carol"}
	root := &gatehouse.User{ID: 3, Name: "root", Admin: true}
	repo := &gatehouse.Repo{ID: 10, Owner: "alice", OwnerID: 1, Name: "r", Private: true}
	public := &gatehouse.Repo{ID: 11, Owner: "alice", OwnerID: 1, Name: "pub"}
	dkWrite := &gatehouse.DeployKey{ID: 1, RepoID: 10, Write: true}
	dkRead := &gatehouse.DeployKey{ID: 2, RepoID: 10}
	rules := []gatehouse.ProtectedBranch{{Pattern: "main"}, {Pattern: "release/*"}, {Pattern: "prod", AdminOnly: true}}

	const (
		old  = "1111111111111111111111111111111111111111"
		new  = "2222222222222222222222222222222222222222"
		zero = "0000000000000000000000000000000000000000"
	)
	update := func(ref string) gatehouse.RefUpdate { return gatehouse.RefUpdate{Name: ref, Old: old, New: new} }
	forced := func(ref string) gatehouse.RefUpdate {
		return gatehouse.RefUpdate{Name: ref, Old: old, New: new, Forced: true}
	}
	del := func(ref string) gatehouse.RefUpdate { return gatehouse.RefUpdate{Name: ref, Old: old, New: zero} }
	create := func(ref string) gatehouse.RefUpdate { return gatehouse.RefUpdate{Name: ref, Old: zero, New: new} }
	protect := func(f gatehouse.AccessFacts) gatehouse.AccessFacts { f.Protected = rules; return f }

	tests := []struct {
		name   string
		facts  gatehouse.AccessFacts
		update gatehouse.RefUpdate
		reason string // "" means allowed
	}{
		{"owner updates unprotected", protect(facts(alice, repo)), update("refs/heads/topic"), ""},
		{"owner force-pushes unprotected", protect(facts(alice, repo)), forced("refs/heads/topic"), ""},
		{"owner deletes unprotected", protect(facts(alice, repo)), del("refs/heads/topic"), ""},
		{"owner fast-forwards protected", protect(facts(alice, repo)), update("refs/heads/main"), ""},
		{"owner creates protected", protect(facts(alice, repo)), create("refs/heads/main"), ""},
		{"owner force-pushes protected", protect(facts(alice, repo)), forced("refs/heads/main"), gatehouse.RefReasonForce},
		{"owner deletes protected", protect(facts(alice, repo)), del("refs/heads/main"), gatehouse.RefReasonDelete},
		{"site admin force-pushes protected", protect(facts(root, repo)), forced("refs/heads/main"), gatehouse.RefReasonForce},
		{"glob matches one level", protect(facts(alice, repo)), forced("refs/heads/release/1.0"), gatehouse.RefReasonForce},
		{"glob does not cross slash", protect(facts(alice, repo)), forced("refs/heads/release/1.0/fix"), ""},
		{"pattern is not a prefix", protect(facts(alice, repo)), forced("refs/heads/mainline"), ""},
		{"tags are not branches", protect(facts(alice, repo)), forced("refs/tags/main"), ""},
		{"deletion wins over force", protect(facts(alice, repo)), gatehouse.RefUpdate{Name: "refs/heads/main", Old: old, New: zero, Forced: true}, gatehouse.RefReasonDelete},
		{"write collaborator fast-forwards protected", protect(grant(facts(carol, repo), gatehouse.AccessWrite)), update("refs/heads/main"), ""},
		{"write collaborator on admin-only", protect(grant(facts(carol, repo), gatehouse.AccessWrite)), update("refs/heads/prod"), gatehouse.RefReasonAdminOnly},
		{"admin collaborator on admin-only", protect(grant(facts(carol, repo), gatehouse.AccessAdmin)), update("refs/heads/prod"), ""},
		{"owner on admin-only", protect(facts(alice, repo)), update("refs/heads/prod"), ""},
		{"read collaborator", protect(grant(facts(carol, repo), gatehouse.AccessRead)), update("refs/heads/topic"), gatehouse.RefReasonNoAccess},
		{"known user on public", protect(facts(carol, public)), update("refs/heads/topic"), gatehouse.RefReasonNoAccess},
		{"write deploy key updates protected", protect(deploy(dkWrite, repo)), update("refs/heads/main"), ""},
		{"write deploy key force-pushes protected", protect(deploy(dkWrite, repo)), forced("refs/heads/main"), gatehouse.RefReasonForce},
		{"write deploy key on admin-only", protect(deploy(dkWrite, repo)), update("refs/heads/prod"), gatehouse.RefReasonAdminOnly},
		{"read deploy key", protect(deploy(dkRead, repo)), update("refs/heads/topic"), gatehouse.RefReasonNoAccess},
		{"deploy key of another repository", protect(deploy(dkWrite, public)), update("refs/heads/topic"), gatehouse.RefReasonNoAccess},
		{"anonymous", protect(anon(public, true)), update("refs/heads/topic"), gatehouse.RefReasonNoAccess},
		{"missing repository", protect(missing(alice, "alice")), update("refs/heads/topic"), gatehouse.RefReasonNoAccess},
		{"admin-only and plain both match", gatehouse.AccessFacts{Actor: gatehouse.Actor{User: carol}, Owner: "alice", Repo: repo, Grant: gatehouse.AccessWrite,
			Protected: []gatehouse.ProtectedBranch{{Pattern: "*"}, {Pattern: "main", AdminOnly: true}}}, update("refs/heads/main"), gatehouse.RefReasonAdminOnly},
		{"SHA-256 zero is a deletion", protect(facts(alice, repo)), gatehouse.RefUpdate{Name: "refs/heads/main", Old: old, New: zero + "000000000000000000000000"}, gatehouse.RefReasonDelete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := gatehouse.DecideRef(tt.facts, tt.update)
			if d.Allow != (tt.reason == "") || d.Reason != tt.reason {
				t.Fatalf("DecideRef = %+v, want reason %q", d, tt.reason)
			}
		})
	}
}

func TestNormalizeBranchPattern(t *testing.T) {
	tests := []struct {
		in, want string // want "" means refused
	}{
		{"main", "main"},
		{"refs/heads/main", "main"},
		{" release/* ", "release/*"},
		{"v[0-9]*", "v[0-9]*"},
		{"", ""},
		{"refs/heads/", ""},
		{"/main", ""},
		{"main/", ""},
		{"a//b", ""},
		{"a..b", ""},
		{"ma in", ""},
		{"main\x00", ""},
		{"x~1", ""},
		{"a:b", ""},
		{`a\b`, ""},
		{"[", ""},
		{"main.lock", ""},
		{"-x", ""},
		{"@{u}", ""},
		{strings.Repeat("a", 201), ""},
	}
	for _, tt := range tests {
		got, err := gatehouse.NormalizeBranchPattern(tt.in)
		if tt.want == "" {
			if !errors.Is(err, gatehouse.ErrInvalid) {
				t.Errorf("NormalizeBranchPattern(%q) = %q, %v; want ErrInvalid", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeBranchPattern(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestActorContext(t *testing.T) {
	if _, ok := gatehouse.ActorFromContext(context.Background()); ok {
		t.Fatal("empty context has an actor")
	}
	u := &gatehouse.User{ID: 1, Name: "alice"}
	a, ok := gatehouse.ActorFromContext(gatehouse.NewContextWithActor(context.Background(), gatehouse.Actor{User: u}))
	if !ok || a.User != u || a.Name() != "alice" {
		t.Fatalf("ActorFromContext = %+v, %v", a, ok)
	}
	dk := gatehouse.Actor{DeployKey: &gatehouse.DeployKey{Fingerprint: "SHA256:x"}}
	if dk.Name() != "deploy-key:SHA256:x" || (gatehouse.Actor{}).Name() != "" {
		t.Fatalf("Name: %q", dk.Name())
	}
}
