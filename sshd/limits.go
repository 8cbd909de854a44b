package sshd

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"gatehouse"
)

// Limits bound what one client, one connection and everyone together may
// use. Each is a serve flag, and README's Hardening table lists them with
// their defaults. Zero means the default (see withDefaults); a negative
// count means no limit (not advised).
type Limits struct {
	// AuthTimeout bounds the handshake and authentication. Default 30s.
	AuthTimeout time.Duration
	// IdleTimeout closes a connection with no traffic for this long; a
	// clone that is moving data is never cut, since every read and write
	// pushes the deadline back. Default 10m.
	IdleTimeout time.Duration
	// MaxAuthTries bounds the keys one connection may try. Default 6.
	MaxAuthTries int
	// MaxAuthFailures bounds failed authentications per client address per
	// minute; past it the address is refused for AuthBan. Default 20.
	MaxAuthFailures int
	// AuthBan is how long an address is refused after too many failed
	// logins. Default 10m.
	AuthBan time.Duration
	// AuthFailDelay slows a guesser: failures past half of
	// MaxAuthFailures are answered after it. Default 1s.
	AuthFailDelay time.Duration
	// MaxConnsPerAddr bounds concurrent connections from one address.
	// Default 16.
	MaxConnsPerAddr int
	// MaxSessionsPerUser bounds concurrent sessions of one user (or deploy
	// key, or anonymous address). Default 16.
	MaxSessionsPerUser int
	// MaxSessions bounds concurrent sessions of everyone. Default 256.
	MaxSessions int
	// MaxChannelsPerConn bounds the session channels one connection has
	// open, counted from the channel's opening (not its command); more are
	// rejected. Default 10, OpenSSH's MaxSessions; Git needs one channel
	// at a time.
	MaxChannelsPerConn int
	// MaxRefusalsPerConn bounds the requests one connection may have
	// refused (channels, forwarding, env, pty...); past it the connection
	// is closed. Default 100.
	MaxRefusalsPerConn int
}

// DefaultLimits returns every limit at its default.
func DefaultLimits() Limits { return Limits{}.withDefaults() }

// withDefaults returns l with each zero field set to its default: the one
// place the defaults are written down.
func (l Limits) withDefaults() Limits {
	setDefault(&l.AuthTimeout, 30*time.Second)
	setDefault(&l.IdleTimeout, 10*time.Minute)
	setDefault(&l.MaxAuthTries, 6)
	setDefault(&l.MaxAuthFailures, 20)
	setDefault(&l.AuthBan, 10*time.Minute)
	setDefault(&l.AuthFailDelay, time.Second)
	setDefault(&l.MaxConnsPerAddr, 16)
	setDefault(&l.MaxSessionsPerUser, 16)
	setDefault(&l.MaxSessions, 256)
	setDefault(&l.MaxChannelsPerConn, 10)
	setDefault(&l.MaxRefusalsPerConn, 100)
	return l
}

// setDefault sets *v to def when it is zero.
func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// maxAuditedRefusals bounds the refused requests audited one by one per
// address per minute, whatever their names; the rest are only logged.
const maxAuditedRefusals = 8

// failWindow is the window MaxAuthFailures counts in.
const failWindow = time.Minute

// maxTracked bounds the addresses the limiter remembers, so that a flood
// from many addresses cannot grow it without end; past it, entries with
// nothing left to remember are dropped first.
const maxTracked = 100_000

// limiter counts, per client address, failed authentications (and bans
// the address once they exceed the budget) and open connections, and per
// actor the open sessions. Addresses are keyed by addrKey: an IPv6
// client is one /64, since that is what one host usually gets.
type limiter struct {
	now func() time.Time

	maxFailures int
	ban         time.Duration
	maxConns    int
	maxSessions int // all actors together
	maxPerActor int
	// shared, when set, counts failures and bans for every node
	// together (Server.AuthFailures); the counts here are kept too, so
	// that a database that cannot be reached leaves this node's limit.
	shared gatehouse.AuthFailures

	mu       sync.Mutex // guards the fields below
	addrs    map[netip.Addr]*addrState
	sessions map[string]int // open sessions per actor
	total    int            // open sessions in all
	noted    map[string]time.Time
}

type addrState struct {
	windowStart time.Time
	failures    int // in the window from windowStart
	bannedUntil time.Time
	conns       int
	auditStart  time.Time
	audited     int // refusals audited in the window from auditStart
}

func newLimiter(maxFailures int, ban time.Duration, maxConns, maxSessions, maxPerActor int) *limiter {
	return &limiter{
		now: time.Now, maxFailures: maxFailures, ban: ban, maxConns: maxConns,
		maxSessions: maxSessions, maxPerActor: maxPerActor,
		addrs: map[netip.Addr]*addrState{}, sessions: map[string]int{}, noted: map[string]time.Time{},
	}
}

// addrKey maps a remote address to the key its limits are counted under.
func addrKey(a net.Addr) netip.Addr {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		// Not TCP (a test pipe): one shared bucket.
		return netip.Addr{}
	}
	return gatehouse.AddrBucket(ap.Addr())
}

// state returns the entry for ip, creating it; l.mu must be held.
func (l *limiter) state(ip netip.Addr) *addrState {
	st := l.addrs[ip]
	if st == nil {
		if len(l.addrs) >= maxTracked {
			l.prune()
		}
		st = &addrState{}
		l.addrs[ip] = st
	}
	return st
}

// prune drops entries that hold no ban, no connection and no recent
// failure; l.mu must be held.
func (l *limiter) prune() {
	now := l.now()
	for ip, st := range l.addrs {
		if st.conns == 0 && now.After(st.bannedUntil) && now.Sub(st.windowStart) > failWindow && now.Sub(st.auditStart) > failWindow {
			delete(l.addrs, ip)
		}
	}
	for k, t := range l.noted {
		if now.Sub(t) > failWindow {
			delete(l.noted, k)
		}
	}
}

// sharedTimeout bounds one question to the shared failure counts.
const sharedTimeout = 2 * time.Second

// banned reports whether ip is refused for now, and until when.
func (l *limiter) banned(ip netip.Addr) (bool, time.Time) {
	if b, until := l.bannedHere(ip); b || l.shared == nil {
		return b, until
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	until, err := l.shared.Banned(ctx, ip)
	if err != nil || !l.now().Before(until) {
		return false, time.Time{}
	}
	// Remembered here, so that the rest of a banned flood costs the
	// database nothing.
	l.mu.Lock()
	if st := l.state(ip); until.After(st.bannedUntil) {
		st.bannedUntil = until
	}
	l.mu.Unlock()
	return true, until
}

func (l *limiter) bannedHere(ip netip.Addr) (bool, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.addrs[ip]
	if st == nil || !l.now().Before(st.bannedUntil) {
		return false, time.Time{}
	}
	return true, st.bannedUntil
}

// fail records a failed authentication from ip, here and in the shared
// counts. It returns how many failures ip has in the current window (the
// larger count) and whether this one started a ban.
func (l *limiter) fail(ip netip.Addr) (failures int, banStarted bool) {
	failures, banStarted = l.failHere(ip)
	if l.shared == nil || banStarted {
		return failures, banStarted
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	n, b, err := l.shared.AddFailure(ctx, ip, l.now(), failWindow, l.maxFailures, l.ban)
	if err != nil {
		return failures, banStarted
	}
	return max(n, failures), b
}

func (l *limiter) failHere(ip netip.Addr) (failures int, banStarted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	st := l.state(ip)
	if now.Sub(st.windowStart) > failWindow {
		st.windowStart, st.failures = now, 0
	}
	st.failures++
	if l.maxFailures > 0 && st.failures > l.maxFailures && !now.Before(st.bannedUntil) {
		st.bannedUntil = now.Add(l.ban)
		// The ban is the punishment; a fresh window starts after it.
		st.windowStart, st.failures = st.bannedUntil, 0
		return l.maxFailures + 1, true
	}
	return st.failures, false
}

// openConn counts a new connection from ip; false (and nothing counted)
// if ip has maxConns open already. Each true must be paired with closeConn.
func (l *limiter) openConn(ip netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.state(ip)
	if l.maxConns > 0 && st.conns >= l.maxConns {
		return false
	}
	st.conns++
	return true
}

func (l *limiter) closeConn(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.addrs[ip]; st != nil && st.conns > 0 {
		st.conns--
	}
}

// openSession counts a session of actor. It returns "" and counts it, or
// names the limit that refuses it. Each "" must be paired with
// closeSession.
func (l *limiter) openSession(actor string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.maxSessions > 0 && l.total >= l.maxSessions:
		return "sessions in all"
	case l.maxPerActor > 0 && l.sessions[actor] >= l.maxPerActor:
		return "sessions per user"
	}
	l.total++
	l.sessions[actor]++
	return ""
}

func (l *limiter) closeSession(actor string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sessions[actor] > 0 {
		l.total--
		if l.sessions[actor]--; l.sessions[actor] == 0 {
			delete(l.sessions, actor)
		}
	}
}

// noteOnce reports whether key was not noted in the last minute, and
// notes it. Refusals repeated in a flood are audited once a minute, so an
// attacker cannot fill the audit log.
func (l *limiter) noteOnce(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if t, ok := l.noted[key]; ok && now.Sub(t) < failWindow {
		return false
	}
	if len(l.noted) >= maxTracked {
		l.prune()
	}
	l.noted[key] = now
	return true
}

// auditRefusal reports whether a refused request from ip may still be
// audited one by one this minute, and counts it.
func (l *limiter) auditRefusal(ip netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	st := l.state(ip)
	if now.Sub(st.auditStart) > failWindow {
		st.auditStart, st.audited = now, 0
	}
	if st.audited >= maxAuditedRefusals {
		return false
	}
	st.audited++
	return true
}

// connCounts is what one connection holds open and has been refused.
type connCounts struct {
	maxChannels int // session channels open at once
	maxRefusals int // refused requests before the connection is closed

	mu       sync.Mutex // guards the fields below
	channels int
	refused  int
	audited  []string // names of the refusals audited, at most maxAuditedRefusals
}

// openChannel counts a session channel; false (and nothing counted) if
// maxChannels are open. Each true must be paired with closeChannel.
func (c *connCounts) openChannel() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.maxChannels > 0 && c.channels >= c.maxChannels {
		return false
	}
	c.channels++
	return true
}

func (c *connCounts) closeChannel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.channels--
}

// refuse counts a refused request named what. first reports the first
// refusal of that name on the connection while only a few have been
// audited; over that the connection is past maxRefusals, crossed that
// this refusal is the one that went past.
func (c *connCounts) refuse(what string) (first, over, crossed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refused++
	if c.maxRefusals > 0 && c.refused > c.maxRefusals {
		return false, true, c.refused == c.maxRefusals+1
	}
	if len(c.audited) >= maxAuditedRefusals || slices.Contains(c.audited, what) {
		return false, false, false
	}
	c.audited = append(c.audited, what)
	return true, false, false
}

// countedConn releases its connection slot once, however often it is
// closed.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
