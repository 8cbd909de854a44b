// Package sshd is the SSH front end: it authenticates public keys, refuses
// everything but the few commands Gatehouse answers, and hands Git commands
// to the repository service. It knows nothing of SQL or HTTP; everything it
// needs comes in through the root service interfaces.
package sshd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"

	"gatehouse"
)

// Log attribute keys.
const (
	logConn   = "conn"
	logAddr   = "addr"
	logUser   = "user"
	logFP     = "fingerprint"
	logCmd    = "cmd"
	logRepo   = "repo"
	logErr    = "err"
	logStatus = "status"
)

// Algorithms offered, strongest first. Only modern ones: no SHA-1, no CBC,
// no NIST-curve key exchange. The non-ETM hmac-sha2 pair stays by default
// because libssh2 1.10 (libgit2 on Debian 12) knows no ETM MACs.
var (
	kexAlgos = []string{
		gossh.KeyExchangeMLKEM768X25519,
		gossh.KeyExchangeCurve25519,
		"curve25519-sha256@libssh.org",
		gossh.KeyExchangeDH16SHA512,
	}
	ciphers = []string{
		gossh.CipherChaCha20Poly1305,
		gossh.CipherAES256GCM, gossh.CipherAES128GCM,
		gossh.CipherAES256CTR, gossh.CipherAES192CTR, gossh.CipherAES128CTR,
	}
	macsETM    = []string{gossh.HMACSHA512ETM, gossh.HMACSHA256ETM}
	macsCompat = []string{gossh.HMACSHA512, gossh.HMACSHA256}
)

// Server is the SSH server. Set the fields, then Open; Close stops it.
type Server struct {
	// Addr to listen on, e.g. ":2222" or "127.0.0.1:0".
	Addr string
	// HostKeys sign the handshake (see LoadHostKeys).
	HostKeys []gossh.Signer
	// AllowCIDR, when not empty, lists the only networks SSH connections
	// are accepted from; others are closed before the handshake.
	AllowCIDR []netip.Prefix
	// AnonRead lets unknown keys in as anonymous (read public repos only).
	AnonRead bool
	// NoCompatMACs drops the non-ETM hmac-sha2 MACs.
	NoCompatMACs bool
	// AuthTimeout bounds the handshake and authentication.
	AuthTimeout time.Duration
	// IdleTimeout closes a connection with no traffic for this long; a
	// clone that is moving data is never cut.
	IdleTimeout time.Duration
	// Version is the server's version, shown in the SSH banner.
	Version string

	Keys   gatehouse.KeyService
	Repos  gatehouse.RepoService
	Git    gatehouse.GitService
	Audit  gatehouse.AuditService
	Logger *slog.Logger

	srv      *ssh.Server
	ln       net.Listener
	serveErr chan error
	wg       sync.WaitGroup
}

// Open starts listening and serving in the background.
func (s *Server) Open() error {
	if len(s.HostKeys) == 0 {
		return errors.New("sshd: no host keys")
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.AuthTimeout == 0 {
		s.AuthTimeout = 30 * time.Second
	}
	if s.IdleTimeout == 0 {
		s.IdleTimeout = 10 * time.Minute
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("sshd: listen: %w", err)
	}
	s.ln = ln
	s.srv = &ssh.Server{
		Handler:              s.handleSession,
		PublicKeyHandler:     s.checkPublicKey,
		ServerConfigCallback: s.serverConfig,
		ConnCallback:         s.onConnect,
		IdleTimeout:          s.IdleTimeout,
		Version:              "gatehouse",
		// Requests the session may not make are refused before the
		// handler sees them (see filterRequests); anything without a
		// handler here (port forwarding, sftp) is refused by default.
		ChannelHandlers:   map[string]ssh.ChannelHandler{"session": filteredSession},
		RequestHandlers:   map[string]ssh.RequestHandler{},
		SubsystemHandlers: map[string]ssh.SubsystemHandler{},
		PtyCallback:       func(ssh.Context, ssh.Pty) bool { return false },
		ConnectionFailedCallback: func(c net.Conn, err error) {
			s.Logger.Debug("ssh handshake failed", logAddr, c.RemoteAddr().String(), logErr, err)
		},
	}
	for _, k := range s.HostKeys {
		s.srv.AddHostKey(k)
	}
	s.serveErr = make(chan error, 1)
	go func() { s.serveErr <- s.srv.Serve(ln) }()
	return nil
}

// Addr returns the address the server listens on (after Open).
func (s *Server) ListenAddr() net.Addr { return s.ln.Addr() }

// Close stops accepting connections and closes open ones.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	err := s.srv.Close()
	<-s.serveErr
	return err
}

// Shutdown stops accepting and waits for running sessions until ctx ends,
// then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	<-s.serveErr
	return err
}

// ctxKey is the type of this package's context keys.
type ctxKey struct{ name string }

var (
	// keyVerified holds the gossh.PublicKey whose signature was verified.
	keyVerified = &ctxKey{"verified-key"}
	// keyConnID holds a short id for logs.
	keyConnID = &ctxKey{"conn-id"}
)

func (s *Server) serverConfig(ctx ssh.Context) *gossh.ServerConfig {
	macs := macsETM
	if !s.NoCompatMACs {
		macs = append(append([]string{}, macsETM...), macsCompat...)
	}
	cfg := &gossh.ServerConfig{
		Config: gossh.Config{KeyExchanges: kexAlgos, Ciphers: ciphers, MACs: macs},
		// PublicKeyCallback may be called for keys the client only offers;
		// this one runs once the signature checks out, so the key recorded
		// here is the one that authenticated.
		VerifiedPublicKeyCallback: func(conn gossh.ConnMetadata, key gossh.PublicKey, perms *gossh.Permissions, algo string) (*gossh.Permissions, error) {
			ctx.SetValue(keyVerified, key)
			return perms, nil
		},
		MaxAuthTries: 6,
	}
	return cfg
}

// onConnect drops connections from outside AllowCIDR, tags the rest and
// bounds their time to authenticate.
func (s *Server) onConnect(ctx ssh.Context, c net.Conn) net.Conn {
	id := fmt.Sprintf("%08x", connSeq.next())
	if !s.allowed(c.RemoteAddr()) {
		s.Logger.Info("ssh connection dropped: address not allowed", logConn, id, logAddr, c.RemoteAddr().String())
		return nil
	}
	ctx.SetValue(keyConnID, id)
	t := time.AfterFunc(s.AuthTimeout, func() {
		if ctx.Value(keyVerified) == nil {
			s.Logger.Info("ssh auth timeout", logConn, id, logAddr, c.RemoteAddr().String())
			c.Close()
		}
	})
	go func() { <-ctx.Done(); t.Stop() }()
	return c
}

func (s *Server) allowed(a net.Addr) bool {
	if len(s.AllowCIDR) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range s.AllowCIDR {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

type counter struct {
	mu sync.Mutex
	n  uint32
}

func (c *counter) next() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

var connSeq counter

// checkPublicKey decides whether a key may authenticate. It may be called
// for keys the client merely offers; who the connection is gets decided
// from the verified key in the session.
func (s *Server) checkPublicKey(ctx ssh.Context, key ssh.PublicKey) bool {
	fp := gossh.FingerprintSHA256(key)
	_, u, err := s.Keys.FindKeyByFingerprint(ctx, fp)
	switch {
	case err == nil && !u.Disabled:
		return true
	case err == nil:
		s.refuseLogin(ctx, fp, "user disabled")
		return false
	case errors.Is(err, gatehouse.ErrNotFound):
		if s.AnonRead {
			return true
		}
		s.refuseLogin(ctx, fp, "unknown key")
		return false
	default:
		s.Logger.Error("key lookup failed", logConn, ctx.Value(keyConnID), logErr, err)
		return false
	}
}

func (s *Server) refuseLogin(ctx ssh.Context, fp, why string) {
	addr := ctx.RemoteAddr().String()
	s.Logger.Info("ssh login refused", logConn, ctx.Value(keyConnID), logAddr, addr, logFP, fp, "reason", why)
	s.audit(ctx, &gatehouse.AuditEvent{Action: gatehouse.AuditLoginRefused, Detail: fp + " " + why, Address: addr})
}

func (s *Server) audit(ctx context.Context, e *gatehouse.AuditEvent) {
	if s.Audit == nil {
		return
	}
	// The audit entry must not be lost because the client hung up.
	if err := s.Audit.RecordEvent(context.WithoutCancel(ctx), e); err != nil {
		s.Logger.Error("audit write failed", logErr, err, "action", e.Action)
	}
}
