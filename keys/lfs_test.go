package keys_test

import (
	"context"
	"errors"
	"testing"

	"gatehouse"
	"gatehouse/keys"
)

func testLFSLocks(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	MustCreateUser(t, db, "alice")
	r := MustCreateRepo(t, db, "alice", "r", true)
	other := MustCreateRepo(t, db, "alice", "other", true)
	s := keys.NewLFSLockStore(db)

	a, err := s.CreateLFSLock(ctx, &gatehouse.LFSLock{RepoID: r.ID, Path: "a.psd", Ref: "refs/heads/main", Owner: "alice"})
	if err != nil || a.ID == 0 || a.LockedAt.IsZero() {
		t.Fatalf("create: %+v, %v", a, err)
	}
	held, err := s.CreateLFSLock(ctx, &gatehouse.LFSLock{RepoID: r.ID, Path: "a.psd", Owner: "bob"})
	if !errors.Is(err, gatehouse.ErrConflict) || held == nil || held.ID != a.ID || held.Owner != "alice" {
		t.Fatalf("second lock on a path: %+v, %v; want alice's and ErrConflict", held, err)
	}
	if _, err := s.CreateLFSLock(ctx, &gatehouse.LFSLock{RepoID: other.ID, Path: "a.psd", Owner: "bob"}); err != nil {
		t.Fatalf("same path in another repository: %v", err)
	}
	if _, err := s.CreateLFSLock(ctx, &gatehouse.LFSLock{RepoID: r.ID, Owner: "bob"}); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Fatalf("no path: %v", err)
	}
	b, _ := s.CreateLFSLock(ctx, &gatehouse.LFSLock{RepoID: r.ID, Path: "b.psd", Ref: "refs/heads/dev", Owner: "alice"})
	c, _ := s.CreateLFSLock(ctx, &gatehouse.LFSLock{RepoID: r.ID, Path: "c.psd", Owner: "alice"})

	for _, tc := range []struct {
		name string
		f    gatehouse.LFSLockFilter
		want []int64
	}{
		{"all", gatehouse.LFSLockFilter{}, []int64{a.ID, b.ID, c.ID}},
		{"path", gatehouse.LFSLockFilter{Path: "b.psd"}, []int64{b.ID}},
		{"id", gatehouse.LFSLockFilter{ID: c.ID}, []int64{c.ID}},
		{"ref or none", gatehouse.LFSLockFilter{Ref: "refs/heads/main"}, []int64{a.ID, c.ID}},
		{"page", gatehouse.LFSLockFilter{After: b.ID, Limit: 1}, []int64{b.ID}},
	} {
		ls, err := s.FindLFSLocks(ctx, r.ID, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, l := range ls {
			got = append(got, l.ID)
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
	}

	if err := s.DeleteLFSLock(ctx, other.ID, a.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("delete through another repository: %v", err)
	}
	if err := s.DeleteLFSLock(ctx, r.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteLFSLock(ctx, r.ID, a.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// Removing the repository removes its locks.
	if err := keys.NewRepoStore(db).DeleteRepo(ctx, "alice", "r"); err != nil {
		t.Fatal(err)
	}
	if ls, err := s.FindLFSLocks(ctx, r.ID, gatehouse.LFSLockFilter{}); err != nil || len(ls) != 0 {
		t.Fatalf("locks of a removed repository: %v, %v", ls, err)
	}
}

func TestLFSLocks(t *testing.T) { eachDB(t, testLFSLocks) }
