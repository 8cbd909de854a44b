package keys_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keys"
)

func testKeyService_AddKey(t *testing.T) {
	db := MustOpenDB(t)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	ks := keys.NewKeyService(db)
	ctx := context.Background()
	alice := MustCreateUser(t, db, "alice")
	MustCreateUser(t, db, "bob")

	ed := ed25519Line(t)
	k, err := ks.AddKey(ctx, "alice", `restrict,command="x" `+ed+" alice@laptop\n")
	if err != nil {
		t.Fatal(err)
	}
	want := gatehouse.PublicKey{
		ID: k.ID, UserID: alice.ID, UserName: "alice", Fingerprint: fingerprintOf(ed),
		Type: "ssh-ed25519", Bits: 256, Comment: "alice@laptop", Key: ed, CreatedAt: now, Kind: "plain",
	}
	if k.ID == 0 || *k != want {
		t.Fatalf("AddKey = %+v\nwant %+v", k, want)
	}

	for _, tt := range []struct {
		name, user, text string
		want             error
	}{
		{"same key again", "alice", ed, gatehouse.ErrConflict},
		{"same key other user", "bob", ed + " other comment", gatehouse.ErrConflict},
		{"unknown user", "nobody", ed25519Line(t), gatehouse.ErrNotFound},
		{"malformed", "bob", "ssh-ed25519 AAAA", gatehouse.ErrInvalid},
		{"dsa", "bob", dsaLine(t), gatehouse.ErrInvalid},
		{"rsa 1024", "bob", rsaLine(t, 1024), gatehouse.ErrInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ks.AddKey(ctx, tt.user, tt.text); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	_, err = ks.AddKey(ctx, "bob", ed)
	if got, want := err.Error(), "key "+fingerprintOf(ed)+": already exists"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}

	rsa := rsaLine(t, 2048)
	if k, err := ks.AddKey(ctx, "bob", rsa); err != nil || k.Bits != 2048 {
		t.Fatalf("rsa 2048: %+v, %v", k, err)
	}
}

func TestKeyService_AddKey(t *testing.T) { eachDB(t, testKeyService_AddKey) }

// A deploy key's fingerprint cannot become a user key. The deploy key
// table has no service yet, so the row is written directly.
func testKeyService_AddKey_DeployKeyConflict(t *testing.T) {
	d := freshDB(t)
	db := d.open(t)
	ctx := context.Background()
	MustCreateUser(t, db, "alice")
	r := MustCreateRepo(t, db, "alice", "project", false)
	line := ed25519Line(t)

	if _, err := d.raw(t).Exec(d.rebind(`INSERT INTO deploy_keys (repo_id, fingerprint, key, created_at) VALUES (?, ?, ?, ?)`),
		r.ID, fingerprintOf(line), line, "2025-01-01T00:00:00.000000000Z"); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.NewKeyService(db).AddKey(ctx, "alice", line); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("AddKey of a deploy key: %v, want ErrConflict", err)
	}
}

func TestKeyService_AddKey_DeployKeyConflict(t *testing.T) {
	eachDB(t, testKeyService_AddKey_DeployKeyConflict)
}

func testKeyService_FindRemoveTouch(t *testing.T) {
	db := MustOpenDB(t)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	ks := keys.NewKeyService(db)
	ctx := context.Background()
	MustCreateUser(t, db, "alice")
	MustCreateUser(t, db, "bob")

	var fps []string
	for range 3 {
		k, err := ks.AddKey(ctx, "alice", ed25519Line(t))
		if err != nil {
			t.Fatal(err)
		}
		fps = append(fps, k.Fingerprint)
	}

	list, err := ks.FindKeys(ctx, "alice")
	if err != nil || len(list) != 3 {
		t.Fatalf("FindKeys = %d keys, %v; want 3", len(list), err)
	}
	for i, k := range list {
		if k.Fingerprint != fps[i] || k.UserName != "alice" || k.LastUsedAt != nil {
			t.Errorf("key %d: %+v", i, k)
		}
	}
	if list, err := ks.FindKeys(ctx, "bob"); err != nil || len(list) != 0 {
		t.Fatalf("bob's keys: %v, %v", list, err)
	}
	if _, err := ks.FindKeys(ctx, "nobody"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("FindKeys unknown user: %v", err)
	}

	now = now.Add(time.Hour)
	if err := ks.TouchKey(ctx, fps[1]); err != nil {
		t.Fatal(err)
	}
	k, u, err := ks.FindKeyByFingerprint(ctx, fps[1])
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "alice" || u.ID != k.UserID || u.CreatedAt.IsZero() {
		t.Errorf("user %+v", u)
	}
	if k.LastUsedAt == nil || !k.LastUsedAt.Equal(now) {
		t.Errorf("LastUsedAt = %v, want %v", k.LastUsedAt, now)
	}
	if err := ks.TouchKey(ctx, "SHA256:nope"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("TouchKey unknown: %v", err)
	}
	if _, _, err := ks.FindKeyByFingerprint(ctx, "SHA256:nope"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("FindKeyByFingerprint unknown: %v", err)
	}

	for _, tt := range []struct {
		name, user, fp string
		want           error
	}{
		{"other user's key", "bob", fps[0], gatehouse.ErrNotFound},
		{"unknown user", "nobody", fps[0], gatehouse.ErrNotFound},
		{"unknown key", "alice", "SHA256:nope", gatehouse.ErrNotFound},
		{"own key", "alice", fps[0], nil},
		{"removed already", "alice", fps[0], gatehouse.ErrNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := ks.RemoveKey(ctx, tt.user, tt.fp); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if list, _ := ks.FindKeys(ctx, "alice"); len(list) != 2 {
		t.Fatalf("%d keys left, want 2", len(list))
	}
}

func TestKeyService_FindRemoveTouch(t *testing.T) { eachDB(t, testKeyService_FindRemoveTouch) }
