package main_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// FIDO2 signature flags (openssh PROTOCOL.u2f).
const (
	flagUP = 0x01 // user present: the key was touched
	flagUV = 0x04 // user verified: PIN or biometric
)

// skKey is a software stand-in for a FIDO2 security key: an ed25519 key
// that signs as sk-ssh-ed25519@openssh.com does, with the flags and
// counter the test chooses.
type skKey struct {
	priv ed25519.PrivateKey
	pub  gossh.PublicKey
	// Line is the authorized_keys line (no options).
	Line string

	mu      sync.Mutex
	flags   byte
	counter uint32
}

const skApplication = "ssh:"

func newSKKey(tb testing.TB) *skKey {
	tb.Helper()
	raw, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	blob := gossh.Marshal(struct {
		Type        string
		Key         []byte
		Application string
	}{gossh.KeyAlgoSKED25519, raw, skApplication})
	pub, err := gossh.ParsePublicKey(blob)
	if err != nil {
		tb.Fatal(err)
	}
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(pub))) + " sk@test"
	return &skKey{priv: priv, pub: pub, Line: line, flags: flagUP}
}

// Signer returns a signer whose signatures carry flags.
func (k *skKey) Signer(flags byte) gossh.Signer {
	return skSigner{k: k, flags: flags}
}

type skSigner struct {
	k     *skKey
	flags byte
}

func (s skSigner) PublicKey() gossh.PublicKey { return s.k.pub }

// Sign signs as a security key does: over the application's digest, the
// flags, the counter and the message's digest; the flags and counter
// travel after the signature.
func (s skSigner) Sign(_ io.Reader, data []byte) (*gossh.Signature, error) {
	s.k.mu.Lock()
	s.k.counter++
	counter := s.k.counter
	s.k.mu.Unlock()
	app := sha256.Sum256([]byte(skApplication))
	msg := sha256.Sum256(data)
	var fc [5]byte
	fc[0] = s.flags
	binary.BigEndian.PutUint32(fc[1:], counter)
	signed := append(append(append([]byte{}, app[:]...), fc[:]...), msg[:]...)
	return &gossh.Signature{
		Format: gossh.KeyAlgoSKED25519,
		Blob:   ed25519.Sign(s.k.priv, signed),
		Rest:   fc[:],
	}, nil
}

// loginOK reports whether signer logs in, with the error if not.
func loginOK(t *testing.T, s *Server, signer gossh.Signer) error {
	t.Helper()
	c, err := s.dial(t, gossh.PublicKeys(signer))
	if err != nil {
		return err
	}
	return c.Close()
}

// gitAs runs a Git command as signer with the Go client, sending only a
// flush (no wants, no updates), and returns what the client saw.
func gitAs(t *testing.T, s *Server, signer gossh.Signer, cmd string) (stdout, stderr string) {
	t.Helper()
	c, err := s.dial(t, gossh.PublicKeys(signer))
	if err != nil {
		t.Fatalf("%s: login: %v", cmd, err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var o, e bytes.Buffer
	sess.Stdin, sess.Stdout, sess.Stderr = strings.NewReader("0000"), &o, &e
	sess.Run(cmd)
	return o.String(), e.String()
}

// wantGit checks that cmd was served (a ref advertisement) or refused
// with refusal in its error.
func wantGit(t *testing.T, s *Server, signer gossh.Signer, cmd, refusal string) {
	t.Helper()
	out, errOut := gitAs(t, s, signer, cmd)
	if refusal == "" {
		if out == "" || strings.Contains(errOut, "ERROR") {
			t.Errorf("%s: not served: stdout %q stderr %q", cmd, out, errOut)
		}
		return
	}
	if out != "" || !strings.Contains(errOut, refusal) {
		t.Errorf("%s: stdout %q stderr %q, want refusal %q", cmd, out, errOut, refusal)
	}
}

// hasField reports whether a listing has f as a whole column value.
func hasField(listing, f string) bool {
	for _, line := range strings.Split(listing, "\n") {
		if slices.Contains(strings.Fields(line), f) {
			return true
		}
	}
	return false
}

func wantLogin(t *testing.T, s *Server, what string, signer gossh.Signer, ok bool) {
	t.Helper()
	err := loginOK(t, s, signer)
	if ok && err != nil {
		t.Errorf("%s: refused: %v", what, err)
	}
	if !ok && err == nil {
		t.Errorf("%s: logged in, want refused", what)
	}
}

// Security key signatures with each flag combination, against keys
// registered with and without no-touch-required and verify-required,
// under each site policy.
func TestKeyPolicySignatureFlags(t *testing.T) {
	s := MustRunMain(t)
	s.MustCLI("user", "add", "alice")
	plain, noTouch, verify := newSKKey(t), newSKKey(t), newSKKey(t)
	s.MustCLI("key", "add", "alice", plain.Line)
	s.MustCLI("key", "add", "alice", "no-touch-required "+noTouch.Line)
	s.MustCLI("key", "add", "alice", `verify-required,command="ignored" `+verify.Line)

	list := s.MustCLI("key", "list", "alice")
	for _, want := range []string{"sk", "sk,no-touch-required", "sk,verify-required"} {
		if !hasField(list, want) {
			t.Errorf("key list lacks %q:\n%s", want, list)
		}
	}
	if own, _ := gitAs(t, s, plain.Signer(flagUP), "keys list"); !hasField(own, "sk,no-touch-required") || !hasField(own, "sk,verify-required") {
		t.Errorf("ssh keys list lacks the kinds:\n%s", own)
	}

	type key struct {
		name string
		k    *skKey
	}
	keys := []key{{"plain", plain}, {"no-touch-required", noTouch}, {"verify-required", verify}}
	flagSets := []byte{0, flagUP, flagUV, flagUP | flagUV}
	// accept[policy][key] is the flags that log in.
	accept := map[string]map[string][]byte{
		"any":       {"plain": {flagUP, flagUP | flagUV}, "no-touch-required": flagSets, "verify-required": {flagUP, flagUP | flagUV}},
		"sk-only":   {"plain": {flagUP, flagUP | flagUV}, "no-touch-required": flagSets, "verify-required": {flagUP, flagUP | flagUV}},
		"sk-touch":  {"plain": {flagUP, flagUP | flagUV}, "verify-required": {flagUP, flagUP | flagUV}},
		"sk-verify": {"verify-required": {flagUP, flagUP | flagUV}},
	}
	for _, policy := range []string{"any", "sk-only", "sk-touch", "sk-verify"} {
		s.MustCLI("policy", "keys", policy)
		for _, k := range keys {
			for _, f := range flagSets {
				ok := bytes.IndexByte(accept[policy][k.name], f) >= 0
				wantLogin(t, s, fmt.Sprintf("policy %s, key %s, flags %#x", policy, k.name, f), k.k.Signer(f), ok)
			}
		}
	}
	wantAudit(t, s,
		"key policy sk-touch (site): this key is registered with no-touch-required",
		"key policy sk-verify (site): this key is not registered with verify-required",
		"key-policy.set")
}

// wantAudit checks that the audit log holds each of wants.
func wantAudit(t *testing.T, s *Server, wants ...string) {
	t.Helper()
	audit := s.MustCLI("audit", "--limit", "1000")
	for _, want := range wants {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %q", want)
		}
	}
}

// The real ssh client with an ordinary key under sk-only sees why it was
// refused.
func TestKeyPolicyRefusalMessage(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	s.MustCLI("policy", "keys", "sk-only")
	_, errOut, code := s.SSH(alice, nil, "whoami")
	want := "gatehouse: key policy sk-only (site): this key is ssh-ed25519; register a FIDO2 security key (sk-ssh-ed25519@openssh.com)"
	if code == 0 || !strings.Contains(errOut, want) {
		t.Fatalf("exit %d, stderr %q; want the refusal %q", code, errOut, want)
	}
	if audit := s.MustCLI("audit"); !strings.Contains(audit, "login.refused") || !strings.Contains(audit, want[len("gatehouse: "):]) {
		t.Errorf("audit log lacks the refusal:\n%s", audit)
	}
	// Back to any: the same key logs in.
	s.MustCLI("policy", "keys", "any")
	if out, errOut, code := s.SSH(alice, nil, "whoami"); code != 0 || strings.TrimSpace(out) != "alice" {
		t.Fatalf("under any: exit %d, %q %q", code, out, errOut)
	}
}

// Site, organization and user policies together: the strictest applies,
// the organization's at each operation on its repositories.
func TestKeyPolicyLevels(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	eve := s.User("eve")
	bob := s.User("bob")
	touch, noTouch, verify := newSKKey(t), newSKKey(t), newSKKey(t)
	s.MustCLI("key", "add", "alice", touch.Line)
	s.MustCLI("key", "add", "alice", "no-touch-required "+noTouch.Line)
	s.MustCLI("key", "add", "alice", "verify-required "+verify.Line)
	bobNoTouch := newSKKey(t)
	s.MustCLI("key", "add", "bob", "no-touch-required "+bobNoTouch.Line)
	s.MustCLI("org", "create", "acme")
	s.MustCLI("org", "member", "add", "acme", "alice", "member")
	s.MustCLI("repo", "create", "acme/api", "--private")
	s.MustCLI("repo", "create", "alice/own", "--private")
	const api, own = "git-upload-pack 'acme/api.git'", "git-upload-pack 'alice/own.git'"

	t.Run("organization", func(t *testing.T) {
		s.MustCLI("policy", "keys", "--org", "acme", "sk-only")
		wantGit(t, s, alice.Signer, api, "ERROR: key policy sk-only (org acme): this key is ssh-ed25519")
		wantGit(t, s, alice.Signer, own, "")
		wantGit(t, s, touch.Signer(flagUP), api, "")
		// Self-service on the organization's repositories too.
		if _, errOut, code := s.SSH(alice, nil, "repo info acme/api"); code == 0 || !strings.Contains(errOut, "key policy sk-only (org acme)") {
			t.Errorf("repo info with an ed25519 key: exit %d, %q", code, errOut)
		}
		// Who may not read the repository learns nothing of the policy.
		wantGit(t, s, eve.Signer, api, "ERROR: repository acme/api not found or access denied")
		// Nor does a push that would create a repository there.
		wantGit(t, s, alice.Signer, "git-receive-pack 'acme/new.git'", "ERROR: repository acme/new not found or access denied")
	})
	t.Run("user", func(t *testing.T) {
		s.MustCLI("policy", "keys", "--org", "acme", "any")
		s.MustCLI("policy", "keys", "--user", "alice", "sk-touch")
		wantLogin(t, s, "alice's ed25519 key", alice.Signer, false)
		wantLogin(t, s, "alice's no-touch key", noTouch.Signer(0), false)
		wantLogin(t, s, "alice's touch key", touch.Signer(flagUP), true)
		wantLogin(t, s, "bob's no-touch key", bobNoTouch.Signer(0), true)
		wantLogin(t, s, "bob's ed25519 key", bob.Signer, true)
	})
	t.Run("combined", func(t *testing.T) {
		// Site sk-only, alice sk-touch, acme sk-verify.
		s.MustCLI("policy", "keys", "sk-only")
		s.MustCLI("policy", "keys", "--org", "acme", "sk-verify")
		wantLogin(t, s, "bob's ed25519 key", bob.Signer, false)
		wantLogin(t, s, "bob's no-touch key", bobNoTouch.Signer(0), true)
		wantLogin(t, s, "alice's no-touch key", noTouch.Signer(flagUP), false)
		wantGit(t, s, touch.Signer(flagUP), own, "")
		wantGit(t, s, touch.Signer(flagUP), api, "ERROR: key policy sk-verify (org acme): this key is not registered with verify-required")
		wantGit(t, s, verify.Signer(flagUP|flagUV), api, "")
		// The user's policy is stricter than the site's here, and named.
		_, errOut, _ := s.SSH(alice, nil, "whoami")
		if !strings.Contains(errOut, "key policy sk-touch (user alice)") {
			t.Errorf("alice's ed25519 refusal: %q", errOut)
		}
	})
	wantAudit(t, s,
		"key policy sk-only (org acme): this key is ssh-ed25519",
		"key policy sk-verify (org acme)",
		"key policy sk-touch (user alice)",
		"key policy sk-only (site)",
		"org acme: sk-verify")
}

// Deploy keys meet the site's policy at login and the organization's at
// the operation; machines can be held to sk-only.
func TestKeyPolicyDeployKeys(t *testing.T) {
	s := MustRunMain(t)
	s.MustCLI("user", "add", "alice")
	s.MustCLI("org", "create", "acme")
	s.MustCLI("repo", "create", "acme/api", "--private")
	ci := NewKey(t)
	s.MustCLI("deploy-key", "add", "acme/api", ci.Public)
	sk, skNoTouch := newSKKey(t), newSKKey(t)
	s.MustCLI("deploy-key", "add", "acme/api", sk.Line, "--write")
	s.MustCLI("deploy-key", "add", "acme/api", "no-touch-required "+skNoTouch.Line)
	if l := s.MustCLI("deploy-key", "list", "acme/api"); !hasField(l, "sk,no-touch-required") || !hasField(l, "plain") {
		t.Errorf("deploy-key list does not show kinds:\n%s", l)
	}
	const fetch, push = "git-upload-pack 'acme/api.git'", "git-receive-pack 'acme/api.git'"

	s.MustCLI("policy", "keys", "sk-only")
	wantLogin(t, s, "ed25519 deploy key under site sk-only", ci.Signer, false)
	wantGit(t, s, sk.Signer(flagUP), push, "")
	// An unattended machine's key needs no touch, under sk-only.
	wantGit(t, s, skNoTouch.Signer(0), fetch, "")

	s.MustCLI("policy", "keys", "any")
	wantGit(t, s, ci.Signer, fetch, "")
	s.MustCLI("policy", "keys", "--org", "acme", "sk-only")
	wantGit(t, s, ci.Signer, fetch, "ERROR: key policy sk-only (org acme): this key is ssh-ed25519")
	s.MustCLI("policy", "keys", "--org", "acme", "sk-touch")
	wantGit(t, s, skNoTouch.Signer(0), fetch, "ERROR: key policy sk-touch (org acme): this key is registered with no-touch-required")
	wantGit(t, s, sk.Signer(flagUP), push, "")
	wantAudit(t, s, "deploy-key:", "key policy sk-only (org acme)")
}

// Policies over the API: site admins set the site's and users', an
// organization's admins theirs; others are refused.
func TestKeyPolicyAPI(t *testing.T) {
	s, base := MustRunWeb(t)
	s.MustCLI("user", "add", "root", "--admin")
	s.User("alice")
	s.User("carol")
	s.MustCLI("org", "create", "acme")
	s.MustCLI("org", "member", "add", "acme", "alice", "admin")
	s.MustCLI("org", "member", "add", "acme", "carol", "member")
	root := apiClient{t, base, s.Token("root")}
	alice := apiClient{t, base, s.Token("alice")}
	carol := apiClient{t, base, s.Token("carol")}

	var got struct {
		Policy string
		Scope  struct{ Kind, Name string }
	}
	root.want(http.StatusOK, "PUT", "/policies/keys", map[string]string{"policy": "sk-only"}, &got)
	if got.Policy != "sk-only" || got.Scope.Kind != "site" {
		t.Errorf("PUT site policy answered %+v", got)
	}
	alice.want(http.StatusForbidden, "PUT", "/policies/keys", map[string]string{"policy": "any"}, nil)
	root.want(http.StatusUnprocessableEntity, "PUT", "/policies/keys", map[string]string{"policy": "touch"}, nil)

	alice.want(http.StatusOK, "PUT", "/orgs/acme/policies/keys", map[string]string{"policy": "sk-touch"}, &got)
	carol.want(http.StatusOK, "GET", "/orgs/acme/policies/keys", nil, &got)
	if got.Policy != "sk-touch" || got.Scope.Kind != "org" || got.Scope.Name != "acme" {
		t.Errorf("GET org policy answered %+v", got)
	}
	carol.want(http.StatusForbidden, "PUT", "/orgs/acme/policies/keys", map[string]string{"policy": "any"}, nil)

	root.want(http.StatusOK, "PUT", "/users/carol/policies/keys", map[string]string{"policy": "sk-verify"}, nil)
	carol.want(http.StatusOK, "GET", "/users/carol/policies/keys", nil, &got)
	if got.Policy != "sk-verify" {
		t.Errorf("carol's policy %+v", got)
	}
	carol.want(http.StatusForbidden, "PUT", "/users/carol/policies/keys", map[string]string{"policy": "any"}, nil)
	alice.want(http.StatusNotFound, "GET", "/users/carol/policies/keys", nil, nil)

	var ks []struct{ Kind string }
	alice.want(http.StatusOK, "GET", "/users/alice/keys", nil, &ks)
	if len(ks) != 1 || ks[0].Kind != "plain" {
		t.Errorf("alice's keys over the API: %+v", ks)
	}
	if out := s.MustCLI("policy", "keys", "--user", "carol"); !strings.Contains(out, "sk-verify") {
		t.Errorf("CLI shows %q", out)
	}
}

// BenchmarkKeyPolicyLogin measures a whole x/crypto login (handshake,
// key check, signature) under each site policy, with a key that meets
// them all: the difference between policies is what the check costs.
func BenchmarkKeyPolicyLogin(b *testing.B) {
	s := MustRunMain(b)
	s.MustCLI("user", "add", "alice")
	k := newSKKey(b)
	s.MustCLI("key", "add", "alice", "verify-required "+k.Line)
	signer := k.Signer(flagUP | flagUV)
	cfg := &gossh.ClientConfig{User: "git", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second}
	for _, policy := range []string{"any", "sk-only", "sk-touch", "sk-verify"} {
		s.MustCLI("policy", "keys", policy)
		b.Run(policy, func(b *testing.B) {
			for b.Loop() {
				c, err := gossh.Dial("tcp", "127.0.0.1:"+s.Port, cfg)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}
