package main_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestKeyPolicyVerifyRequiredIsAnAdminsWord: the server cannot see the
// PIN flag of a signature, so sk-verify trusts a key's verify-required
// option. A user who could set that option on their own key would pass a
// site's sk-verify with a key that never asks for a PIN, that is, lower
// the site's policy for themselves. Only a site admin may register it;
// the same key without the option is the user's to add. Deploy keys
// alike.
func TestKeyPolicyVerifyRequiredIsAnAdminsWord(t *testing.T) {
	s, base := MustRunWeb(t)
	s.MustCLI("user", "add", "root", "--admin")
	alice := s.User("alice")
	aliceAPI := apiClient{t, base, s.Token("alice", "--scope", "admin")}
	root := apiClient{t, base, s.Token("root", "--scope", "admin")}

	overSSH, overAPI, byAdmin, plain := newSKKey(t), newSKKey(t), newSKKey(t), newSKKey(t)
	if _, errOut, rc := s.SSHIn(alice, "verify-required "+overSSH.Line, "keys add"); rc == 0 || !strings.Contains(errOut, "only a site admin may register a security key with verify-required") {
		t.Fatalf("keys add over SSH with verify-required: exit %d, %q", rc, errOut)
	}
	aliceAPI.want(http.StatusForbidden, "POST", "/users/alice/keys", map[string]string{"key": "Verify-Required " + overAPI.Line}, nil)
	aliceAPI.want(http.StatusCreated, "POST", "/users/alice/keys", map[string]string{"key": plain.Line}, nil)
	root.want(http.StatusCreated, "POST", "/users/alice/keys", map[string]string{"key": "verify-required " + byAdmin.Line}, nil)

	list := s.MustCLI("key", "list", "alice")
	for _, k := range []*skKey{overSSH, overAPI} {
		if strings.Contains(list, strings.Fields(k.Line)[1][:20]) {
			t.Errorf("a refused key was stored:\n%s", list)
		}
	}

	// The same for deploy keys: a repository's admin is not the site's.
	s.MustCLI("repo", "create", "alice/app")
	deploy := newSKKey(t)
	aliceAPI.want(http.StatusForbidden, "POST", "/repos/alice/app/deploy-keys", map[string]any{"key": "verify-required " + deploy.Line}, nil)
	root.want(http.StatusCreated, "POST", "/repos/alice/app/deploy-keys", map[string]any{"key": "verify-required " + deploy.Line}, nil)

	s.MustCLI("policy", "keys", "sk-verify")
	wantLogin(t, s, "self-labelled key", overSSH.Signer(flagUP), false)
	wantLogin(t, s, "key added by alice", plain.Signer(flagUP), false)
	wantLogin(t, s, "key an admin registered verify-required", byAdmin.Signer(flagUP|flagUV), true)
}
