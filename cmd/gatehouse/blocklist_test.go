package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	main "gatehouse/cmd/gatehouse"
)

// A compromised key on the blocklist is refused at login, at once and
// without a restart, and at key add.
func TestAuditKeyBlocklist(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	bob := s.User("bob")
	if out, _, code := s.SSH(alice, nil, "whoami"); code != 0 || out != "alice\n" {
		t.Fatalf("before: %d %q", code, out)
	}
	leaked := NewKey(t)
	list := "# leaked in incident 42\n" + gossh.FingerprintSHA256(alice.Signer.PublicKey()) + "\n" + leaked.Public + "\n"
	if err := os.WriteFile(filepath.Join(s.Data, "key-blocklist"), []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := s.SSH(alice, nil, "whoami"); code == 0 || !strings.Contains(errOut, "Permission denied") {
		t.Fatalf("blocked key logged in: %d %q", code, errOut)
	}
	if out, _, code := s.SSH(bob, nil, "whoami"); code != 0 || out != "bob\n" {
		t.Fatalf("other key: %d %q", code, out)
	}
	for _, args := range [][]string{{"key", "add", "bob", leaked.Public}, {"repo", "create", "bob/r"}, {"deploy-key", "add", "bob/r", leaked.Public}} {
		out, err := s.CLI(args...)
		if args[0] == "repo" {
			continue
		}
		if err == nil || !strings.Contains(out, "is on the compromised-key blocklist") {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	if audit := s.MustCLI("audit"); !strings.Contains(audit, "key on the compromised-key blocklist") {
		t.Fatalf("audit:\n%s", audit)
	}
	// A configured list that is not there stops the server from starting.
	m := main.NewMain()
	m.Config.Data, m.Config.SSHAddr, m.Config.HTTPAddr = t.TempDir(), "127.0.0.1:0", ""
	m.Config.KeyBlocklist = filepath.Join(t.TempDir(), "missing")
	if err := m.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "key blocklist") {
		t.Fatalf("Run with a missing --key-blocklist: %v", err)
	}
	m.Close()
}

// A key added with --expires logs in until then, and not after.
func TestAuditKeyExpiry(t *testing.T) {
	s := MustRunMain(t)
	s.MustCLI("user", "add", "alice")
	k := NewKey(t)
	out := s.MustCLI("key", "add", "alice", k.Public, "--expires", "3s")
	if !strings.Contains(out, "expires") {
		t.Fatalf("key add said %q", out)
	}
	if out, _, code := s.SSH(k, nil, "whoami"); code != 0 || out != "alice\n" {
		t.Fatalf("before expiry: %d %q", code, out)
	}
	if out, err := s.CLI("key", "add", "alice", NewKey(t).Public, "--expires", "2000-01-01T00:00:00Z"); err == nil {
		t.Fatalf("expiry in the past accepted: %s", out)
	}
	waitFor(t, func() bool {
		_, _, code := s.SSH(k, nil, "whoami")
		return code != 0
	}, "key expiry")
	if audit := s.MustCLI("audit"); !strings.Contains(audit, "key expired") {
		t.Fatalf("audit:\n%s", audit)
	}
}
