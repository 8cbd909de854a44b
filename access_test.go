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
