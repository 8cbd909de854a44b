package sshd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"gatehouse"
)

// User certificates: a key signed by one of Server.UserCAs logs in as
// the user its single principal names, without the key being registered.
// The checks follow OpenSSH's for a user certificate, with Gatehouse's
// own rules: exactly one principal (no guessing which user is meant),
// source-address honoured, force-command refused (Gatehouse, not the
// certificate, decides what runs), no other critical option.

// checkCert is the login-time check of a certificate: it returns the user
// it names, or why it is refused (safe to log and audit).
func (s *Server) checkCert(ctx context.Context, cert *gossh.Certificate, remote net.Addr) (*gatehouse.User, error) {
	if cert.CertType != gossh.UserCert {
		return nil, errors.New("certificate is not a user certificate")
	}
	if !s.trustedCA(cert.SignatureKey) {
		return nil, errors.New("certificate signed by an untrusted CA")
	}
	if len(cert.ValidPrincipals) != 1 {
		return nil, fmt.Errorf("certificate has %d principals; exactly one (the user name) is required", len(cert.ValidPrincipals))
	}
	if _, ok := cert.CriticalOptions["force-command"]; ok {
		return nil, errors.New("certificate has a force-command, which is refused")
	}
	checker := gossh.CertChecker{
		SupportedCriticalOptions: []string{"source-address"},
		IsRevoked: func(c *gossh.Certificate) bool {
			return s.CertRevoked != nil && s.CertRevoked(c)
		},
	}
	principal := cert.ValidPrincipals[0]
	if err := checker.CheckCert(principal, cert); err != nil {
		return nil, fmt.Errorf("certificate refused: %v", strings.TrimPrefix(err.Error(), "ssh: "))
	}
	if src, ok := cert.CriticalOptions["source-address"]; ok {
		if err := checkSourceAddress(src, remote); err != nil {
			return nil, err
		}
	}
	if s.Users == nil {
		return nil, errors.New("certificates are not enabled")
	}
	u, err := s.Users.FindUserByName(ctx, principal)
	switch {
	case errors.Is(err, gatehouse.ErrNotFound):
		return nil, fmt.Errorf("certificate principal %q is no user", principal)
	case err != nil:
		return nil, err
	case u.Disabled:
		return nil, fmt.Errorf("user %s disabled", u.Name)
	}
	return u, nil
}

func (s *Server) trustedCA(k gossh.PublicKey) bool {
	if k == nil {
		return false
	}
	b := k.Marshal()
	for _, ca := range s.UserCAs {
		if bytes.Equal(ca.Marshal(), b) {
			return true
		}
	}
	return false
}

// checkSourceAddress applies a certificate's source-address option: a
// comma-separated list of addresses and CIDR networks the client must be
// in. remote is the real client address (after PROXY protocol).
func checkSourceAddress(list string, remote net.Addr) error {
	ip := addrKeyExact(remote)
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil {
				return fmt.Errorf("certificate source-address %q is malformed", list)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if ip.IsValid() && p.Contains(ip) {
			return nil
		}
	}
	return fmt.Errorf("certificate not valid from %s (source-address %s)", ip, list)
}

// RevocationList is a file of revoked certificates and keys, one per
// line: "serial N" revokes certificates with that serial (from any
// trusted CA), "SHA256:..." revokes the certificate whose signed key has
// that fingerprint. '#' starts a comment. The file is re-read when it
// changes; while it cannot be read or parsed, every certificate counts as
// revoked.
type RevocationList struct {
	path string

	mu      sync.Mutex // guards the fields below
	modTime time.Time
	size    int64
	serials map[uint64]bool
	keys    map[string]bool
	err     error
}

// NewRevocationList reads path, which must exist and parse.
func NewRevocationList(path string) (*RevocationList, error) {
	l := &RevocationList{path: path}
	l.refresh()
	return l, l.err
}

// Revoked reports whether cert is revoked.
func (l *RevocationList) Revoked(cert *gossh.Certificate) bool {
	l.refresh()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err != nil || l.serials[cert.Serial] || l.keys[gossh.FingerprintSHA256(cert.Key)]
}

// Reload reads the file again now, even if it looks unchanged. Errors:
// the file's, or its parse errors (every certificate then counts as
// revoked).
func (l *RevocationList) Reload() error {
	l.mu.Lock()
	l.modTime = time.Time{} // what refresh compares: it reads the file
	l.mu.Unlock()
	l.refresh()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *RevocationList) refresh() {
	st, err := os.Stat(l.path)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.err = fmt.Errorf("revoked certificates: %w", err)
		return
	}
	if l.err == nil && l.keys != nil && st.ModTime().Equal(l.modTime) && st.Size() == l.size {
		return
	}
	l.modTime, l.size = st.ModTime(), st.Size()
	l.serials, l.keys, l.err = readRevocations(l.path)
}

func readRevocations(path string) (map[uint64]bool, map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("revoked certificates: %w", err)
	}
	defer f.Close()
	serials, keys := map[uint64]bool{}, map[string]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case len(f) == 2 && f[0] == "serial":
			v, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return nil, nil, fmt.Errorf("revoked certificates %s line %d: bad serial %q", path, n, f[1])
			}
			serials[v] = true
		case len(f) == 1 && strings.HasPrefix(f[0], "SHA256:"):
			keys[f[0]] = true
		default:
			return nil, nil, fmt.Errorf("revoked certificates %s line %d: want \"serial N\" or SHA256:...", path, n)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("revoked certificates %s: %w", path, err)
	}
	return serials, keys, nil
}
