package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strings"

	gossh "golang.org/x/crypto/ssh"

	"gatehouse"
	"gatehouse/metrics"
	"gatehouse/sshd"
	"gatehouse/web"
)

// webState is what Run sets up for the web panel across its steps.
type webState struct {
	metrics   *metrics.Metrics
	ln        net.Listener // the HTTP listener, open before sshd starts
	panelURL  string       // base URL for login links; "" without a panel
	adminLink bool         // first start without --admin-key: print a login link
}

// webFlags adds serve's web panel flags.
func webFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "base URL of the web panel in login links (default http://HTTP-ADDR)")
	fs.StringVar(&c.PublicHost, "public-host", c.PublicHost, "host name in the clone URLs the panel shows (default the SSH listen host, or localhost)")
}

// prepareWeb makes the metrics decorator of git, the Git service sshd is
// given, and opens the HTTP listener early: sshd's `login` command needs
// the panel's address, and with --http-addr 127.0.0.1:0 it is only known
// once bound.
func (m *Main) prepareWeb(git gatehouse.GitService) (gatehouse.GitService, error) {
	m.web.metrics = metrics.New()
	sshGit := m.web.metrics.Git(git)
	if m.Config.HTTPAddr == "" {
		return sshGit, nil
	}
	ln, err := net.Listen("tcp", m.Config.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("http listen: %w", err)
	}
	m.web.ln = ln
	m.web.panelURL = strings.TrimSuffix(m.Config.PublicURL, "/")
	if m.web.panelURL == "" {
		m.web.panelURL = "http://" + publicAddr(ln.Addr().String(), "")
	}
	return sshGit, nil
}

// openWeb starts the panel and API on the listener prepareWeb opened.
func (m *Main) openWeb(ctx context.Context, svc *services, hostKeys []gossh.Signer) error {
	if m.web.ln == nil {
		return nil
	}
	sshAddr := publicAddr(m.SSH.ListenAddr().String(), m.Config.PublicHost)
	var hks []web.HostKey
	for _, k := range sshd.DescribeHostKeys(hostKeys) {
		hks = append(hks, web.HostKey{Type: k.Type, Fingerprint: k.Fingerprint, KnownHosts: knownHostsLine(sshAddr, k.PublicKey)})
	}
	b, logins := svc.backend, svc.logins
	m.HTTP = &web.Server{
		Listener:   m.web.ln,
		Logger:     m.Logger.With("subsystem", "web"),
		Users:      b.Users,
		Keys:       b.Keys,
		Repos:      b.Repos,
		Audit:      b.Audit,
		Tokens:     b.Tokens,
		Logins:     logins,
		DeployKeys: b.DeployKeys,
		Protection: b.Protection,
		Orgs:       b.Orgs,
		Backend:    b,
		HostKeys:   hks,
		SSHAddr:    sshAddr,
		Metrics:    m.web.metrics.Handler(),
		Instrument: m.web.metrics.HTTP,
		Node:       m.Config.NodeName,
		Ping:       m.DB.Ping,
	}
	if err := m.HTTP.Open(); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "HTTP listening on %s (panel %s)\n", m.HTTP.ListenAddr(), m.web.panelURL)
	if m.web.adminLink {
		l, err := logins.CreateLoginLink(ctx, "admin")
		if err != nil {
			return fmt.Errorf("login link for admin: %w", err)
		}
		fmt.Fprintf(m.Stdout, "log in to the panel as admin (once, within %s): %s%s\n", gatehouse.LoginLinkTTL, m.web.panelURL, l.Path)
	}
	return nil
}

// publicAddr turns a listen address into one to show people: an
// unspecified host (":2222", "[::]:2222") becomes host, or localhost.
func publicAddr(listen, host string) string {
	h, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" {
		host = h
		if ip := net.ParseIP(h); h == "" || ip != nil && ip.IsUnspecified() {
			host = "localhost"
		}
	}
	return net.JoinHostPort(host, port)
}

// knownHostsLine is the known_hosts line for key at addr: OpenSSH writes
// a non-22 port as [host]:port.
func knownHostsLine(addr, key string) string {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && port != "22" {
		host = "[" + host + "]:" + port
	}
	return host + " " + key
}
