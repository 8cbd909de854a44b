// Package sshd is the SSH front end: it authenticates public keys, refuses
// everything but the few commands Gatehouse answers, and hands Git commands
// to the repository service. It knows nothing of SQL or HTTP; everything it
// needs comes in through the root service interfaces.
package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
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
		// x/crypto's server offers groups 14, 15 and 16 (2048 to 4096
		// bits) and picks as OpenSSH does: the smallest at least as large
		// as the client prefers.
		gossh.KeyExchangeDHGEXSHA256,
	}
	ciphers = []string{
		gossh.CipherChaCha20Poly1305,
		gossh.CipherAES256GCM, gossh.CipherAES128GCM,
		gossh.CipherAES256CTR, gossh.CipherAES192CTR, gossh.CipherAES128CTR,
	}
	macsETM    = []string{gossh.HMACSHA512ETM, gossh.HMACSHA256ETM}
	macsCompat = []string{gossh.HMACSHA512, gossh.HMACSHA256}
	// userAuthAlgos are the signatures a user may log in with. x/crypto's
	// default also takes ssh-rsa (SHA-1) and ssh-dss; its "supported"
	// list is the one without them (RSA keys sign with rsa-sha2-256/512).
	// Certificates are checked by the algorithm of their signed key.
	userAuthAlgos = gossh.SupportedAlgorithms().PublicKeyAuths
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
	// ProxyFrom lists the load balancers that prefix connections with a
	// PROXY protocol (v1 or v2) header; it is required from them and
	// ignored from everyone else. AllowCIDR, the limits, the logs and the
	// audit log all see the client address from the header.
	ProxyFrom []netip.Prefix
	// AnonRead lets unknown keys in as anonymous (read public repos only).
	AnonRead bool
	// NoCompatMACs drops the non-ETM hmac-sha2 MACs.
	NoCompatMACs bool
	// Limits bound what clients may use; Open sets the zero ones to
	// their defaults.
	Limits
	// Version is the server's version, shown in the SSH banner.
	Version string

	Keys gatehouse.KeyService
	// KeyBlocked, when set, reports known-compromised fingerprints;
	// those keys are refused whoever has them.
	KeyBlocked func(fingerprint string) bool
	// UserCAs are the certificate authorities whose user certificates
	// log in as the user their one principal names (see checkCert);
	// CertRevoked refuses revoked ones. Users finds the principal.
	UserCAs     []gossh.PublicKey
	CertRevoked func(*gossh.Certificate) bool
	Users       gatehouse.UserService
	// KeyPolicies, when set, gives the key policy each login must meet
	// (see checkKeyPolicy).
	KeyPolicies gatehouse.KeyPolicyService
	// DeployKeys, when set, lets keys registered on a repository in.
	DeployKeys gatehouse.DeployKeyService
	Repos      gatehouse.RepoService
	Git        gatehouse.GitService
	// LFS, when set, serves git-lfs-transfer.
	LFS    gatehouse.LFSService
	Audit  gatehouse.AuditService
	Logger *slog.Logger

	// AuthFailures, when set, shares failed-login counts and bans with
	// the other nodes (see gatehouse.AuthFailures); the other limits
	// stay per node.
	AuthFailures gatehouse.AuthFailures

	// Logins, when set, answers the `login` command with a one-time link
	// to the web panel at PanelURL (like "http://127.0.0.1:8080").
	Logins   gatehouse.LoginLinker
	PanelURL string
	// Self, when set, answers the self-service commands (keys, repo,
	// token; see selfCommands) for the user behind the key.
	Self SelfService
	// StepUp, when set, answers `2fa-verify` and checks Git and admin
	// commands against the step-up policies (see stepup.go); PublicHost
	// is the host name its hints name (default: the address dialled).
	StepUp     StepUpService
	PublicHost string
	// Observer, when set, is told of every connection, login and limit
	// refusal as it happens (see Observer).
	Observer Observer

	limits   *limiter
	handler  handler // see sessionHandler
	srv      *ssh.Server
	ln       net.Listener
	serveErr chan error
	stopOnce sync.Once
	inflight inflight
}

// Open starts listening and serving in the background.
func (s *Server) Open() error {
	if len(s.HostKeys) == 0 {
		return errors.New("sshd: no host keys")
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Observer == nil {
		s.Observer = noObserver{}
	}
	s.Limits = s.Limits.withDefaults()
	s.handler = s.sessionHandler()
	s.limits = newLimiter(s.MaxAuthFailures, s.AuthBan, s.MaxConnsPerAddr, s.MaxSessions, s.MaxSessionsPerUser)
	s.limits.shared = s.AuthFailures
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
		ChannelHandlers:   map[string]ssh.ChannelHandler{"session": s.filteredSession, "default": s.refuseChannel},
		RequestHandlers:   map[string]ssh.RequestHandler{"default": s.refuseGlobal},
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
	go func() { s.serveErr <- s.serve(ln) }()
	return nil
}

// serve accepts connections until ln is closed and hands each to
// gliderlabs. Its own Serve counts a connection only once the handshake
// is over, so its Shutdown does not wait for logins in progress; here
// every connection counts from its accept (see inflight).
func (s *Server) serve(ln net.Listener) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return err
		}
		if err != nil {
			// Out of file descriptors and the like: back off and retry,
			// as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.Logger.Warn("ssh accept failed", logErr, err, "retry", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if !s.inflight.startConn(c) {
			c.Close()
			continue
		}
		go func() {
			defer s.inflight.doneConn(c)
			s.srv.HandleConn(c)
		}()
	}
}

// Addr returns the address the server listens on (after Open).
func (s *Server) ListenAddr() net.Addr { return s.ln.Addr() }

// cutWait bounds how long Close (and Shutdown past its grace) waits for
// sessions to end once their connections are closed: they see their
// reads fail and their context end, and have only to clean up.
const cutWait = 5 * time.Second

// Close stops accepting connections, closes open ones (in the handshake
// too) and waits, at most cutWait, for what ran on them to end.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	s.stopAccepting()
	s.cut()
	return nil
}

// Shutdown stops accepting and waits until ctx ends for the connections
// already accepted: handshakes in progress finish and their sessions
// run. Then it closes what is left, as Close does. When it returns,
// nothing of the server uses the services it was given any more.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	s.stopAccepting()
	err := s.inflight.drain(ctx)
	if err != nil {
		s.cut()
	}
	return err
}

// stopAccepting closes the listener and waits for the accept loop to end.
func (s *Server) stopAccepting() {
	s.stopOnce.Do(func() {
		s.ln.Close()
		<-s.serveErr
	})
}

// cut closes every connection and waits, at most cutWait, for what runs
// on them to end; nothing starts after it.
func (s *Server) cut() {
	s.inflight.closeConns()
	ctx, cancel := context.WithTimeout(context.Background(), cutWait)
	defer cancel()
	if err := s.inflight.drain(ctx); err != nil {
		s.Logger.Warn("ssh sessions still running after their connections were closed", logErr, err)
		s.inflight.close()
	}
}

// ctxKey is the type of this package's context keys.
type ctxKey struct{ name string }

var (
	// keyVerified holds the gossh.PublicKey whose signature was verified.
	keyVerified = &ctxKey{"verified-key"}
	// keyConnID holds a short id for logs.
	keyConnID = &ctxKey{"conn-id"}
	// keyConnCounts holds the connection's *connCounts.
	keyConnCounts = &ctxKey{"conn-counts"}
)

func (s *Server) serverConfig(ctx ssh.Context) *gossh.ServerConfig {
	macs := macsETM
	if !s.NoCompatMACs {
		macs = append(append([]string{}, macsETM...), macsCompat...)
	}
	cfg := &gossh.ServerConfig{
		Config:                  gossh.Config{KeyExchanges: kexAlgos, Ciphers: ciphers, MACs: macs},
		PublicKeyAuthAlgorithms: userAuthAlgos,
		// PublicKeyCallback may be called for keys the client only offers;
		// this one runs once the signature checks out, so the key recorded
		// here is the one that authenticated.
		VerifiedPublicKeyCallback: func(conn gossh.ConnMetadata, key gossh.PublicKey, perms *gossh.Permissions, algo string) (*gossh.Permissions, error) {
			if !noTouchMatches(ctx, key, perms) {
				s.Logger.Info("ssh login refused: no-touch-required was set for another key", logConn, ctx.Value(keyConnID))
				return nil, errors.New("no-touch-required set for another key")
			}
			ctx.SetValue(keyVerified, key)
			return perms, nil
		},
		// Kept to send auth banners on (authBanner).
		PreAuthConnCallback: func(c gossh.ServerPreAuthConn) { ctx.SetValue(keyPreAuth, c) },
		// gossh counts every key tried; it refuses the connection past
		// this many. Negative means no limit there too.
		MaxAuthTries: s.MaxAuthTries,
	}
	return cfg
}

// onConnect drops connections from outside AllowCIDR, tags the rest and
// bounds their time to authenticate.
func (s *Server) onConnect(ctx ssh.Context, c net.Conn) net.Conn {
	s.Observer.Connection()
	id := fmt.Sprintf("%08x", connSeq.next())
	if s.fromProxy(c.RemoteAddr()) {
		pc, err := readProxyHeader(c, s.AuthTimeout)
		if err != nil {
			s.Logger.Info("ssh connection dropped", logConn, id, logAddr, c.RemoteAddr().String(), logErr, err)
			return nil
		}
		c = pc
	}
	if !s.allowed(c.RemoteAddr()) {
		s.Logger.Info("ssh connection dropped: address not allowed", logConn, id, logAddr, c.RemoteAddr().String())
		return nil
	}
	ip := addrKey(c.RemoteAddr())
	if banned, until := s.limits.banned(ip); banned {
		// Before the handshake, so a banned guesser costs no crypto; the
		// line is what ssh -v shows, and what a human poking with nc sees.
		s.refuseConn(ctx, c, id, "auth-ban", fmt.Sprintf("too many failed logins from your address; try again after %s", until.UTC().Format(time.TimeOnly)))
		return nil
	}
	if !s.limits.openConn(ip) {
		s.refuseConn(ctx, c, id, "conns-per-addr", fmt.Sprintf("too many connections from your address (at most %d)", s.MaxConnsPerAddr))
		return nil
	}
	c = &countedConn{Conn: c, release: func() { s.limits.closeConn(ip) }}
	ctx.SetValue(keyConnID, id)
	ctx.SetValue(keyConnCounts, &connCounts{maxChannels: s.MaxChannelsPerConn, maxRefusals: s.MaxRefusalsPerConn})
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
	allowNoTouch(ctx, "")
	fp := gossh.FingerprintSHA256(key)
	if cert, ok := key.(*gossh.Certificate); ok {
		// The blocklist names the signed key, which a certificate wraps.
		fp = gossh.FingerprintSHA256(cert.Key)
	}
	if s.KeyBlocked != nil && s.KeyBlocked(fp) {
		s.refuseLogin(ctx, fp, "key on the compromised-key blocklist")
		return false
	}
	if cert, ok := key.(*gossh.Certificate); ok {
		u, err := s.checkCert(ctx, cert, ctx.RemoteAddr())
		if err != nil {
			s.refuseLogin(ctx, fp, err.Error())
			return false
		}
		return s.checkKeyPolicy(ctx, fp, u.Name, certTraits(cert))
	}
	k, u, err := s.Keys.FindKeyByFingerprint(ctx, fp)
	switch {
	case err == nil && k.Expired(time.Now()):
		s.refuseLogin(ctx, fp, "key expired")
		return false
	case err == nil && !u.Disabled:
		if !s.checkKeyPolicy(ctx, fp, u.Name, k.Traits()) {
			return false
		}
		if k.NoTouchRequired {
			allowNoTouch(ctx, fp)
		}
		return true
	case err == nil:
		s.refuseLogin(ctx, fp, "user disabled")
		return false
	case errors.Is(err, gatehouse.ErrNotFound):
		a, err := s.identifyOther(ctx, key, fp)
		if err == nil && a.DeployKey != nil {
			// Machines meet the site's policy; the organization's
			// applies at the operation.
			if !s.checkKeyPolicy(ctx, fp, "", a.DeployKey.Traits()) {
				return false
			}
			if a.DeployKey.NoTouchRequired {
				allowNoTouch(ctx, fp)
			}
		}
		if err == nil {
			return true
		}
		if !errors.Is(err, gatehouse.ErrNotFound) {
			logFailure(ctx, s.Logger.With(logConn, ctx.Value(keyConnID)), "deploy key lookup failed", err)
			return false
		}
		s.refuseLogin(ctx, fp, "unknown key")
		return false
	default:
		logFailure(ctx, s.Logger.With(logConn, ctx.Value(keyConnID)), "key lookup failed", err)
		return false
	}
}

// refuseLogin records a refused key, counts it against the client's
// address, and slows the answer once the address has used half its
// budget. A client that offers several keys pays for each refused one, as
// with OpenSSH's MaxAuthTries.
func (s *Server) refuseLogin(ctx ssh.Context, fp, why string) {
	addr := ctx.RemoteAddr().String()
	ip := addrKey(ctx.RemoteAddr())
	n, banned := s.limits.fail(ip)
	s.Observer.LoginRefused(why)
	s.Logger.Info("ssh login refused", logConn, ctx.Value(keyConnID), logAddr, addr, logFP, fp, "reason", why, "failures", n)
	// During a flood only the first refusals of a minute per address are
	// audited one by one; the ban below is always recorded.
	if n <= s.MaxAuthFailures || s.limits.noteOnce("refused "+ip.String()) {
		s.audit(ctx, &gatehouse.AuditEvent{Action: gatehouse.AuditLoginRefused, Detail: fp + " " + why, Address: addr})
	}
	if banned {
		s.Observer.LimitRefused("auth-ban")
		s.Logger.Warn("address banned after failed logins", logAddr, addr, "failures", n, "ban", s.AuthBan)
		s.audit(ctx, &gatehouse.AuditEvent{Action: gatehouse.AuditLimit, Address: addr,
			Detail: fmt.Sprintf("auth-ban: %d failed logins in a minute; refused for %s", n, s.AuthBan)})
	}
	if s.MaxAuthFailures > 0 && n > s.MaxAuthFailures/2 {
		select {
		case <-time.After(s.AuthFailDelay):
		case <-ctx.Done():
		}
	}
}

// refuseConn closes a connection refused by a limit before the
// handshake: one line of text for the client, a log line, and an audit
// entry at most once a minute per address and limit.
func (s *Server) refuseConn(ctx ssh.Context, c net.Conn, id, limit, msg string) {
	addr := c.RemoteAddr().String()
	s.Logger.Info("ssh connection refused", logConn, id, logAddr, addr, "limit", limit)
	s.Observer.LimitRefused(limit)
	if s.limits.noteOnce(limit + " " + addrKey(c.RemoteAddr()).String()) {
		s.audit(ctx, &gatehouse.AuditEvent{Action: gatehouse.AuditLimit, Address: addr, Detail: limit + ": " + msg})
	}
	// A short deadline: a client that does not read must not hold us.
	c.SetWriteDeadline(time.Now().Add(time.Second))
	io.WriteString(c, "gatehouse: "+msg+"\r\n")
}

// identifyOther finds who a key that is no user's belongs to: the user a
// certificate names, a deploy key, or, with AnonRead, nobody (anonymous).
// ErrNotFound otherwise.
func (s *Server) identifyOther(ctx ssh.Context, key gossh.PublicKey, fp string) (gatehouse.Actor, error) {
	if cert, ok := key.(*gossh.Certificate); ok {
		// Checked again: the session may start long after the login, and
		// a revocation or a disabled user counts from now.
		u, err := s.checkCert(ctx, cert, ctx.RemoteAddr())
		if err != nil {
			return gatehouse.Actor{}, fmt.Errorf("%v: %w", err, gatehouse.ErrNotFound)
		}
		t := certTraits(cert)
		return gatehouse.Actor{User: u, Key: &t}, nil
	}
	if s.DeployKeys != nil {
		dk, err := s.DeployKeys.FindDeployKeyByFingerprint(ctx, fp)
		if err == nil {
			t := dk.Traits()
			return gatehouse.Actor{DeployKey: dk, Key: &t}, nil
		}
		if !errors.Is(err, gatehouse.ErrNotFound) {
			return gatehouse.Actor{}, fmt.Errorf("deploy key %s: %w", fp, err)
		}
	}
	if s.AnonRead {
		return gatehouse.Actor{}, nil
	}
	return gatehouse.Actor{}, fmt.Errorf("key %s: %w", fp, gatehouse.ErrNotFound)
}

// audit records e as one piece of in-flight work, so that shutdown
// waits for it.
func (s *Server) audit(ctx context.Context, e *gatehouse.AuditEvent) {
	if s.Audit == nil {
		return
	}
	if !s.inflight.start() {
		s.Logger.Warn("audit entry dropped: server closed", "action", e.Action, "detail", e.Detail)
		return
	}
	defer s.inflight.done()
	// The audit entries must not be lost because the client hung up.
	if err := s.Audit.RecordEvent(context.WithoutCancel(ctx), e); err != nil {
		s.Logger.Error("audit write failed", logErr, err, "action", e.Action)
	}
}
