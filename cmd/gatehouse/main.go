// Command gatehouse is the Gatehouse server and its admin command line.
// This is the only package that wires the others together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"gatehouse"
	"gatehouse/backend"
	"gatehouse/keys"
	"gatehouse/lfs"
	"gatehouse/migrations"
	"gatehouse/repos"
	"gatehouse/sshd"
	"gatehouse/web"
	"gatehouse/webhook"
)

// The build, set by packaging/release.sh with -ldflags "-X main.Version=...
// -X main.Commit=... -X main.BuildDate=...". Without them, Commit and
// BuildDate come from what go build recorded of the checkout, if anything.
var (
	Version   = "0.1.0-dev"
	Commit    = ""
	BuildDate = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Config is what serve is configured with.
type Config struct {
	Data string
	// DB is the database (--db): empty for SQLite in the data folder, or
	// a postgres:// URL (see keys.OpenURL).
	DB            string
	SSHAddr       string
	HTTPAddr      string
	AdminKey      string
	AnonRead      bool
	AllowCIDR     []netip.Prefix
	NoCompatMACs  bool
	MaxPushSize   int64
	MaxObjectSize int64
	MaxRefUpdates int
	ShutdownGrace time.Duration
	// HookTimeout bounds each server hook of a push (DATA/hooks).
	HookTimeout time.Duration
	// MaxLFSObjectSize bounds one Git LFS object; LFSQuota the LFS bytes
	// of one repository (0: no quota).
	MaxLFSObjectSize int64
	LFSQuota         int64

	// Limits of the SSH server (sshd.DefaultLimits for the defaults).
	sshd.Limits
	// MaxReposPerUser bounds the repositories one owner may have.
	MaxReposPerUser int
	// KeyBlocklist is the compromised-key fingerprint file; empty means
	// DATA/key-blocklist if it exists.
	KeyBlocklist string
	// ProxyFrom lists the load balancers that send a PROXY protocol header.
	ProxyFrom []netip.Prefix
	// UserCA lists files of trusted user certificate authorities;
	// RevokedCerts is the revoked certificates file (see sshd.RevocationList).
	UserCA       []string
	RevokedCerts string

	// Web panel: see webFlags.
	PublicURL  string
	PublicHost string

	// WebhookAllow lists the private or loopback networks webhooks may
	// reach (--webhook-allow); WebhookBackoff shortens the retry waits in
	// tests.
	WebhookAllow   []netip.Prefix
	WebhookBackoff time.Duration

	// StepUpWindow is how long `2fa-verify` opens a window.
	StepUpWindow time.Duration

	// LogLevel is the least level logged; SIGHUP re-reads it from the
	// configuration file.
	LogLevel slog.Level

	// NodeName names this node in /healthz; LockWait bounds
	// a push's wait for its repository's lock held by another node (see
	// cluster.go).
	NodeName string
	LockWait time.Duration
}

// Main is the running server: its configuration and its parts.
type Main struct {
	Config Config

	DB    *keys.DB
	Repos *repos.Service
	SSH   *sshd.Server
	HTTP  *web.Server

	// Webhooks is the webhook store; its MatchQueries counts the lookups
	// events cost.
	Webhooks *keys.WebhookService

	Stdout io.Writer
	Logger *slog.Logger

	webhooks *webhook.Worker

	web webState // set up by prepareWeb, see main_web.go

	// level is the Logger's level when serve made it, for Reload.
	level  *slog.LevelVar
	reload reloadState // see reload.go
}

// NewMain returns a Main with default configuration.
func NewMain() *Main {
	return &Main{
		Config: Config{
			Data:          "./data",
			SSHAddr:       ":2222",
			HTTPAddr:      "127.0.0.1:8080",
			MaxPushSize:   repos.DefaultMaxPushSize,
			MaxObjectSize: repos.DefaultMaxObjectSize,
			MaxRefUpdates: repos.DefaultMaxRefUpdates,
			ShutdownGrace: 30 * time.Second,
			HookTimeout:   repos.DefaultHookTimeout,

			MaxLFSObjectSize: lfs.DefaultMaxObjectSize,

			Limits:          sshd.DefaultLimits(),
			MaxReposPerUser: DefaultMaxReposPerUser,
			StepUpWindow:    gatehouse.DefaultStepUpWindow,

			NodeName: defaultNodeName(),
			LockWait: DefaultLockWait,
		},
		Stdout: os.Stdout,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
}

// ParseFlags reads serve's flags: the configuration file's (--config),
// then GATEHOUSE_* environment variables and the command line's, which
// replace the file's.
func (m *Main) ParseFlags(args []string) error {
	fs, config := m.flagSet()
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", rest[0])
	}
	if *config != "" {
		m.reload.config = *config
		fs.Visit(func(f *flag.Flag) { m.reload.levelFixed = m.reload.levelFixed || f.Name == "log-level" })
		if err := applyConfig(fs, *config, nil); err != nil {
			return err
		}
	}
	c := &m.Config
	if c.MaxPushSize <= 0 {
		return fmt.Errorf("--max-push-size must be positive")
	}
	if c.MaxObjectSize <= 0 {
		return fmt.Errorf("--max-object-size must be positive")
	}
	if c.MaxRefUpdates <= 0 {
		return fmt.Errorf("--max-ref-updates must be positive")
	}
	if c.HookTimeout <= 0 {
		return fmt.Errorf("--hook-timeout must be positive")
	}
	if c.MaxLFSObjectSize <= 0 {
		return fmt.Errorf("--max-lfs-object-size must be positive")
	}
	if c.LFSQuota < 0 {
		return fmt.Errorf("--lfs-quota must be 0 (none) or positive")
	}
	if err := checkLimits(c); err != nil {
		return err
	}
	if c.LockWait < 0 {
		return fmt.Errorf("--lock-wait must not be negative")
	}
	return nil
}

// flagSet declares serve's flags on m.Config, and --config.
func (m *Main) flagSet() (*flag.FlagSet, *string) {
	fs := newFlagSet("serve")
	c := &m.Config
	config := fs.String("config", "", "configuration file: serve's flags as name = value lines")
	fs.StringVar(&c.Data, "data", c.Data, "data folder (database, repositories, host keys)")
	fs.StringVar(&c.DB, "db", c.DB, "database: empty for SQLite in the data folder, or postgres://USER:PASSWORD@HOST/DB")
	fs.StringVar(&c.SSHAddr, "ssh-addr", c.SSHAddr, "SSH listen address")
	fs.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr, "admin panel and API listen address; empty disables it")
	fs.StringVar(&c.AdminKey, "admin-key", c.AdminKey, "public key (text or file) for the first admin, used when no user exists")
	fs.BoolVar(&c.AnonRead, "anon-read", c.AnonRead, "unknown keys may read public repositories")
	fs.Func("allow-cidr", "accept SSH only from this network (repeatable)", func(s string) error {
		for _, part := range strings.Split(s, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(part))
			if err != nil {
				return fmt.Errorf("bad CIDR %q", part)
			}
			c.AllowCIDR = append(c.AllowCIDR, p.Masked())
		}
		return nil
	})
	fs.BoolVar(&c.NoCompatMACs, "no-compat-macs", c.NoCompatMACs, "drop the non-ETM hmac-sha2 MACs kept for libssh2 1.10 clients")
	fs.Int64Var(&c.MaxPushSize, "max-push-size", c.MaxPushSize, "largest pack a push may send, in bytes")
	fs.Int64Var(&c.MaxObjectSize, "max-object-size", c.MaxObjectSize, "largest object (file) a push may add, in bytes; commits, tags and trees have smaller fixed bounds")
	fs.IntVar(&c.MaxRefUpdates, "max-ref-updates", c.MaxRefUpdates, "most ref updates (branches, tags) one push may make; a push over it is refused whole")
	fs.Int64Var(&c.MaxLFSObjectSize, "max-lfs-object-size", c.MaxLFSObjectSize, "largest Git LFS object an upload may store, in bytes")
	fs.Int64Var(&c.LFSQuota, "lfs-quota", c.LFSQuota, "most Git LFS bytes one repository may hold; 0: no quota")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", c.ShutdownGrace, "how long running operations may finish on SIGTERM")
	fs.DurationVar(&c.HookTimeout, "hook-timeout", c.HookTimeout, "how long one server hook may run before it is killed (a refusal before the update)")
	fs.DurationVar(&c.StepUpWindow, "stepup-window", c.StepUpWindow, "how long `ssh HOST 2fa-verify CODE` lets the user's operations from that address pass the step-up policy")
	fs.TextVar(&c.LogLevel, "log-level", c.LogLevel, "least level logged: debug, info, warn or error")
	limitFlags(fs, c)
	webFlags(fs, c)
	webhookFlags(fs, c)
	clusterFlags(fs, c)
	return fs, config
}

// Run opens the database and starts the SSH server. It returns once the
// server is listening; Close stops it.
func (m *Main) Run(ctx context.Context) error {
	c := m.Config
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	db, err := keys.OpenURL(c.Data, c.DB)
	if errors.Is(err, migrations.ErrNewer) {
		return fmt.Errorf("gatehouse %s cannot serve this data folder: %w", Version, err)
	}
	if err != nil {
		return err
	}
	m.DB = db
	m.Logger.Info("database", "db", db.Name) // never with its password
	if db.Postgres() {
		// Most likely a move to PostgreSQL without migrate-db: the users
		// and repositories are in that file, not in the database.
		if _, err := os.Stat(filepath.Join(c.Data, "gatehouse.db")); err == nil {
			m.Logger.Warn("the data folder has a SQLite database, which --db leaves unused; copy it with gatehouse migrate-db if it is this installation's",
				"file", filepath.Join(c.Data, "gatehouse.db"))
		}
	}
	switch {
	case len(db.Upgraded) > 0 && db.Backup == "":
		m.Logger.Info("database upgraded", "migrations", db.Upgraded)
		fmt.Fprintf(m.Stdout, "upgraded the database (%s)\n", strings.Join(db.Upgraded, ", "))
	case len(db.Upgraded) > 0:
		m.Logger.Info("database upgraded", "migrations", db.Upgraded, "backup", db.Backup)
		fmt.Fprintf(m.Stdout, "upgraded the database (%s); its previous state is in %s\n", strings.Join(db.Upgraded, ", "), db.Backup)
	}
	hostKeys, err := sshd.LoadHostKeys(c.Data)
	if err != nil {
		return err
	}
	userCAs, revoked, err := loadCertConfig(&c)
	if err != nil {
		return err
	}
	var certRevoked func(*gossh.Certificate) bool
	if revoked != nil {
		certRevoked = revoked.Revoked
	}
	svc, err := newServices(db, &c, m.Logger)
	if err != nil {
		return err
	}
	m.reload.revoked, m.reload.blocklist = revoked, svc.keys.Blocklist
	users, keySvc, deployKeys, audit := svc.users, svc.keys, svc.deployKeys, svc.audit
	m.Repos = svc.repos
	m.Repos.SweepInBackground() // what pushes and repacks killed midway left
	if err := m.startWebhooks(ctx, svc); err != nil {
		return err
	}
	if err := m.bootstrap(ctx, svc.backend); err != nil {
		return err
	}
	sshGit, err := m.prepareWeb(svc.backend)
	if err != nil {
		return err
	}
	m.SSH = &sshd.Server{
		Addr:         c.SSHAddr,
		HostKeys:     hostKeys,
		AnonRead:     c.AnonRead,
		AllowCIDR:    c.AllowCIDR,
		NoCompatMACs: c.NoCompatMACs,
		Version:      Version,

		Limits: c.Limits,

		Keys:        keySvc,
		DeployKeys:  deployKeys,
		KeyBlocked:  keySvc.Blocklist.Blocked,
		ProxyFrom:   c.ProxyFrom,
		UserCAs:     userCAs,
		CertRevoked: certRevoked,
		Users:       users,
		KeyPolicies: svc.keyPolicies,
		Repos:       m.Repos,
		Git:         sshGit,
		LFS:         m.web.metrics.LFS(svc.backend),
		Audit:       audit,
		Logger:      m.Logger.With("subsystem", "sshd"),
		Logins:      svc.backend,
		Self:        svc.backend,
		StepUp:      svc.backend,
		PublicHost:  c.PublicHost,
		PanelURL:    m.web.panelURL,
		Observer:    m.web.metrics.SSH(),

		AuthFailures: svc.authFailures,
	}
	if err := m.SSH.Open(); err != nil {
		return err
	}
	svc.sink.SetSSHBase("ssh://git@" + publicAddr(m.SSH.ListenAddr().String(), c.PublicHost) + "/")
	fmt.Fprintf(m.Stdout, "gatehouse %s: SSH listening on %s\n", Version, m.SSH.ListenAddr())
	if err := m.openWeb(ctx, svc, hostKeys); err != nil {
		return err
	}
	for _, k := range sshd.DescribeHostKeys(hostKeys) {
		fmt.Fprintf(m.Stdout, "host key %s (%s)\n", k.Fingerprint, k.Type)
	}
	fmt.Fprintf(m.Stdout, "clone with: git clone ssh://git@HOST:%s/OWNER/NAME.git\n", portOf(m.SSH.ListenAddr().String()))
	return nil
}

// bootstrap makes the first admin when there is no user yet, as the
// local operator "serve".
func (m *Main) bootstrap(ctx context.Context, b *backend.Backend) error {
	n, err := b.Users.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	ctx = gatehouse.NewContextWithActor(ctx, gatehouse.LocalActor("serve"))
	u := &gatehouse.User{Name: "admin", Admin: true}
	if err := b.CreateUser(ctx, u); err != nil {
		return fmt.Errorf("create first admin: %w", err)
	}
	if m.Config.AdminKey == "" {
		m.web.adminLink = true // printed once the panel is up
		fmt.Fprintf(m.Stdout, "created admin user \"admin\" with no key; add one with: gatehouse key add admin KEYFILE --data %s\n", m.Config.Data)
		return nil
	}
	text, err := readKeyArg(m.Config.AdminKey, nil)
	if err != nil {
		return fmt.Errorf("--admin-key: %w", err)
	}
	k, err := b.AddKey(ctx, "admin", text)
	if err != nil {
		return fmt.Errorf("--admin-key: %w", err)
	}
	fmt.Fprintf(m.Stdout, "created admin user \"admin\" with key %s\n", k.Fingerprint)
	return nil
}

// Close stops the server and closes the database.
func (m *Main) Close() error {
	var errs []error
	if m.HTTP != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		errs = append(errs, m.HTTP.Close(ctx))
		cancel()
	} else if m.web.ln != nil {
		m.web.ln.Close() // Run failed between listening and serving
	}
	if m.SSH != nil {
		errs = append(errs, m.SSH.Close())
	}
	if m.Repos != nil {
		m.Repos.Close() // background repacks and server hooks: cancelled (killed) and waited for
	}
	if m.webhooks != nil {
		m.webhooks.Close() // sends under way are cut short and retried at the next start
	}
	if m.DB != nil {
		errs = append(errs, m.DB.Close())
	}
	return errors.Join(errs...)
}

// Shutdown stops accepting and lets running operations finish within the
// grace period, then closes everything. From its start /readyz answers
// 503, so that a load balancer sends new work to the other nodes.
func (m *Main) Shutdown() error {
	if m.HTTP != nil {
		m.HTTP.Drain()
	}
	if m.SSH != nil {
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownGrace)
		defer cancel()
		if err := m.SSH.Shutdown(ctx); err != nil {
			m.Logger.Warn("shutdown grace period over; connections closed", "err", err)
		}
		m.SSH = nil
	}
	return m.Close()
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	m := NewMain()
	m.Stdout = stdout
	m.level = new(slog.LevelVar)
	m.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: m.level}))
	if err := m.ParseFlags(args); err != nil {
		fmt.Fprintf(stderr, "gatehouse serve: %v\n", err)
		return 2
	}
	m.level.Set(m.Config.LogLevel)
	setGCPercent()
	if err := m.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "gatehouse serve: %v\n", err)
		m.Close()
		return 1
	}
	m.reloadOnHangup(ctx)
	m.Logger.Info("shutting down", "grace", m.Config.ShutdownGrace)
	if err := m.Shutdown(); err != nil {
		fmt.Fprintf(stderr, "gatehouse serve: %v\n", err)
		return 1
	}
	return 0
}

// serveGCPercent is the garbage collector's target for a server: the heap
// may grow by half its live size between collections, not by all of it
// (Go's default, GOGC=100). A server's memory is judged by its peak, and a
// push of tens of thousands of refs or objects holds a few MiB live for a
// while; collecting more often costs little CPU, as the heap is small.
const serveGCPercent = 50

// setGCPercent applies serveGCPercent unless GOGC says otherwise.
func setGCPercent() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
}

func portOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[i+1:]
	}
	return addr
}

// newFlagSet makes a flag set that reports errors instead of exiting.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseInterspersed parses flags wherever they stand among the arguments
// (git and most CLIs allow `key add bob KEY --json`), after taking
// defaults from GATEHOUSE_<FLAG> environment variables.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		env := "GATEHOUSE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s: %v", env, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
