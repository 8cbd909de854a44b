package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// User signatures must be modern: an RSA key signs with rsa-sha2-256 or
// rsa-sha2-512, never SHA-1 (ssh-rsa), even when the client insists.
func TestUserAuthNoSHA1(t *testing.T) {
	s := MustRunMain(t)
	s.MustCLI("user", "add", "alice")
	path := filepath.Join(t.TempDir(), "id_rsa")
	run(t, "", "ssh-keygen", "-q", "-t", "rsa", "-b", "3072", "-N", "", "-C", "alice@example", "-f", path)
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	s.MustCLI("key", "add", "alice", strings.TrimSpace(string(pub)))
	k := &Key{Path: path}
	for _, tc := range []struct {
		algo string
		ok   bool
	}{
		{"ssh-rsa", false},
		{"rsa-sha2-256", true},
		{"rsa-sha2-512", true},
	} {
		stdout, stderr, code := s.SSH(k, []string{"-o", "PubkeyAcceptedAlgorithms=" + tc.algo}, "whoami")
		switch {
		case tc.ok && (code != 0 || strings.TrimSpace(stdout) != "alice"):
			t.Errorf("%s: exit %d, %q %q; want alice", tc.algo, code, stdout, stderr)
		case !tc.ok && (code != 255 || !strings.Contains(stderr, "Permission denied")):
			t.Errorf("%s: exit %d, %q %q; want permission denied", tc.algo, code, stdout, stderr)
		}
	}
}
