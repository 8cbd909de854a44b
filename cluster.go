package gatehouse

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// Several Gatehouse nodes may serve one data folder and one database
// behind a load balancer (README "Running several nodes"). What they must
// agree on goes through the two services below; a single node on SQLite
// needs neither (its in-process locks and lock files are enough).

// ErrBusy: another node holds what was asked for (a repository's write
// lock) past the wait allowed. Nothing was changed; retrying later is
// the remedy, and the message may say so to the client.
var ErrBusy = errors.New("busy, retry")

// RepoLocker serialises the writes to one repository across every node:
// a push's ref transaction and a repository's maintenance hold it.
type RepoLocker interface {
	// LockRepo takes the write lock of the repository with id, waiting
	// at most wait for it (0: try once). It returns the release, which
	// must be called once.
	//
	// Errors: ErrBusy when another holder keeps it past wait; ctx's
	// error; the database's.
	LockRepo(ctx context.Context, id int64, wait time.Duration) (unlock func(), err error)
}

// AuthFailures counts failed logins per client address for every node
// together, so that an attacker cannot multiply the limit by the number
// of nodes. Only failures write; a login asks Banned, one read.
type AuthFailures interface {
	// Banned returns until when addr is refused, or the zero time.
	Banned(ctx context.Context, addr netip.Addr) (time.Time, error)
	// AddFailure counts a failed login from addr at now in the window
	// that started at most window ago. Past max failures in it, addr is
	// banned until now+ban and its count starts again. It returns the
	// failures counted in the window (max+1 when this one started the
	// ban) and whether it did.
	AddFailure(ctx context.Context, addr netip.Addr, now time.Time, window time.Duration, max int, ban time.Duration) (failures int, banned bool, err error)
}
