package main_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	main "gatehouse/cmd/gatehouse"
)

// A flood of refused logins and of connections refused by a limit is
// audited once a minute per address, but the metrics count every one:
// sshd reports each to its observer at the refusal, not through the
// audit log.
func TestMetricsCountEveryRefusal(t *testing.T) {
	const held = 8
	s := MustRunMain(t, func(c *main.Config) {
		c.HTTPAddr = "127.0.0.1:0"
		c.MaxAuthFailures = -1 // no ban: every login reaches authentication
		// Room for the logins below, whose connections the server may
		// still be closing when the next one comes.
		c.MaxConnsPerAddr = held
	})
	base := "http://" + s.HTTP.ListenAddr().String()
	alice := s.User("alice")

	const logins, conns = 40, 20
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	stranger, _ := gossh.NewSignerFromKey(priv)
	for i := range logins {
		c, err := s.dialFrom("127.0.0.1", gossh.PublicKeys(stranger))
		if err == nil {
			c.Close()
			t.Fatalf("login %d with an unknown key worked", i)
		}
		if !strings.Contains(err.Error(), "unable to authenticate") {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	// From another address, held connections fill its budget; the rest
	// are refused before the handshake.
	for range held {
		c, err := s.dialFrom("127.0.0.2", gossh.PublicKeys(alice.Signer))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	for i := range conns {
		if c, err := s.dialFrom("127.0.0.2", gossh.PublicKeys(alice.Signer)); err == nil {
			c.Close()
			t.Fatalf("connection %d over the limit was let in", i)
		}
	}

	// The audit log kept only a few of them.
	audit := s.MustCLI("audit", "--limit", "1000")
	if n := strings.Count(audit, "login.refused"); n == 0 || n >= logins {
		t.Errorf("%d refused logins audited; want a few of %d", n, logins)
	}
	if n := strings.Count(audit, "conns-per-addr"); n == 0 || n >= conns {
		t.Errorf("%d refused connections audited; want a few of %d", n, conns)
	}

	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`gatehouse_ssh_auth_total{result="refused"} ` + strconv.Itoa(logins),
		`gatehouse_ssh_limit_refusals_total ` + strconv.Itoa(conns),
		`gatehouse_ssh_connections_total ` + strconv.Itoa(logins+held+conns),
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("audit:\n%s", audit)
	}
}
