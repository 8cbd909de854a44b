package hooks

import "io"

// output forwards the hooks' output of one push to the client, up to a
// number of bytes and lines; past either it forwards nothing more but
// keeps reading, so a hook is never blocked on a full pipe and the
// server's memory stays at one buffer whatever a hook prints.
type output struct {
	w            io.Writer // nil drops everything
	bytes, lines int       // what may still be forwarded
	cut          bool      // the bound was reached and the client told
	failed       bool      // w failed (client gone): forward no more
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
	if o.w == nil || o.failed || o.cut {
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
	clean := b[:n]
	for i, c := range clean {
		if c < ' ' && c != '\n' && c != '\r' && c != '\t' || c == 0x7f {
			clean[i] = '?'
		}
	}
	o.write(clean)
	if n < len(b) {
		o.cut = true
		o.write([]byte("\n(hook output cut: more than the server forwards for one push)\n"))
	}
}

// note tells the client something about the hooks themselves.
func (o *output) note(msg string) {
	if o.w != nil && !o.failed {
		o.write([]byte(msg + "\n"))
	}
}

func (o *output) write(b []byte) {
	if _, err := o.w.Write(b); err != nil {
		o.failed = true
	}
}
