package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"gatehouse/sshd"
)

// DefaultMaxReposPerUser bounds the repositories one owner may have.
const DefaultMaxReposPerUser = 1000

// limitFlags declares serve's limit flags on fs. Every limit has a
// default; a negative count turns that limit off.
func limitFlags(fs *flag.FlagSet, c *Config) {
	fs.DurationVar(&c.AuthTimeout, "auth-timeout", c.AuthTimeout, "time to finish the SSH handshake and authentication")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "close a connection after this long without traffic (moving data never counts as idle)")
	fs.IntVar(&c.MaxAuthTries, "max-auth-tries", c.MaxAuthTries, "keys one connection may try")
	fs.IntVar(&c.MaxAuthFailures, "max-auth-failures", c.MaxAuthFailures, "failed logins per address per minute before the address is refused")
	fs.DurationVar(&c.AuthBan, "auth-ban", c.AuthBan, "how long an address is refused after too many failed logins")
	fs.DurationVar(&c.AuthFailDelay, "auth-fail-delay", c.AuthFailDelay, "delay before answering each failed login past half of --max-auth-failures")
	fs.IntVar(&c.MaxConnsPerAddr, "max-conns-per-addr", c.MaxConnsPerAddr, "concurrent connections from one address")
	fs.IntVar(&c.MaxSessionsPerUser, "max-sessions-per-user", c.MaxSessionsPerUser, "concurrent sessions of one user or deploy key")
	fs.IntVar(&c.MaxSessions, "max-sessions", c.MaxSessions, "concurrent sessions in all")
	fs.IntVar(&c.MaxChannelsPerConn, "max-channels-per-conn", c.MaxChannelsPerConn, "session channels one connection may have open (more are rejected)")
	fs.IntVar(&c.MaxRefusalsPerConn, "max-refusals-per-conn", c.MaxRefusalsPerConn, "refused requests (channels, forwarding, env, pty) before the connection is closed")
	fs.StringVar(&c.KeyBlocklist, "key-blocklist", c.KeyBlocklist, "file of compromised key fingerprints refused at login and key add (default DATA/key-blocklist)")
	fs.Func("proxy-from", "load balancer network that sends a PROXY protocol v1/v2 header (repeatable)", func(v string) error {
		return appendCIDRs(&c.ProxyFrom, v)
	})
	fs.Func("user-ca", "file of trusted user certificate authority public keys (repeatable)", func(v string) error {
		c.UserCA = append(c.UserCA, v)
		return nil
	})
	fs.StringVar(&c.RevokedCerts, "revoked-certs", c.RevokedCerts, "file of revoked certificate serials (\"serial N\") and key fingerprints")
	fs.IntVar(&c.MaxReposPerUser, "max-repos-per-user", c.MaxReposPerUser, "repositories one owner may have (create on push and repo create)")
}

// checkLimits refuses durations that would make the server unusable.
func checkLimits(c *Config) error {
	for name, d := range map[string]time.Duration{"auth-timeout": c.AuthTimeout, "idle-timeout": c.IdleTimeout, "auth-ban": c.AuthBan, "auth-fail-delay": c.AuthFailDelay} {
		if d <= 0 {
			return fmt.Errorf("--%s must be positive", name)
		}
	}
	return nil
}

// appendCIDRs adds the comma-separated networks in v to *ps.
func appendCIDRs(ps *[]netip.Prefix, v string) error {
	for _, part := range strings.Split(v, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(part))
		if err != nil {
			return fmt.Errorf("bad CIDR %q", part)
		}
		*ps = append(*ps, p.Masked())
	}
	return nil
}

// loadCertConfig reads --user-ca and --revoked-certs. Every CA file must
// hold at least one plain public key; a certificate as a CA is refused.
func loadCertConfig(c *Config) ([]gossh.PublicKey, *sshd.RevocationList, error) {
	var cas []gossh.PublicKey
	for _, path := range c.UserCA {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("--user-ca: %w", err)
		}
		n := 0
		for rest := b; len(strings.TrimSpace(string(rest))) > 0; n++ {
			k, _, _, r, err := gossh.ParseAuthorizedKey(rest)
			if err != nil {
				if n == 0 {
					return nil, nil, fmt.Errorf("--user-ca %s: no public key in it", path)
				}
				break
			}
			if _, ok := k.(*gossh.Certificate); ok {
				return nil, nil, fmt.Errorf("--user-ca %s: a certificate cannot be a CA", path)
			}
			cas = append(cas, k)
			rest = r
		}
	}
	if c.RevokedCerts == "" {
		return cas, nil, nil
	}
	if len(cas) == 0 {
		return nil, nil, fmt.Errorf("--revoked-certs needs --user-ca")
	}
	rl, err := sshd.NewRevocationList(c.RevokedCerts)
	if err != nil {
		return nil, nil, err
	}
	return cas, rl, nil
}
