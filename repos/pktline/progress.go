package pktline

import (
	"fmt"
	"io"
	"time"
)

// Progress writes git's progress lines, the ones a client prints from
// side-band 2: "Resolving deltas:  42% (21/50)\r" while a phase runs and
// "Resolving deltas: 100% (50/50), done.\n" when it ends, or a bare
// count ("Enumerating objects: 12, done.") when the total is not known.
// Running lines come at most once per interval, the first an interval
// after NewProgress, so quick operations show only their final lines.
// A nil *Progress is quiet. Write errors are left for the writes that
// follow to find (a side-band's errors stick).
type Progress struct {
	w     io.Writer
	every time.Duration
	flush func() error // after each line, if set
	last  time.Time
}

// NewProgress returns a Progress writing to w, or nil (quiet) if w is
// nil. flush, if set, is called after every line so it reaches the
// client at once.
func NewProgress(w io.Writer, every time.Duration, flush func() error) *Progress {
	if w == nil {
		return nil
	}
	return &Progress{w: w, every: every, flush: flush, last: time.Now()}
}

// Count reports n things done so far, if an interval has passed.
func (p *Progress) Count(title string, n int) {
	if p.due() {
		p.Printf("%s: %d\r", title, n)
	}
}

// CountDone ends a phase counted by Count.
func (p *Progress) CountDone(title string, n int) {
	p.Printf("%s: %d, done.\n", title, n)
}

// Percent reports n of total done, if an interval has passed.
func (p *Progress) Percent(title string, n, total int) {
	if p.due() {
		p.Printf("%s: %3d%% (%d/%d)\r", title, percent(n, total), n, total)
	}
}

// PercentDone ends a phase reported by Percent, with tail ("done.").
func (p *Progress) PercentDone(title string, n, total int, tail string) {
	p.Printf("%s: %3d%% (%d/%d), %s\n", title, percent(n, total), n, total, tail)
}

// Printf writes a line of its own, unthrottled.
func (p *Progress) Printf(format string, args ...any) {
	if p == nil {
		return
	}
	fmt.Fprintf(p.w, format, args...)
	if p.flush != nil {
		p.flush()
	}
}

// due says whether an interval has passed since the last running line.
func (p *Progress) due() bool {
	if p == nil {
		return false
	}
	now := time.Now()
	if now.Sub(p.last) < p.every {
		return false
	}
	p.last = now
	return true
}

func percent(n, total int) int {
	if total == 0 {
		return 100
	}
	return n * 100 / total
}
