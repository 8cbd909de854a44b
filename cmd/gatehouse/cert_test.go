package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	main "gatehouse/cmd/gatehouse"
)

// certFor signs a fresh key with the CA key file ca, passing opts to
// ssh-keygen, and returns the key with its certificate beside it (where
// ssh -i finds it).
func certFor(t *testing.T, ca string, opts ...string) *Key {
	t.Helper()
	k := NewKey(t)
	if err := os.WriteFile(k.Path+".pub", []byte(k.Public+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-q", "-s", ca, "-I", "test"}, opts...)
	run(t, "", "ssh-keygen", append(args, k.Path+".pub")...)
	return k
}

func TestCertUserCertificates(t *testing.T) {
	dir := t.TempDir()
	ca, other := filepath.Join(dir, "ca"), filepath.Join(dir, "other")
	run(t, "", "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ca)
	run(t, "", "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other)
	revoked := filepath.Join(dir, "revoked")
	if err := os.WriteFile(revoked, []byte("# none yet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := MustRunMain(t, func(c *main.Config) {
		c.UserCA = []string{ca + ".pub"}
		c.RevokedCerts = revoked
		// Every refused certificate below is a failed login from 127.0.0.1.
		c.MaxAuthFailures = 1000
	})
	s.User("alice")
	s.User("dave")
	s.MustCLI("repo", "create", "alice/r")

	good := certFor(t, ca, "-n", "alice", "-V", "-5m:+1h", "-z", "7")
	t.Run("principal is the user", func(t *testing.T) {
		out, errOut, code := s.SSH(good, nil, "whoami")
		if code != 0 || out != "alice\n" {
			t.Fatalf("whoami: %d %q %q", code, out, errOut)
		}
		s.MustGit(good, "", "clone", s.URL("alice/r"), filepath.Join(t.TempDir(), "c"))
	})
	t.Run("source-address that matches", func(t *testing.T) {
		k := certFor(t, ca, "-n", "alice", "-O", "source-address=10.0.0.0/8,127.0.0.1")
		if out, _, code := s.SSH(k, nil, "whoami"); code != 0 || out != "alice\n" {
			t.Fatalf("whoami: %d %q", code, out)
		}
	})
	refused := map[string]*Key{
		"expired":                  certFor(t, ca, "-n", "alice", "-V", "-2h:-1h"),
		"not yet valid":            certFor(t, ca, "-n", "alice", "-V", "+1h:+2h"),
		"unknown principal":        certFor(t, ca, "-n", "nobody"),
		"two principals":           certFor(t, ca, "-n", "alice,dave"),
		"no principal":             certFor(t, ca),
		"force-command":            certFor(t, ca, "-n", "alice", "-O", "force-command=whoami"),
		"source-address elsewhere": certFor(t, ca, "-n", "alice", "-O", "source-address=10.0.0.0/8"),
		"untrusted CA":             certFor(t, other, "-n", "alice"),
	}
	for name, k := range refused {
		t.Run(name, func(t *testing.T) {
			if out, errOut, code := s.SSH(k, nil, "whoami"); code == 0 || !strings.Contains(errOut, "Permission denied") {
				t.Fatalf("refused certificate got in: %d %q %q", code, out, errOut)
			}
		})
	}
	t.Run("revoked serial, live", func(t *testing.T) {
		if err := os.WriteFile(revoked, []byte("serial 7\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, errOut, code := s.SSH(good, nil, "whoami"); code == 0 || !strings.Contains(errOut, "Permission denied") {
			t.Fatalf("revoked certificate got in: %d %q", code, errOut)
		}
	})
	t.Run("disabled user", func(t *testing.T) {
		k := certFor(t, ca, "-n", "dave")
		s.MustCLI("user", "disable", "dave")
		if _, errOut, code := s.SSH(k, nil, "whoami"); code == 0 || !strings.Contains(errOut, "Permission denied") {
			t.Fatalf("disabled user's certificate got in: %d %q", code, errOut)
		}
	})
	audit := s.MustCLI("audit", "--limit", "1000")
	for _, want := range []string{"certificate refused: cert has expired", "force-command, which is refused", "untrusted CA",
		"not valid from 127.0.0.1", "serial 7 revoked", "exactly one"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %q", want)
		}
	}
}
