package sshd

import (
	"context"
	"net"
	"sync"
)

// inflight counts the work that may still use the services the server
// was given (the key store, the audit log, the repositories): every
// connection from its accept to its end, handshake included, every
// session and every audit write. Shutdown waits for it, so that whoever
// closes those services after the server does not pull them from under a
// login or a clone.
type inflight struct {
	mu     sync.Mutex // guards the fields below
	n      int
	idle   chan struct{} // closed when n drops to zero
	closed bool          // nothing may start any more
	conns  map[net.Conn]struct{}
}

// start counts one piece of work; false (and nothing counted) once the
// server is closed. Each true must be paired with done.
func (f *inflight) start() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	if f.n == 0 {
		f.idle = make(chan struct{})
	}
	f.n++
	return true
}

func (f *inflight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n--; f.n == 0 {
		close(f.idle)
	}
}

// startConn is start for an accepted connection, which closeConns can
// then cut.
func (f *inflight) startConn(c net.Conn) bool {
	if !f.start() {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		f.conns = map[net.Conn]struct{}{}
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *inflight) doneConn(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	f.done()
}

// closeConns closes every connection still open, in the handshake or
// not; what runs on them sees its reads fail and its context end.
func (f *inflight) closeConns() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
}

// drain waits until nothing is in flight, then closes f so that nothing
// starts after it returns; or returns ctx's error when ctx ends first.
func (f *inflight) drain(ctx context.Context) error {
	for {
		f.mu.Lock()
		if f.n == 0 {
			f.closed = true
			f.mu.Unlock()
			return nil
		}
		idle := f.idle
		f.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// close closes f whatever is still in flight.
func (f *inflight) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
}
