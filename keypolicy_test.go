package gatehouse_test

import (
	"errors"
	"strings"
	"testing"

	"gatehouse"
)

func TestParseKeyPolicy(t *testing.T) {
	for i, name := range []string{"any", "sk-only", "sk-touch", "sk-verify"} {
		p, err := gatehouse.ParseKeyPolicy(name)
		if err != nil || p != gatehouse.KeyPolicy(i) || p.String() != name {
			t.Errorf("ParseKeyPolicy(%q) = %v, %v", name, p, err)
		}
	}
	for _, bad := range []string{"", "SK-ONLY", "sk", "touch", "any "} {
		if _, err := gatehouse.ParseKeyPolicy(bad); !errors.Is(err, gatehouse.ErrInvalid) {
			t.Errorf("ParseKeyPolicy(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestStrictestKeyPolicy(t *testing.T) {
	site := gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeSite}
	org := gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeOrg, Name: "acme"}
	user := gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeUser, Name: "alice"}
	rule := func(p gatehouse.KeyPolicy, s gatehouse.KeyPolicyScope) gatehouse.KeyPolicyRule {
		return gatehouse.KeyPolicyRule{Policy: p, Scope: s}
	}
	for _, tt := range []struct {
		name  string
		rules []gatehouse.KeyPolicyRule
		want  string
	}{
		{"none", nil, "any (site)"},
		{"site only", []gatehouse.KeyPolicyRule{rule(gatehouse.KeyPolicySKOnly, site)}, "sk-only (site)"},
		{"user stricter", []gatehouse.KeyPolicyRule{rule(gatehouse.KeyPolicySKOnly, site), rule(gatehouse.KeyPolicySKVerify, user)}, "sk-verify (user alice)"},
		{"site stricter", []gatehouse.KeyPolicyRule{rule(gatehouse.KeyPolicySKTouch, site), rule(gatehouse.KeyPolicySKOnly, org), rule(gatehouse.KeyPolicyAny, user)}, "sk-touch (site)"},
		{"org in between", []gatehouse.KeyPolicyRule{rule(gatehouse.KeyPolicyAny, site), rule(gatehouse.KeyPolicySKTouch, org), rule(gatehouse.KeyPolicySKOnly, user)}, "sk-touch (org acme)"},
		{"tie names the wider scope", []gatehouse.KeyPolicyRule{rule(gatehouse.KeyPolicySKOnly, site), rule(gatehouse.KeyPolicySKOnly, user)}, "sk-only (site)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := gatehouse.StrictestKeyPolicy(tt.rules...).String(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCheckKeyPolicy(t *testing.T) {
	ed := gatehouse.KeyTraits{Type: "ssh-ed25519"}
	sk := gatehouse.KeyTraits{Type: gatehouse.KeyTypeSKEd25519}
	skECDSA := gatehouse.KeyTraits{Type: gatehouse.KeyTypeSKECDSA}
	noTouch := gatehouse.KeyTraits{Type: gatehouse.KeyTypeSKEd25519, NoTouchRequired: true}
	verify := gatehouse.KeyTraits{Type: gatehouse.KeyTypeSKEd25519, VerifyRequired: true}
	verifyNoTouch := gatehouse.KeyTraits{Type: gatehouse.KeyTypeSKECDSA, VerifyRequired: true, NoTouchRequired: true}
	certSK := gatehouse.KeyTraits{Type: gatehouse.KeyTypeSKEd25519, Certificate: true}
	certNoTouch := gatehouse.KeyTraits{Type: gatehouse.KeyTypeSKEd25519, Certificate: true, NoTouchRequired: true}
	certED := gatehouse.KeyTraits{Type: "ssh-ed25519", Certificate: true}
	site := gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeSite}
	for _, tt := range []struct {
		name   string
		policy gatehouse.KeyPolicy
		key    gatehouse.KeyTraits
		refuse string // part of the message; "" to accept
	}{
		{"any takes ed25519", gatehouse.KeyPolicyAny, ed, ""},
		{"any takes no-touch", gatehouse.KeyPolicyAny, noTouch, ""},
		{"sk-only refuses ed25519", gatehouse.KeyPolicySKOnly, ed, "key policy sk-only (site): this key is ssh-ed25519; register a FIDO2 security key (sk-ssh-ed25519@openssh.com)"},
		{"sk-only refuses an ed25519 certificate", gatehouse.KeyPolicySKOnly, certED, "certificate signs a ssh-ed25519 key"},
		{"sk-only takes sk", gatehouse.KeyPolicySKOnly, sk, ""},
		{"sk-only takes sk-ecdsa", gatehouse.KeyPolicySKOnly, skECDSA, ""},
		{"sk-only takes no-touch", gatehouse.KeyPolicySKOnly, noTouch, ""},
		{"sk-touch takes sk", gatehouse.KeyPolicySKTouch, sk, ""},
		{"sk-touch refuses no-touch", gatehouse.KeyPolicySKTouch, noTouch, "sk-touch (site): this key is registered with no-touch-required"},
		{"sk-touch refuses a no-touch certificate", gatehouse.KeyPolicySKTouch, certNoTouch, "no-touch-required extension"},
		{"sk-touch takes an sk certificate", gatehouse.KeyPolicySKTouch, certSK, ""},
		{"sk-touch refuses ed25519", gatehouse.KeyPolicySKTouch, ed, "this key is ssh-ed25519"},
		{"sk-verify refuses plain sk", gatehouse.KeyPolicySKVerify, sk, "sk-verify (site): this key is not registered with verify-required"},
		{"sk-verify takes verify-required", gatehouse.KeyPolicySKVerify, verify, ""},
		{"sk-verify refuses verify-required with no-touch", gatehouse.KeyPolicySKVerify, verifyNoTouch, "no-touch-required"},
		{"sk-verify refuses certificates", gatehouse.KeyPolicySKVerify, certSK, "certificates cannot state verify-required"},
		{"unknown policy refuses", gatehouse.KeyPolicy(9), verify, "unknown policy"},
		{"negative policy refuses", gatehouse.KeyPolicy(-1), verify, "unknown policy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := gatehouse.CheckKeyPolicy(gatehouse.KeyPolicyRule{Policy: tt.policy, Scope: site}, tt.key)
			switch {
			case tt.refuse == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.refuse == "":
			case err == nil:
				t.Fatalf("accepted, want %q", tt.refuse)
			case !strings.Contains(err.Error(), tt.refuse) || !errors.Is(err, gatehouse.ErrForbidden):
				t.Fatalf("error %q, want ErrForbidden with %q", err, tt.refuse)
			}
			var kpe *gatehouse.KeyPolicyError
			if err != nil && (!errors.As(err, &kpe) || kpe.Rule.Policy != tt.policy) {
				t.Errorf("error %#v is not a KeyPolicyError for the rule", err)
			}
		})
	}
}

func TestKeyKind(t *testing.T) {
	for _, tt := range []struct {
		key  gatehouse.KeyTraits
		want string
	}{
		{gatehouse.KeyTraits{Type: "ssh-rsa"}, "plain"},
		{gatehouse.KeyTraits{Type: "ssh-ed25519", NoTouchRequired: true}, "plain"},
		{gatehouse.KeyTraits{Type: gatehouse.KeyTypeSKECDSA}, "sk"},
		{gatehouse.KeyTraits{Type: gatehouse.KeyTypeSKEd25519, NoTouchRequired: true, VerifyRequired: true}, "sk,no-touch-required,verify-required"},
	} {
		if got := tt.key.KeyKind(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.key, got, tt.want)
		}
	}
}

// The organization's key policy applies on top of the level, and is named
// only to an actor who may know the repository.
func TestDecideOrgKeyPolicy(t *testing.T) {
	org := &gatehouse.OrgFacts{ID: 7, Role: gatehouse.RoleMember, DefaultLevel: gatehouse.AccessRead, KeyPolicy: gatehouse.KeyPolicySKOnly}
	private := &gatehouse.Repo{ID: 1, Owner: "acme", OwnerID: 7, Name: "api", Private: true}
	member := &gatehouse.User{ID: 2, Name: "alice"}
	stranger := &gatehouse.User{ID: 3, Name: "eve"}
	orgAdmin := &gatehouse.OrgFacts{ID: 7, Role: gatehouse.RoleAdmin, KeyPolicy: gatehouse.KeyPolicySKOnly}
	ed := &gatehouse.KeyTraits{Type: "ssh-ed25519"}
	sk := &gatehouse.KeyTraits{Type: gatehouse.KeyTypeSKEd25519}
	dk := &gatehouse.DeployKey{RepoID: 1, Write: true}
	for _, tt := range []struct {
		name      string
		f         gatehouse.AccessFacts
		op        gatehouse.Operation
		allow     bool
		named     bool
		createAny bool
	}{
		{"member with sk key reads", gatehouse.AccessFacts{Actor: gatehouse.Actor{User: member, Key: sk}, Owner: "acme", Repo: private, Org: org}, gatehouse.OpRead, true, false, false},
		{"member with ed25519 refused, rule named", gatehouse.AccessFacts{Actor: gatehouse.Actor{User: member, Key: ed}, Owner: "acme", Repo: private, Org: org}, gatehouse.OpRead, false, true, false},
		{"no key (API) unaffected", gatehouse.AccessFacts{Actor: gatehouse.Actor{User: member}, Owner: "acme", Repo: private, Org: org}, gatehouse.OpRead, true, false, false},
		{"stranger refused, rule not named", gatehouse.AccessFacts{Actor: gatehouse.Actor{User: stranger, Key: ed}, Owner: "acme", Repo: private, Org: &gatehouse.OrgFacts{ID: 7, KeyPolicy: gatehouse.KeyPolicySKOnly}}, gatehouse.OpRead, false, false, false},
		{"deploy key ed25519 refused", gatehouse.AccessFacts{Actor: gatehouse.Actor{DeployKey: dk, Key: ed}, Owner: "acme", Repo: private, Org: org}, gatehouse.OpWrite, false, true, false},
		{"deploy key sk pushes", gatehouse.AccessFacts{Actor: gatehouse.Actor{DeployKey: dk, Key: sk}, Owner: "acme", Repo: private, Org: org}, gatehouse.OpWrite, true, false, false},
		{"org admin create refused", gatehouse.AccessFacts{Actor: gatehouse.Actor{User: member, Key: ed}, Owner: "acme", Org: orgAdmin}, gatehouse.OpWrite, false, true, false},
		{"org admin create with sk", gatehouse.AccessFacts{Actor: gatehouse.Actor{User: member, Key: sk}, Owner: "acme", Org: orgAdmin}, gatehouse.OpWrite, true, false, true},
		{"user namespace unaffected", gatehouse.AccessFacts{Actor: gatehouse.Actor{User: member, Key: ed}, Owner: "alice", Repo: &gatehouse.Repo{ID: 2, Owner: "alice", OwnerID: 2, Name: "x"}}, gatehouse.OpWrite, true, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := gatehouse.Decide(tt.f, tt.op)
			if d.Allow != tt.allow || (d.KeyRefused != nil) != tt.named || d.Create != tt.createAny {
				t.Fatalf("Decide = %+v; want allow %v, rule named %v, create %v", d, tt.allow, tt.named, tt.createAny)
			}
			if tt.named && !strings.Contains(d.KeyRefused.Error(), "key policy sk-only (org acme)") {
				t.Errorf("refusal %q does not name the rule", d.KeyRefused)
			}
		})
	}
}
