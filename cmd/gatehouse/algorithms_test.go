package main_test

import (
	"context"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	main "gatehouse/cmd/gatehouse"
)

// sshAudit runs the real ssh-audit (Debian's; .ci/run installs it)
// against the server and returns its output and exit status: 0 good,
// 2 warnings, 3 failures.
func sshAudit(t *testing.T, s *Server) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ssh-audit", "-n", "-p", s.Port, "127.0.0.1").CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("ssh-audit: %v\n%s", err, out)
	return "", 0
}

// The algorithm policy (SPEC 8): ssh-audit finds no failure, and warns
// only about algorithms newer than it knows and the non-ETM MACs kept
// for libssh2 1.10.
func TestAuditAlgorithms(t *testing.T) {
	if _, err := exec.LookPath("ssh-audit"); err != nil {
		t.Fatal("ssh-audit is not installed (.ci/run installs it)")
	}
	allowedWarn := regexp.MustCompile(`^\((kex|mac)\) (mlkem768x25519-sha256|kex-strict-s-v00@openssh\.com|hmac-sha2-256|hmac-sha2-512) +-- \[warn\] (unknown algorithm|using encrypt-and-MAC mode)$`)
	for _, compat := range []bool{true, false} {
		name := "default"
		if !compat {
			name = "no-compat-macs"
		}
		t.Run(name, func(t *testing.T) {
			s := MustRunMain(t, func(c *main.Config) { c.NoCompatMACs = !compat })
			out, code := sshAudit(t, s)
			t.Logf("ssh-audit exit %d\n%s", code, out)
			if code != 0 && code != 2 {
				t.Errorf("ssh-audit exit status %d (3 is failure)", code)
			}
			for _, line := range strings.Split(out, "\n") {
				line = strings.TrimSpace(line)
				switch {
				case strings.Contains(line, "[fail]"):
					t.Errorf("failure: %s", line)
				case strings.Contains(line, "[warn]") && !allowedWarn.MatchString(line):
					t.Errorf("unexpected warning: %s", line)
				case !compat && strings.HasPrefix(line, "(mac) hmac-sha2-") && !strings.Contains(line, "-etm@"):
					t.Errorf("--no-compat-macs still offers %s", line)
				}
			}
			want := []string{
				"(kex) mlkem768x25519-sha256", "(kex) curve25519-sha256 ", "(kex) diffie-hellman-group16-sha512",
				"(kex) diffie-hellman-group-exchange-sha256", "(key) ssh-ed25519", "(key) rsa-sha2-512 (3072-bit)",
				"(enc) chacha20-poly1305@openssh.com", "(enc) aes256-gcm@openssh.com", "(enc) aes128-ctr",
				"(mac) hmac-sha2-512-etm@openssh.com", "(mac) hmac-sha2-256-etm@openssh.com",
			}
			if compat {
				want = append(want, "(mac) hmac-sha2-256 ", "(mac) hmac-sha2-512 ")
			}
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("ssh-audit does not list %q", w)
				}
			}
			// SHA-1 host key signatures would show as "(key) ssh-rsa".
			if strings.Contains(out, "(key) ssh-rsa") {
				t.Error("ssh-rsa (SHA-1) host key signatures offered")
			}
		})
	}
}
