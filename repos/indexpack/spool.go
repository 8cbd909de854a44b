package indexpack

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
)

// spool copies the pack from the client to the quarantine file as fast
// as it arrives, in a goroutine of its own, while scan parses the file
// behind it. What the client has sent then waits on disk (in the page
// cache), not in memory: an SSH channel's buffers hold up to its window
// (2 MiB) of data the server has not read yet, and scan, which inflates
// and hashes every object, reads slower than a client on a fast link
// sends.
//
// The spool reads r until its end or an error, so it may read, and
// drop, bytes past the pack; a caller hands Receive a reader it will not
// read again. After stop, the goroutine touches nothing but r and its
// own buffer, and ends when r's Read returns.
type spool struct {
	f   *os.File
	max int64 // bytes it may store, 0 for no bound

	mu      sync.Mutex
	wrote   int64 // bytes in f
	err     error // why nothing more will come (io.EOF at r's end)
	stopped bool
	more    chan struct{} // a token when wrote or err changed
}

func startSpool(f *os.File, r io.Reader, max int64) *spool {
	s := &spool{f: f, max: max, more: make(chan struct{}, 1)}
	go s.run(r)
	return s
}

func (s *spool) run(r io.Reader) {
	buf := make([]byte, 64<<10)
	for {
		n, rerr := r.Read(buf)
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			return
		}
		var err error
		if s.max > 0 && s.wrote+int64(n) > s.max {
			// What fits is kept: the pack may end before the bound.
			n = int(s.max - s.wrote)
			err = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, s.max)
		}
		if n > 0 {
			// Under the lock, so that once stop returns no write is under
			// way and the file may be closed.
			if _, werr := s.f.WriteAt(buf[:n], s.wrote); werr != nil {
				err = fmt.Errorf("pack: write quarantine: %w", werr)
			} else {
				s.wrote += int64(n)
			}
		}
		if err == nil {
			err = rerr
		}
		s.err = err
		s.mu.Unlock()
		select {
		case s.more <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// stop ends the spool's use of the file; bytes still arriving are
// dropped. It returns how many bytes the file holds.
func (s *spool) stop() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	return s.wrote
}

// spoolReader reads the spooled file from the start, waiting for the
// spool when it has caught up with it.
type spoolReader struct {
	ctx context.Context
	s   *spool
	off int64
}

// Read returns io.EOF only at the end of what the client sent.
func (r *spoolReader) Read(p []byte) (int, error) {
	for {
		r.s.mu.Lock()
		avail, err := r.s.wrote-r.off, r.s.err
		r.s.mu.Unlock()
		if avail > 0 {
			n, err := r.s.f.ReadAt(p[:min(int64(len(p)), avail)], r.off)
			r.off += int64(n)
			if err == io.EOF && n > 0 {
				err = nil
			}
			return n, err
		}
		if err != nil {
			return 0, err
		}
		select {
		case <-r.s.more:
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}
