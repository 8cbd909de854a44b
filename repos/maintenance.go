package repos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"gatehouse"
	"gatehouse/repos/maintain"
)

// maintenance runs background repacks (repos/maintain) after pushes: one
// at a time per repository, at most maxRepacks at once in the process.
type maintenance struct {
	once   sync.Once
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	slots  chan struct{} // one per repack allowed to run
	wg     sync.WaitGroup

	mu     sync.Mutex
	queued map[string]bool // repositories waiting or being repacked; guarded by mu
	closed bool            // guarded by mu
}

// maxRepacks bounds the repacks running at once: each reads and writes a
// whole repository, and clones and pushes go first.
const maxRepacks = 1

// repackDelay is how long a repack asked for by a push waits before it
// starts: the push's session (its transport, audit entries and events)
// ends and its memory is collected first, so the two peaks do not add
// up, and the pushes of a burst (CI pushing tags one by one) share one
// repack.
const repackDelay = time.Second

func (m *maintenance) init() {
	m.once.Do(func() {
		m.ctx, m.cancel = context.WithCancel(context.Background())
		m.slots = make(chan struct{}, maxRepacks)
		m.queued = make(map[string]bool)
	})
}

// busy reports whether a repack of dir is queued or running here, or the
// server is closing.
func (m *maintenance) busy(dir string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed || m.queued[dir]
}

// maybeRepack starts a background repack of r if its repository needs
// one (Service.Maintenance) and none is queued or running for it. The
// outcome is logged.
func (s *Service) maybeRepack(r *gatehouse.Repo, dir string) {
	m := &s.maint
	m.init()
	if m.busy(dir) || !s.Maintenance.Needed(dir) {
		return // a queued repack will see what this push did
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.queued[dir] {
		return
	}
	m.queued[dir] = true
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer func() {
			m.mu.Lock()
			delete(m.queued, dir)
			m.mu.Unlock()
		}()
		wait := time.NewTimer(repackDelay)
		defer wait.Stop()
		select {
		case <-wait.C:
		case <-m.ctx.Done():
			return
		}
		select {
		case m.slots <- struct{}{}:
		case <-m.ctx.Done():
			return
		}
		defer func() { <-m.slots }()
		// What the push left is garbage by now: collected, its pages
		// are what the repack allocates into.
		runtime.GC()
		log := s.Logger.With("repo", r.FullName())
		st, err := s.repack(m.ctx, r.ID, dir, true)
		switch {
		case errors.Is(err, errNotNeeded) && !exists(dir):
			log.Info("repack abandoned: the repository was removed")
		case errors.Is(err, errNotNeeded):
			log.Info("repack skipped: done meanwhile")
		case errors.Is(err, maintain.ErrBusy):
			log.Info("repack skipped: already running")
		case errors.Is(err, gatehouse.ErrBusy):
			log.Info("repack skipped: another node is maintaining the repository")
		case err != nil && !exists(dir):
			log.Info("repack abandoned: the repository was removed", "err", err)
		case err != nil && m.ctx.Err() != nil:
			// Shutdown cancelled it: nothing is wrong, the next push asks again.
			log.Info("repack cancelled by shutdown", "err", err)
		case err != nil:
			log.Error("repack failed", "err", err)
		default:
			log.Info("repacked", "pack", st.Pack, "objects", st.Objects, "packs_in", st.PacksIn,
				"bitmaps", st.Bitmaps, "removed", st.Removed, "duration", st.Duration.Round(time.Millisecond))
		}
	}()
}

// Repack repacks owner/name in the foreground (see maintain.Repack).
//
// Errors: gatehouse.ErrNotFound for an unknown repository or one missing
// on disk, maintain.ErrBusy when a repack of it is already running (in
// any process), and maintain.Repack's.
func (s *Service) Repack(ctx context.Context, owner, name string) (maintain.Stats, error) {
	r, err := s.RepoStore.FindRepo(ctx, owner, name)
	if err != nil {
		return maintain.Stats{}, err
	}
	dir, err := s.Dir(owner, name)
	if err != nil {
		return maintain.Stats{}, err
	}
	if _, err := os.Stat(dir); err != nil {
		return maintain.Stats{}, fmt.Errorf("repository %s/%s on disk: %w", owner, name, gatehouse.ErrNotFound)
	}
	st, err := s.repack(ctx, r.ID, dir, false)
	if errors.Is(err, maintain.ErrBusy) || errors.Is(err, gatehouse.ErrBusy) {
		return st, fmt.Errorf("repack of %s/%s is busy: %w", owner, name, err)
	}
	return st, err
}

// errNotNeeded: a background repack found, once it held the lock, that
// the repository no longer needs one (another node's repack ran while
// it waited for its turn).
var errNotNeeded = errors.New("repack no longer needed")

// repack runs maintain.Repack on the repository with id at dir, holding
// its write lock across the nodes (Locker) without waiting for it: a
// node that cannot take it at once leaves the repository to the one
// that holds it. With recheck, the policy is asked again once the lock
// is held, so that repacks asked for on two nodes at once run once.
//
// Errors: gatehouse.ErrBusy when another node holds the lock,
// errNotNeeded, and maintain.Repack's.
func (s *Service) repack(ctx context.Context, id int64, dir string, recheck bool) (maintain.Stats, error) {
	if s.Locker != nil {
		unlock, err := s.Locker.LockRepo(ctx, id, 0)
		if err != nil {
			return maintain.Stats{}, fmt.Errorf("maintain: %w", err)
		}
		defer unlock()
	}
	if recheck && !s.Maintenance.Needed(dir) {
		return maintain.Stats{}, errNotNeeded
	}
	return maintain.Repack(ctx, dir)
}

// SweepInBackground sweeps every repository on disk (maintain.Sweep: what
// pushes and repacks killed midway left, and nothing a live one uses)
// and the repositories root (sweepRoot: killed creations and removals),
// one after the other in the background, logging what it removes. The
// server starts it when it starts; Close stops it.
func (s *Service) SweepInBackground() {
	m := &s.maint
	m.init()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		start := time.Now()
		repos, err := s.onDisk()
		if err != nil {
			s.Logger.Error("sweep: list repositories", "err", err)
			return
		}
		var n int
		for _, d := range repos {
			if m.ctx.Err() != nil {
				return
			}
			left, err := maintain.Sweep(d.Dir, true)
			for _, l := range left {
				s.Logger.Info("swept", "repo", d.Repo, "kind", l.Kind, "path", l.Path, "bytes", l.Bytes)
			}
			n += len(left)
			if err != nil {
				s.Logger.Error("sweep failed", "repo", d.Repo, "err", err)
			}
		}
		left, err := sweepRoot(s.Root, true) // killed creations and removals
		for _, l := range left {
			s.Logger.Info("swept", "kind", l.Kind, "path", l.Path, "bytes", l.Bytes)
		}
		n += len(left)
		if err != nil {
			s.Logger.Error("sweep failed", "err", err)
		}
		s.Logger.Info("sweep done", "repos", len(repos), "swept", n, "duration", time.Since(start).Round(time.Millisecond))
	}()
}

// Close stops background maintenance: running repacks are cancelled
// (they leave the repository as it was) and waited for. Later pushes
// start none. Server hooks still running (post-receive outlives its
// client) are killed with their process groups and waited for; later
// pushes run none and are refused.
func (s *Service) Close() {
	s.hooks.Close()
	m := &s.maint
	m.init()
	m.mu.Lock()
	m.closed = true
	m.cancel()
	m.mu.Unlock()
	m.wg.Wait()
}

// exists says whether a repository directory is still there.
func exists(dir string) bool {
	_, err := os.Stat(dir)
	return err == nil
}
