package keys_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keys"
)

func testKeyExpiry(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	MustCreateUser(t, db, "alice")
	ks := keys.NewKeyService(db)
	at := time.Now().Add(time.Hour).Truncate(time.Second)
	k, err := ks.AddExpiringKey(ctx, "alice", ed25519Line(t), &at)
	if err != nil || k.ExpiresAt == nil || !k.ExpiresAt.Equal(at) {
		t.Fatalf("add: %+v, %v", k, err)
	}
	got, _, err := ks.FindKeyByFingerprint(ctx, k.Fingerprint)
	if err != nil || got.ExpiresAt == nil || !got.ExpiresAt.Equal(at) || got.Expired(time.Now()) || !got.Expired(at) {
		t.Fatalf("find: %+v, %v", got, err)
	}
	plain, err := ks.AddKey(ctx, "alice", ed25519Line(t))
	if err != nil || plain.ExpiresAt != nil || plain.Expired(time.Now().Add(100*365*24*time.Hour)) {
		t.Fatalf("plain key: %+v, %v", plain, err)
	}
	past := time.Now().Add(-time.Minute)
	if _, err := ks.AddExpiringKey(ctx, "alice", ed25519Line(t), &past); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Fatalf("expiry in the past: %v", err)
	}
}

func TestKeyExpiry(t *testing.T) { eachDB(t, testKeyExpiry) }
