package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// testAuthCtx is the little of an ssh.Context the key checks use: values
// and the one Permissions value gliderlabs keeps per connection.
type testAuthCtx struct {
	ssh.Context
	values map[any]any
	perms  *ssh.Permissions
}

func (c *testAuthCtx) Value(k any) any               { return c.values[k] }
func (c *testAuthCtx) SetValue(k, v any)             { c.values[k] = v }
func (c *testAuthCtx) Permissions() *ssh.Permissions { return c.perms }

func testPublicKey(t *testing.T) gossh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// x/crypto checks each key once (PublicKeyCallback) and verifies its
// signatures later with the Permissions as they are then. A client that
// asks about key B, then about a no-touch-required key A, then signs with
// B must not have B's signature checked under A's waiver.
func TestNoTouchFollowsTheKey(t *testing.T) {
	ctx := &testAuthCtx{values: map[any]any{}, perms: &ssh.Permissions{Permissions: &gossh.Permissions{}}}
	a, b := testPublicKey(t), testPublicKey(t)
	perms := ctx.perms.Permissions

	allowNoTouch(ctx, "") // B checked: touch required
	if !noTouchMatches(ctx, b, perms) {
		t.Fatal("B refused with no waiver set")
	}
	allowNoTouch(ctx, "")
	allowNoTouch(ctx, gossh.FingerprintSHA256(a)) // A checked: no-touch-required
	if _, ok := perms.Extensions[noTouchExtension]; !ok {
		t.Fatal("A's waiver not set")
	}
	if !noTouchMatches(ctx, a, perms) {
		t.Error("A refused under its own waiver")
	}
	if noTouchMatches(ctx, b, perms) {
		t.Error("B's signature accepted under A's waiver")
	}
	allowNoTouch(ctx, "") // another key checked: the waiver goes
	if _, ok := perms.Extensions[noTouchExtension]; ok || !noTouchMatches(ctx, b, perms) {
		t.Error("waiver kept after another key's check")
	}
}
