// Package metrics adapts Prometheus (client_golang): it counts what the
// servers do by decorating the root service interfaces and HTTP handlers,
// and by observing the SSH server (SSH implements sshd.Observer), so that
// sshd and web carry no metrics code of their own. Only cmd/gatehouse
// wires it in.
package metrics

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"gatehouse"
)

// Metrics holds the collectors in a registry of their own (not the global
// one, so tests can run several servers in one process).
type Metrics struct {
	reg *prometheus.Registry

	sshConns     prometheus.Counter
	sshAuth      *prometheus.CounterVec
	sshRefused   *prometheus.CounterVec
	gitOps       *prometheus.CounterVec
	gitDuration  *prometheus.HistogramVec
	gitBytes     *prometheus.CounterVec
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
}

// New registers the collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		sshConns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_ssh_connections_total",
			Help: "TCP connections accepted by the SSH server, before any check.",
		}),
		sshAuth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_ssh_auth_total",
			Help: "SSH authentications by result (accepted, refused); each accepted one is a session.",
		}, []string{"result"}),
		sshRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_ssh_limit_refusals_total",
			Help: "SSH connections or sessions refused by a limit.",
		}, nil),
		gitOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_git_operations_total",
			Help: "Git operations by service (upload-pack, receive-pack, upload-archive, lfs-transfer) and outcome (ok, error).",
		}, []string{"service", "outcome"}),
		gitDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_git_operation_duration_seconds",
			Help:    "Duration of Git operations by service.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 9), // 10ms to about 11 minutes
		}, []string{"service"}),
		gitBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_git_bytes_total",
			Help: "Bytes of Git protocol data by service and direction (sent to or received from clients).",
		}, []string{"service", "direction"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total",
			Help: "HTTP requests by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_http_request_duration_seconds",
			Help:    "HTTP request duration by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
	}
	m.reg.MustRegister(m.sshConns, m.sshAuth, m.sshRefused, m.gitOps, m.gitDuration, m.gitBytes, m.httpRequests, m.httpDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Known label values start at zero, so rates work from the first scrape.
	for _, r := range []string{"accepted", "refused"} {
		m.sshAuth.WithLabelValues(r)
	}
	m.sshRefused.WithLabelValues()
	for _, svc := range []string{"upload-pack", "receive-pack", "upload-archive", "lfs-transfer"} {
		for _, o := range []string{"ok", "error"} {
			m.gitOps.WithLabelValues(svc, o)
		}
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// SSH returns the observer that counts what the SSH server reports; it
// implements sshd.Observer.
func (m *Metrics) SSH() SSH { return SSH{m: m} }

// SSH counts SSH connections, logins and limit refusals as sshd reports
// them, each at the event: not from the audit log, whose entries are
// throttled in a flood.
type SSH struct{ m *Metrics }

// Connection counts one TCP connection accepted.
func (o SSH) Connection() { o.m.sshConns.Inc() }

// LoginAccepted counts one accepted login (a session).
func (o SSH) LoginAccepted() { o.m.sshAuth.WithLabelValues("accepted").Inc() }

// LoginRefused counts one refused key, whatever the reason.
func (o SSH) LoginRefused(string) { o.m.sshAuth.WithLabelValues("refused").Inc() }

// LimitRefused counts one refusal by a limit, whichever.
func (o SSH) LimitRefused(string) { o.m.sshRefused.WithLabelValues().Inc() }

// Git returns next counting operations, their duration and their bytes.
func (m *Metrics) Git(next gatehouse.GitService) gatehouse.GitService {
	return gitService{next: next, m: m}
}

type gitService struct {
	next gatehouse.GitService
	m    *Metrics
}

func (g gitService) UploadPack(ctx context.Context, r *gatehouse.Repo, s gatehouse.GitSession) error {
	done := g.m.gitStart("upload-pack", &s)
	err := g.next.UploadPack(ctx, r, s)
	done(err)
	return err
}

func (g gitService) ReceivePack(ctx context.Context, r *gatehouse.Repo, s gatehouse.GitSession) (*gatehouse.PushResult, error) {
	done := g.m.gitStart("receive-pack", &s)
	res, err := g.next.ReceivePack(ctx, r, s)
	done(err)
	return res, err
}

func (g gitService) UploadArchive(ctx context.Context, r *gatehouse.Repo, s gatehouse.GitSession) error {
	done := g.m.gitStart("upload-archive", &s)
	err := g.next.UploadArchive(ctx, r, s)
	done(err)
	return err
}

// LFS returns next counting git-lfs-transfer sessions, their duration and
// their bytes (object data and protocol lines) as the Git service
// "lfs-transfer".
func (m *Metrics) LFS(next gatehouse.LFSService) gatehouse.LFSService {
	return lfsService{LFSService: next, m: m}
}

type lfsService struct {
	gatehouse.LFSService
	m *Metrics
}

func (l lfsService) ServeLFS(ctx context.Context, s gatehouse.LFSSession) error {
	gs := gatehouse.GitSession{Stdin: s.Stdin, Stdout: s.Stdout}
	done := l.m.gitStart("lfs-transfer", &gs)
	s.Stdin, s.Stdout = gs.Stdin, gs.Stdout
	err := l.LFSService.ServeLFS(ctx, s)
	done(err)
	return err
}

// gitStart wraps the session's streams to count bytes and returns the
// function that records the outcome.
func (m *Metrics) gitStart(service string, s *gatehouse.GitSession) func(error) {
	start := time.Now()
	in, out := &countingReader{r: s.Stdin}, &countingWriter{w: s.Stdout}
	s.Stdin, s.Stdout = in, out
	return func(err error) {
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		m.gitOps.WithLabelValues(service, outcome).Inc()
		m.gitDuration.WithLabelValues(service).Observe(time.Since(start).Seconds())
		m.gitBytes.WithLabelValues(service, "received").Add(float64(in.n.Load()))
		m.gitBytes.WithLabelValues(service, "sent").Add(float64(out.n.Load()))
	}
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// HTTP counts requests by route pattern (never the raw path: that would
// make a label value per repository and per attacker's guess). It has
// the shape web.Server.Instrument expects.
func (m *Metrics) HTTP(next http.Handler, route func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			rt := route(r)
			m.httpRequests.WithLabelValues(method(r.Method), rt, strconv.Itoa(sw.code)).Inc()
			m.httpDuration.WithLabelValues(rt).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(sw, r)
	})
}

// method keeps the label to the methods we serve.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return m
	}
	return "other"
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
