package keys_test

import (
	"context"
	"errors"
	"testing"

	"gatehouse"
	"gatehouse/keys"
)

func testDeployKeys(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	MustCreateUser(t, db, "alice")
	MustCreateRepo(t, db, "alice", "r", true)
	MustCreateRepo(t, db, "alice", "other", true)
	dks := keys.NewDeployKeyService(db)
	userKeys := keys.NewKeyService(db)

	line := ed25519Line(t) + " ci@build"
	k, err := dks.AddDeployKey(ctx, "alice", "r", line, true)
	if err != nil {
		t.Fatal(err)
	}
	if k.Repo != "alice/r" || !k.Write || k.Title != "ci@build" || k.Type != "ssh-ed25519" || k.Fingerprint != fingerprintOf(line) {
		t.Fatalf("added %+v", k)
	}

	t.Run("unique across repositories and users", func(t *testing.T) {
		if _, err := dks.AddDeployKey(ctx, "alice", "other", line, false); !errors.Is(err, gatehouse.ErrConflict) {
			t.Fatalf("same key on another repository: %v", err)
		}
		if _, err := userKeys.AddKey(ctx, "alice", line); !errors.Is(err, gatehouse.ErrConflict) {
			t.Fatalf("deploy key as user key: %v", err)
		}
		ul := ed25519Line(t)
		if _, err := userKeys.AddKey(ctx, "alice", ul); err != nil {
			t.Fatal(err)
		}
		if _, err := dks.AddDeployKey(ctx, "alice", "r", ul, false); !errors.Is(err, gatehouse.ErrConflict) {
			t.Fatalf("user key as deploy key: %v", err)
		}
	})
	t.Run("parsed like user keys", func(t *testing.T) {
		for name, text := range map[string]string{"dsa": dsaLine(t), "short rsa": rsaLine(t, 1024), "cert": certLine(t), "junk": "ssh-ed25519 AAAA"} {
			if _, err := dks.AddDeployKey(ctx, "alice", "r", text, false); !errors.Is(err, gatehouse.ErrInvalid) {
				t.Errorf("%s: %v", name, err)
			}
		}
		if _, err := dks.AddDeployKey(ctx, "alice", "nope", ed25519Line(t), false); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("unknown repository: %v", err)
		}
	})
	t.Run("find, touch, list, remove", func(t *testing.T) {
		got, err := dks.FindDeployKeyByFingerprint(ctx, k.Fingerprint)
		if err != nil || got.RepoID != k.RepoID || got.Repo != "alice/r" || got.LastUsedAt != nil {
			t.Fatalf("find: %+v, %v", got, err)
		}
		if err := dks.TouchDeployKey(ctx, k.Fingerprint); err != nil {
			t.Fatal(err)
		}
		ks, err := dks.FindDeployKeys(ctx, "alice", "r")
		if err != nil || len(ks) != 1 || ks[0].LastUsedAt == nil {
			t.Fatalf("list: %v, %v", ks, err)
		}
		if err := dks.RemoveDeployKey(ctx, "alice", "other", k.Fingerprint); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Fatalf("remove from the wrong repository: %v", err)
		}
		if err := dks.RemoveDeployKey(ctx, "alice", "r", k.Fingerprint); err != nil {
			t.Fatal(err)
		}
		if _, err := dks.FindDeployKeyByFingerprint(ctx, k.Fingerprint); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Fatalf("find removed: %v", err)
		}
		if err := dks.TouchDeployKey(ctx, k.Fingerprint); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Fatalf("touch removed: %v", err)
		}
	})
}

func TestDeployKeys(t *testing.T) { eachDB(t, testDeployKeys) }

func testProtectedBranches(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	MustCreateUser(t, db, "alice")
	MustCreateRepo(t, db, "alice", "r", true)
	ps := keys.NewProtectionService(db)

	if _, err := ps.AddProtectedBranch(ctx, "alice", "r", "refs/heads/main", false); err != nil {
		t.Fatal(err)
	}
	pb, err := ps.AddProtectedBranch(ctx, "alice", "r", "release/*", false)
	if err != nil || pb.Pattern != "release/*" || pb.AdminOnly || pb.CreatedAt.IsZero() {
		t.Fatalf("add: %+v, %v", pb, err)
	}
	// Adding again replaces the admin-only setting.
	if pb, err = ps.AddProtectedBranch(ctx, "alice", "r", "release/*", true); err != nil || !pb.AdminOnly {
		t.Fatalf("replace: %+v, %v", pb, err)
	}
	pbs, err := ps.FindProtectedBranches(ctx, "alice", "r")
	if err != nil || len(pbs) != 2 || pbs[0].Pattern != "main" || pbs[1].Pattern != "release/*" || !pbs[1].AdminOnly {
		t.Fatalf("list: %v, %v", pbs, err)
	}
	if _, err := ps.AddProtectedBranch(ctx, "alice", "r", "a..b", false); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Fatalf("bad pattern: %v", err)
	}
	if _, err := ps.AddProtectedBranch(ctx, "alice", "nope", "main", false); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("unknown repository: %v", err)
	}
	if err := ps.RemoveProtectedBranch(ctx, "alice", "r", "refs/heads/main"); err != nil {
		t.Fatal(err)
	}
	if err := ps.RemoveProtectedBranch(ctx, "alice", "r", "main"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("remove twice: %v", err)
	}
	// Deleting the repository takes its rules along.
	if err := keys.NewRepoStore(db).DeleteRepo(ctx, "alice", "r"); err != nil {
		t.Fatal(err)
	}
	MustCreateRepo(t, db, "alice", "r", true)
	if pbs, err := ps.FindProtectedBranches(ctx, "alice", "r"); err != nil || len(pbs) != 0 {
		t.Fatalf("rules outlived their repository: %v, %v", pbs, err)
	}
}

func TestProtectedBranches(t *testing.T) { eachDB(t, testProtectedBranches) }
