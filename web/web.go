// Package web is the HTTP side of Gatehouse: the health check, the JSON
// API under /api/v1, the admin panel at / and, when given, /metrics. It
// knows nothing of SSH or SQL: every use case goes through the backend
// (which checks the actor the request carries), the rest through the root
// service interfaces; what it shows of the SSH side (host keys, the
// clone address) comes in as plain fields.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"gatehouse"
	"gatehouse/backend"
)

// Log attribute keys.
const (
	logErr    = "err"
	logMethod = "method"
	logPath   = "path"
)

// maxBody bounds request bodies: the largest thing anyone sends is a
// public key (an 16384-bit RSA key is under 3 KiB).
const maxBody = 64 << 10

// HostKey describes one SSH host key for the panel.
type HostKey struct {
	Type        string `json:"type"`
	Fingerprint string `json:"fingerprint"` // SHA256:...
	KnownHosts  string `json:"known_hosts"` // a ready known_hosts line
}

// Server serves HTTP on Addr. Set the fields, then Open; Close stops it.
// The services may be left nil only in tests of the health check;
// DeployKeys and Protection may be nil, and their pages then say so.
type Server struct {
	Addr   string
	Logger *slog.Logger

	Users      gatehouse.UserService
	Keys       gatehouse.KeyService
	Repos      gatehouse.RepoService
	Audit      gatehouse.AuditService
	Tokens     gatehouse.TokenService
	Logins     gatehouse.LoginService
	DeployKeys gatehouse.DeployKeyService
	Protection gatehouse.ProtectionService
	// Orgs may be nil; the organization routes then answer 501.
	Orgs gatehouse.OrgService
	// Backend runs every use case the API and the panel offer; when nil,
	// Handler makes one on the services above. Of those, only Tokens and
	// Logins are used directly, to authenticate requests.
	Backend *backend.Backend

	// HostKeys are shown on the host keys page.
	HostKeys []HostKey
	// SSHAddr is the public host:port of the SSH server, for clone URLs
	// ("git.example.com:2222").
	SSHAddr string
	// Metrics, when set, is served at /metrics without authentication,
	// like /healthz: it is for the operator's scraper on the same network.
	Metrics http.Handler
	// Instrument, when set, wraps every request (for request metrics);
	// route is the matched chi pattern, never the raw path, so that
	// labels stay few.
	Instrument func(next http.Handler, route func(*http.Request) string) http.Handler
	// Listener, when set, is used instead of listening on Addr: the
	// caller may need the address before the server is built.
	Listener net.Listener
	// Node names this node in /healthz (several nodes may serve one
	// data folder behind a load balancer).
	Node string
	// Ping, when set, checks the database for /healthz; its error makes
	// /healthz and /readyz answer 503.
	Ping func(ctx context.Context) error

	ln       net.Listener
	srv      *http.Server
	draining atomic.Bool // set by Drain: /readyz answers 503
}

// pingTimeout bounds the database check of one health request, so that a
// hung database fails the check instead of hanging the balancer's probe.
const pingTimeout = 2 * time.Second

// Drain makes /readyz answer 503 from now on, so that a load balancer
// stops sending this node work while it finishes what it runs; the rest
// keeps serving until Close.
func (s *Server) Drain() { s.draining.Store(true) }

// health answers /healthz: 200 with the node and its database's state, or
// 503 when the database does not answer. A client asking for JSON
// (Accept: application/json) gets {"status", "node", "database"}; others
// get one line of text, "ok" when healthy.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	status, db := http.StatusOK, "ok"
	if s.Ping != nil {
		ctx, cancel := context.WithTimeout(r.Context(), pingTimeout)
		err := s.Ping(ctx)
		cancel()
		if err != nil {
			s.Logger.Warn("health check: database", logErr, err)
			status, db = http.StatusServiceUnavailable, "unreachable"
		}
	}
	text := "ok"
	if status != http.StatusOK {
		text = "database " + db
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, status, map[string]string{"status": text, "node": s.Node, "database": db})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, text)
}

// ready answers /readyz: 503 while the node drains (Drain) or its
// database does not answer, 200 otherwise.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "draining")
		return
	}
	s.health(w, r)
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Backend == nil {
		s.Backend = s.newBackend()
	}
	r := chi.NewRouter()
	if s.Instrument != nil {
		// Inside the router, so that the route pattern is known once the
		// request has been served.
		r.Use(func(next http.Handler) http.Handler { return s.Instrument(next, routePattern) })
	}
	r.Use(middleware.Recoverer, securityHeaders)
	r.Get("/healthz", s.health)
	r.Get("/readyz", s.ready)
	if s.Metrics != nil {
		r.Handle("/metrics", s.Metrics)
	}
	r.Route("/api/v1", s.apiRoutes)
	s.panelRoutes(r)
	return r
}

// routePattern returns the chi route pattern a request matched (valid
// after it has been served), or "other" when nothing matched.
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return "other"
}

// securityHeaders are sent on every response. The CSP allows only our
// own scripts and styles, so injected markup cannot run. same-origin keeps
// a login link's secret out of other sites' logs while letting the
// browser send our own Origin on form posts (no-referrer would make it
// "null", which the login check must refuse).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		next.ServeHTTP(w, r)
	})
}

// Open starts listening and serving in the background.
func (s *Server) Open() error {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	ln := s.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.Addr); err != nil {
			return fmt.Errorf("web: listen: %w", err)
		}
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Logger.Error("http serve", logErr, err)
		}
	}()
	return nil
}

// ListenAddr returns the address the server listens on (after Open).
func (s *Server) ListenAddr() net.Addr { return s.ln.Addr() }

// Close stops the server within ctx, then closes what is left.
func (s *Server) Close(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.srv.Close()
	}
	return nil
}
