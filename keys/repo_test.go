package keys_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keys"
)

func testRepoStore_CreateRepo(t *testing.T) {
	db := MustOpenDB(t)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	rs := keys.NewRepoStore(db)
	ctx := context.Background()
	alice := MustCreateUser(t, db, "alice")

	r := &gatehouse.Repo{Owner: "alice", Name: "project", Private: true, Description: "a project"}
	if err := rs.CreateRepo(ctx, r); err != nil {
		t.Fatal(err)
	}
	if r.ID == 0 || r.OwnerID != alice.ID || r.DefaultBranch != "main" || !r.CreatedAt.Equal(now) || !r.UpdatedAt.Equal(now) {
		t.Fatalf("created %+v", r)
	}
	got, err := rs.FindRepo(ctx, "alice", "project")
	if err != nil {
		t.Fatal(err)
	}
	if *got != *r {
		t.Fatalf("found %+v\ncreated %+v", got, r)
	}

	for _, tt := range []struct {
		name string
		repo gatehouse.Repo
		want error
	}{
		{"duplicate", gatehouse.Repo{Owner: "alice", Name: "project"}, gatehouse.ErrConflict},
		{"unknown owner", gatehouse.Repo{Owner: "nobody", Name: "x"}, gatehouse.ErrNotFound},
		{"bad name", gatehouse.Repo{Owner: "alice", Name: "x.git"}, gatehouse.ErrInvalid},
		{"bad owner name", gatehouse.Repo{Owner: "Alice", Name: "x"}, gatehouse.ErrInvalid},
		{"bad branch", gatehouse.Repo{Owner: "alice", Name: "x", DefaultBranch: "a..b"}, gatehouse.ErrInvalid},
		{"branch with space", gatehouse.Repo{Owner: "alice", Name: "x", DefaultBranch: "my branch"}, gatehouse.ErrInvalid},
		{"long description", gatehouse.Repo{Owner: "alice", Name: "x", Description: strings.Repeat("d", 2000)}, gatehouse.ErrInvalid},
		{"other branch", gatehouse.Repo{Owner: "alice", Name: "trunk", DefaultBranch: "release/v1"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.repo
			if err := rs.CreateRepo(ctx, &r); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	err = rs.CreateRepo(ctx, &gatehouse.Repo{Owner: "alice", Name: "project"})
	if got, want := err.Error(), `repository "alice/project": already exists`; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	_, err = rs.FindRepo(ctx, "alice", "nothing")
	if got, want := err.Error(), `repository "alice/nothing": not found`; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}

func TestRepoStore_CreateRepo(t *testing.T) { eachDB(t, testRepoStore_CreateRepo) }

func testRepoStore_UpdateRenameDelete(t *testing.T) {
	db := MustOpenDB(t)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	rs := keys.NewRepoStore(db)
	ctx := context.Background()
	MustCreateUser(t, db, "alice")
	bob := MustCreateUser(t, db, "bob")
	MustCreateRepo(t, db, "alice", "project", false)
	MustCreateRepo(t, db, "bob", "taken", false)

	now = now.Add(time.Minute)
	yes, desc, branch := true, "new words", "trunk"
	r, err := rs.UpdateRepo(ctx, "alice", "project", gatehouse.RepoUpdate{Private: &yes, Description: &desc, DefaultBranch: &branch})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := rs.FindRepo(ctx, "alice", "project"); *got != *r || !r.Private || r.Description != desc ||
		r.DefaultBranch != branch || !r.UpdatedAt.Equal(now) || r.CreatedAt.Equal(now) {
		t.Fatalf("stored %+v\nreturned %+v", got, r)
	}
	bad := "-x"
	if _, err := rs.UpdateRepo(ctx, "alice", "project", gatehouse.RepoUpdate{DefaultBranch: &bad}); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Fatalf("bad branch: %v", err)
	}
	if _, err := rs.UpdateRepo(ctx, "alice", "nothing", gatehouse.RepoUpdate{}); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("update unknown: %v", err)
	}

	for _, tt := range []struct {
		name                      string
		owner, repo, toOwner, too string
		want                      error
	}{
		{"taken", "alice", "project", "bob", "taken", gatehouse.ErrConflict},
		{"unknown repo", "alice", "nothing", "alice", "x", gatehouse.ErrNotFound},
		{"unknown new owner", "alice", "project", "nobody", "x", gatehouse.ErrNotFound},
		{"bad new name", "alice", "project", "alice", "X", gatehouse.ErrInvalid},
		{"to bob", "alice", "project", "bob", "moved", nil},
	} {
		t.Run("rename "+tt.name, func(t *testing.T) {
			if _, err := rs.RenameRepo(ctx, tt.owner, tt.repo, tt.toOwner, tt.too); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	r, err = rs.FindRepo(ctx, "bob", "moved")
	if err != nil || r.OwnerID != bob.ID || r.Owner != "bob" {
		t.Fatalf("after rename: %+v, %v", r, err)
	}
	if _, err := rs.FindRepo(ctx, "alice", "project"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("old name: %v", err)
	}

	if err := rs.DeleteRepo(ctx, "bob", "moved"); err != nil {
		t.Fatal(err)
	}
	if err := rs.DeleteRepo(ctx, "bob", "moved"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestRepoStore_UpdateRenameDelete(t *testing.T) { eachDB(t, testRepoStore_UpdateRenameDelete) }

func testRepoStore_Collaborators(t *testing.T) {
	db := MustOpenDB(t)
	rs := keys.NewRepoStore(db)
	ctx := context.Background()
	MustCreateUser(t, db, "alice")
	MustCreateUser(t, db, "bob")
	MustCreateUser(t, db, "carol")
	MustCreateRepo(t, db, "alice", "project", true)

	for _, tt := range []struct {
		name, repo, user string
		level            gatehouse.AccessLevel
		want             error
	}{
		{"none", "project", "bob", gatehouse.AccessNone, gatehouse.ErrInvalid},
		{"out of range", "project", "bob", gatehouse.AccessAdmin + 1, gatehouse.ErrInvalid},
		{"negative", "project", "bob", -1, gatehouse.ErrInvalid},
		{"unknown user", "project", "nobody", gatehouse.AccessRead, gatehouse.ErrNotFound},
		{"unknown repo", "nothing", "bob", gatehouse.AccessRead, gatehouse.ErrNotFound},
		{"bob read", "project", "bob", gatehouse.AccessRead, nil},
		{"bob write replaces read", "project", "bob", gatehouse.AccessWrite, nil},
		{"carol admin", "project", "carol", gatehouse.AccessAdmin, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := rs.SetCollaborator(ctx, "alice", tt.repo, tt.user, tt.level); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	cs, err := rs.FindCollaborators(ctx, "alice", "project")
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || *cs[0] != (gatehouse.Collaborator{User: "bob", Level: gatehouse.AccessWrite}) ||
		*cs[1] != (gatehouse.Collaborator{User: "carol", Level: gatehouse.AccessAdmin}) {
		t.Fatalf("collaborators %+v", cs)
	}

	if err := rs.RemoveCollaborator(ctx, "alice", "project", "bob"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, repo, user string }{
		{"no grant", "project", "bob"},
		{"unknown user", "project", "nobody"},
		{"unknown repo", "nothing", "carol"},
	} {
		t.Run("remove "+tt.name, func(t *testing.T) {
			if err := rs.RemoveCollaborator(ctx, "alice", tt.repo, tt.user); !errors.Is(err, gatehouse.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		})
	}
	if _, err := rs.FindCollaborators(ctx, "alice", "nothing"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("FindCollaborators unknown repo: %v", err)
	}
}

func TestRepoStore_Collaborators(t *testing.T) { eachDB(t, testRepoStore_Collaborators) }

func testRepoStore_AccessFacts(t *testing.T) {
	db := MustOpenDB(t)
	rs := keys.NewRepoStore(db)
	ctx := context.Background()
	MustCreateUser(t, db, "alice")
	bob := MustCreateUser(t, db, "bob")
	carol := MustCreateUser(t, db, "carol")
	r := MustCreateRepo(t, db, "alice", "project", true)
	if err := rs.SetCollaborator(ctx, "alice", "project", "bob", gatehouse.AccessWrite); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name        string
		actor       gatehouse.Actor
		owner, repo string
		wantRepo    bool
		grant       gatehouse.AccessLevel
	}{
		{"collaborator", gatehouse.Actor{User: bob}, "alice", "project", true, gatehouse.AccessWrite},
		{"no grant", gatehouse.Actor{User: carol}, "alice", "project", true, gatehouse.AccessNone},
		{"anonymous", gatehouse.Actor{}, "alice", "project", true, gatehouse.AccessNone},
		{"missing repo", gatehouse.Actor{User: bob}, "alice", "nothing", false, gatehouse.AccessNone},
		{"missing owner", gatehouse.Actor{User: bob}, "nobody", "new", false, gatehouse.AccessNone},
		{"own new repo", gatehouse.Actor{User: bob}, "bob", "new", false, gatehouse.AccessNone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := rs.AccessFacts(ctx, tt.actor, tt.owner, tt.repo)
			if err != nil {
				t.Fatal(err)
			}
			if f.Owner != tt.owner || f.Grant != tt.grant || f.AnonRead || f.Actor != tt.actor {
				t.Errorf("facts %+v", f)
			}
			if (f.Repo != nil) != tt.wantRepo || (f.Repo != nil && f.Repo.ID != r.ID) {
				t.Errorf("repo %+v, want present=%v", f.Repo, tt.wantRepo)
			}
		})
	}

	// A lookup that fails is an error, never facts to judge.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if f, err := rs.AccessFacts(cctx, gatehouse.Actor{User: bob}, "alice", "project"); err == nil {
		t.Fatalf("cancelled lookup gave facts %+v", f)
	}
}

func TestRepoStore_AccessFacts(t *testing.T) { eachDB(t, testRepoStore_AccessFacts) }

func testRepoStore_FindRepos(t *testing.T) {
	db := MustOpenDB(t)
	rs := keys.NewRepoStore(db)
	us := keys.NewUserService(db)
	ctx := context.Background()
	alice := MustCreateUser(t, db, "alice")
	bob := MustCreateUser(t, db, "bob")
	carol := MustCreateUser(t, db, "carol")
	root := MustCreateUser(t, db, "root")
	dave := MustCreateUser(t, db, "dave")
	yes := true
	if _, err := us.UpdateUser(ctx, "root", gatehouse.UserUpdate{Admin: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := us.UpdateUser(ctx, "dave", gatehouse.UserUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	root.Admin, dave.Disabled = true, true

	MustCreateRepo(t, db, "alice", "public", false)
	MustCreateRepo(t, db, "alice", "secret", true)
	other := MustCreateRepo(t, db, "alice", "other", true)
	MustCreateRepo(t, db, "bob", "bobs", true)
	if err := rs.SetCollaborator(ctx, "alice", "secret", "bob", gatehouse.AccessRead); err != nil {
		t.Fatal(err)
	}
	if err := rs.SetCollaborator(ctx, "alice", "secret", "dave", gatehouse.AccessAdmin); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name   string
		filter gatehouse.RepoFilter
		want   string
	}{
		{"all", gatehouse.RepoFilter{}, "alice/other alice/public alice/secret bob/bobs"},
		{"by owner", gatehouse.RepoFilter{Owner: "bob"}, "bob/bobs"},
		{"unknown owner", gatehouse.RepoFilter{Owner: "nobody"}, ""},
		{"owner", gatehouse.RepoFilter{ReadableBy: &gatehouse.Actor{User: alice}}, "alice/other alice/public alice/secret"},
		{"collaborator", gatehouse.RepoFilter{ReadableBy: &gatehouse.Actor{User: bob}}, "alice/public alice/secret bob/bobs"},
		{"stranger sees public", gatehouse.RepoFilter{ReadableBy: &gatehouse.Actor{User: carol}}, "alice/public"},
		{"admin sees all", gatehouse.RepoFilter{ReadableBy: &gatehouse.Actor{User: root}}, "alice/other alice/public alice/secret bob/bobs"},
		{"disabled sees nothing", gatehouse.RepoFilter{ReadableBy: &gatehouse.Actor{User: dave}}, ""},
		{"anonymous without anon read", gatehouse.RepoFilter{ReadableBy: &gatehouse.Actor{}}, ""},
		{"deploy key", gatehouse.RepoFilter{ReadableBy: &gatehouse.Actor{DeployKey: &gatehouse.DeployKey{ID: 1, RepoID: other.ID}}}, "alice/other"},
		{"owner and readable", gatehouse.RepoFilter{Owner: "alice", ReadableBy: &gatehouse.Actor{User: bob}}, "alice/public alice/secret"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			repos, err := rs.FindRepos(ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range repos {
				names = append(names, r.FullName())
			}
			if got := strings.Join(names, " "); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRepoStore_FindRepos(t *testing.T) { eachDB(t, testRepoStore_FindRepos) }
