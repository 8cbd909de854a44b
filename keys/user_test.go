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

func testUserService_CreateUser(t *testing.T) {
	db := MustOpenDB(t)
	now := time.Date(2025, 3, 1, 12, 0, 0, 500, time.UTC)
	db.Now = func() time.Time { return now }
	s := keys.NewUserService(db)
	ctx := context.Background()

	u := &gatehouse.User{Name: "alice", Admin: true}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 || !u.CreatedAt.Equal(now) {
		t.Fatalf("ID %d CreatedAt %v; want an ID and %v", u.ID, u.CreatedAt, now)
	}
	got, err := s.FindUserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if *got != *u {
		t.Fatalf("found %+v, created %+v", got, u)
	}

	for _, tt := range []struct {
		name string
		user string
		want error
	}{
		{"duplicate", "alice", gatehouse.ErrConflict},
		{"empty", "", gatehouse.ErrInvalid},
		{"upper case", "Bob", gatehouse.ErrInvalid},
		{"path", "../bob", gatehouse.ErrInvalid},
		{"dot git", "bob.git", gatehouse.ErrInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CreateUser(ctx, &gatehouse.User{Name: tt.user})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if n, err := s.CountUsers(ctx); err != nil || n != 1 {
		t.Fatalf("CountUsers = %d, %v; want 1", n, err)
	}
}

func TestUserService_CreateUser(t *testing.T) { eachDB(t, testUserService_CreateUser) }

func testUserService_Messages(t *testing.T) {
	db := MustOpenDB(t)
	s := keys.NewUserService(db)
	ctx := context.Background()
	MustCreateUser(t, db, "bob")

	_, err := s.FindUserByName(ctx, "nobody")
	if got, want := err.Error(), `user "nobody": not found`; got != want {
		t.Errorf("not found: %q, want %q", got, want)
	}
	err = s.CreateUser(ctx, &gatehouse.User{Name: "bob"})
	if got, want := err.Error(), `user "bob": already exists`; got != want {
		t.Errorf("conflict: %q, want %q", got, want)
	}
}

func TestUserService_Messages(t *testing.T) { eachDB(t, testUserService_Messages) }

func testUserService_FindUsers(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	for _, n := range []string{"carol", "alice", "bob"} {
		MustCreateUser(t, db, n)
	}
	users, err := keys.NewUserService(db).FindUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Name)
	}
	if got := strings.Join(names, " "); got != "alice bob carol" {
		t.Fatalf("FindUsers = %s", got)
	}
}

func TestUserService_FindUsers(t *testing.T) { eachDB(t, testUserService_FindUsers) }

func testUserService_UpdateUser(t *testing.T) {
	db := MustOpenDB(t)
	s := keys.NewUserService(db)
	ctx := context.Background()
	MustCreateUser(t, db, "alice")

	yes := true
	u, err := s.UpdateUser(ctx, "alice", gatehouse.UserUpdate{Disabled: &yes})
	if err != nil {
		t.Fatal(err)
	}
	if !u.Disabled || u.Admin {
		t.Fatalf("after disabling: %+v", u)
	}
	u, err = s.UpdateUser(ctx, "alice", gatehouse.UserUpdate{Admin: &yes})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FindUserByName(ctx, "alice"); *got != *u || !got.Admin || !got.Disabled {
		t.Fatalf("stored %+v, returned %+v", got, u)
	}
	if _, err := s.UpdateUser(ctx, "nobody", gatehouse.UserUpdate{Admin: &yes}); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("update unknown: %v, want ErrNotFound", err)
	}
}

func TestUserService_UpdateUser(t *testing.T) { eachDB(t, testUserService_UpdateUser) }

func testUserService_DeleteUser(t *testing.T) {
	db := MustOpenDB(t)
	s := keys.NewUserService(db)
	ks := keys.NewKeyService(db)
	rs := keys.NewRepoStore(db)
	ctx := context.Background()
	MustCreateUser(t, db, "alice")
	MustCreateUser(t, db, "bob")
	line := ed25519Line(t)
	if _, err := ks.AddKey(ctx, "bob", line); err != nil {
		t.Fatal(err)
	}
	MustCreateRepo(t, db, "alice", "project", false)
	if err := rs.SetCollaborator(ctx, "alice", "project", "bob", gatehouse.AccessWrite); err != nil {
		t.Fatal(err)
	}

	// Refused while alice owns a repository; nothing changes.
	if err := s.DeleteUser(ctx, "alice"); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("delete owner: %v, want ErrConflict", err)
	}
	if _, err := s.FindUserByName(ctx, "alice"); err != nil {
		t.Fatal(err)
	}

	// bob's keys and grants go with him.
	if err := s.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.FindKeyByFingerprint(ctx, fingerprintOf(line)); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("bob's key: %v, want ErrNotFound", err)
	}
	if cs, err := rs.FindCollaborators(ctx, "alice", "project"); err != nil || len(cs) != 0 {
		t.Fatalf("collaborators after delete: %v, %v", cs, err)
	}
	// The key is free to be registered again.
	if _, err := ks.AddKey(ctx, "alice", line); err != nil {
		t.Fatal(err)
	}

	if err := s.DeleteUser(ctx, "bob"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("delete twice: %v, want ErrNotFound", err)
	}
	if err := rs.DeleteRepo(ctx, "alice", "project"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
}

func TestUserService_DeleteUser(t *testing.T) { eachDB(t, testUserService_DeleteUser) }
