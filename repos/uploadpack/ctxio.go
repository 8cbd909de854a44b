package uploadpack

import (
	"bufio"
	"context"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
)

// ctxReader makes reads give up when ctx is done. A plain io.Reader cannot
// be interrupted, so a goroutine does the reads into its own buffer and
// hands over what it got; after ctx ends it exits as soon as the read in
// progress returns (when the caller closes the channel).
type ctxReader struct {
	ctx     context.Context
	r       io.Reader
	req     chan struct{} // one request for the goroutine to read once
	res     chan readResult
	pending []byte // read but not yet returned; aliases the goroutine's buffer
	err     error
}

type readResult struct {
	b   []byte
	err error
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if len(c.pending) == 0 && c.err == nil {
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return 0, c.err
}

// fill waits for one read by the goroutine. The goroutine only reuses its
// buffer when asked again, which happens once pending is drained.
func (c *ctxReader) fill() error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	if c.req == nil {
		c.req = make(chan struct{})
		c.res = make(chan readResult)
		go c.loop()
	}
	select {
	case c.req <- struct{}{}:
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
	select {
	case r := <-c.res:
		c.pending, c.err = r.b, r.err
		return nil
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
}

func (c *ctxReader) loop() {
	buf := make([]byte, 32<<10)
	for {
		select {
		case <-c.req:
		case <-c.ctx.Done():
			return
		}
		n, err := c.r.Read(buf)
		if n == 0 && err == nil {
			// io.Reader allows it; treat as no progress and let the
			// caller ask again rather than spin here.
			err = io.ErrNoProgress
		}
		select {
		case c.res <- readResult{buf[:n], err}:
		case <-c.ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// ctxWriter refuses to write once ctx is done, so a long pack stops at
// the next write after the client went away.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// ctxStorer fails object reads once ctx is done, so that a long walk
// stops soon after the conversation ends.
type ctxStorer struct {
	objectReader
	ctx context.Context
}

func (s *ctxStorer) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	return s.objectReader.EncodedObject(t, h)
}

func (s *ctxStorer) readWhole(t plumbing.ObjectType, h plumbing.Hash, buf []byte) ([]byte, error) {
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	return readTyped(s.objectReader, t, h, buf)
}

// flushingReader flushes the output buffer before every read of the
// input. The pkt-line reader above it is buffered, so this read happens
// only when we would otherwise block waiting for the client.
type flushingReader struct {
	r io.Reader
	w *bufio.Writer
}

func (f *flushingReader) Read(p []byte) (int, error) {
	if f.w.Buffered() > 0 {
		if err := f.w.Flush(); err != nil {
			return 0, err
		}
	}
	return f.r.Read(p)
}
