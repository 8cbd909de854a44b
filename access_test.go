package gatehouse_test

import (
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
