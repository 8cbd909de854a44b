package hooks

import (
	"io"
	"sync"
)

// output forwards the hooks' output of one push to the client, up to a
// number of bytes and lines; past either it forwards nothing more but
// keeps reading, so a hook is never blocked on a full pipe and the
// server's memory stays at one buffer whatever a hook prints.
//
// One write to the client is in flight at a time. A write the client
// does not read blocks until the session ends; a hook that is done does
// not wait for it (see Push.run): the output is dropped from then on
// and Push.Wait waits for that last write instead, before the push
// writes to the client itself.
type output struct {
	w io.Writer // nil drops everything

	mu           sync.Mutex
	bytes, lines int           // what may still be forwarded
	cut          bool          // the bound was reached and the client told
	failed       bool          // w failed (client gone) or blocked past a hook's end: forward no more
	writing      chan struct{} // closed when the write in flight returns; nil when none
}

// copyFrom reads r to its end (or its read deadline) and forwards what
// fits.
func (o *output) copyFrom(r io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			o.forward(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// forward sends b, or the part of it within the bounds, with the
// characters a terminal would act on (escape sequences) shown as '?'.
func (o *output) forward(b []byte) {
	o.mu.Lock()
	if o.w == nil || o.failed || o.cut {
		o.mu.Unlock()
		return
	}
	n := min(len(b), o.bytes)
	lines := 0
	for i := 0; i < n; i++ {
		if b[i] == '\n' {
			if lines++; lines == o.lines {
				n = i + 1
				break
			}
		}
	}
	if o.lines == 0 {
		n, lines = 0, 0
	}
	o.bytes -= n
	o.lines -= lines
	cut := n < len(b)
	o.cut = cut
	o.mu.Unlock()
	clean := b[:n]
	for i, c := range clean {
		if c < ' ' && c != '\n' && c != '\r' && c != '\t' || c == 0x7f {
			clean[i] = '?'
		}
	}
	o.write(clean)
	if cut {
		o.write([]byte("\n(hook output cut: more than the server forwards for one push)\n"))
	}
}

// note tells the client something about the hooks themselves.
func (o *output) note(msg string) {
	o.write([]byte(msg + "\n"))
}

// write sends b unless the output failed or another write is in flight
// (only a write abandoned by a hook that is done can be: the output has
// failed then).
func (o *output) write(b []byte) {
	o.mu.Lock()
	if o.w == nil || o.failed || o.writing != nil {
		o.mu.Unlock()
		return
	}
	done := make(chan struct{})
	o.writing = done
	o.mu.Unlock()
	_, err := o.w.Write(b)
	o.mu.Lock()
	if err != nil {
		o.failed = true
	}
	o.writing = nil
	close(done)
	o.mu.Unlock()
}

// drop forwards nothing more: the client has not read what was written
// while a hook ran to its end or its deadline.
func (o *output) drop() {
	o.mu.Lock()
	o.failed = true
	o.mu.Unlock()
}

// wait returns once no write is in flight.
func (o *output) wait() {
	o.mu.Lock()
	done := o.writing
	o.mu.Unlock()
	if done != nil {
		<-done
	}
}
