package browse

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse"
	"gatehouse/repos/odb"
)

// Commit reads the commit ref names and its changes against its first
// parent (against nothing for a root commit).
func (b *Browser) Commit(ctx context.Context, r *gatehouse.Repo, ref string) (*gatehouse.CommitDetail, error) {
	s, done, err := b.open(ctx, r)
	if err != nil {
		return nil, err
	}
	defer done()
	id, err := s.resolve(ref)
	if err != nil {
		return nil, err
	}
	c, err := s.commit(id)
	if err != nil {
		return nil, err
	}
	d := &gatehouse.CommitDetail{CommitSummary: c.summary(id), Message: c.message, Committer: c.committer}
	for _, p := range c.Parents {
		d.Parents = append(d.Parents, p.String())
	}
	var old plumbing.Hash
	if len(c.Parents) > 0 {
		pc, err := s.commit(c.Parents[0])
		if err != nil {
			return nil, err
		}
		old = pc.Tree
	}
	w := &differ{s: s, lines: MaxDiffLines}
	if err := w.trees(old, c.Tree, ""); err != nil {
		return nil, err
	}
	d.Changes, d.Truncated = w.changes, w.truncated
	return d, nil
}

// differ compares two trees into changed files, bounded in files and
// diff lines.
type differ struct {
	s         *session
	changes   []gatehouse.FileChange
	truncated bool
	lines     int // diff lines left
}

type entry struct {
	id   plumbing.Hash
	mode uint32
}

func (w *differ) entries(id plumbing.Hash) (map[string]entry, error) {
	m := map[string]entry{}
	if id.IsZero() {
		return m, nil
	}
	data, err := w.s.read(id, plumbing.TreeObject)
	if err != nil {
		return nil, err
	}
	it := odb.NewTreeIter(data)
	var e odb.TreeEntry
	for it.Next(&e) {
		if len(m) >= MaxTreeEntries {
			return nil, fmt.Errorf("tree %s has more than %d entries: %w", id, MaxTreeEntries, gatehouse.ErrInvalid)
		}
		m[string(e.Name)] = entry{e.ID, e.Mode}
	}
	return m, it.Err()
}

func (w *differ) trees(a, b plumbing.Hash, prefix string) error {
	if a == b {
		return nil
	}
	ea, err := w.entries(a)
	if err != nil {
		return err
	}
	eb, err := w.entries(b)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(ea)+len(eb))
	for n := range ea {
		names = append(names, n)
	}
	for n := range eb {
		if _, ok := ea[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if w.truncated {
			return nil
		}
		x, y := ea[n], eb[n]
		if x == y {
			continue
		}
		path := prefix + strings.ToValidUTF8(n, "\uFFFD")
		xd, yd := x.mode == odb.ModeDir, y.mode == odb.ModeDir
		var xt, yt plumbing.Hash
		if xd {
			xt = x.id
		}
		if yd {
			yt = y.id
		}
		if xd || yd {
			if err := w.trees(xt, yt, path+"/"); err != nil {
				return err
			}
		}
		xf, yf := x.mode != 0 && !xd, y.mode != 0 && !yd
		if xf || yf {
			var xb, yb plumbing.Hash
			if xf {
				xb = x.id
			}
			if yf {
				yb = y.id
			}
			if err := w.file(path, xb, yb, x.mode, y.mode); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *differ) file(path string, a, b plumbing.Hash, ma, mb uint32) error {
	if len(w.changes) >= MaxChangedFiles {
		w.truncated = true
		return nil
	}
	if err := w.s.alive(); err != nil {
		return err
	}
	ch := gatehouse.FileChange{Path: path, Status: "modified"}
	switch {
	case a.IsZero():
		ch.Status = "added"
	case b.IsZero():
		ch.Status = "deleted"
	}
	defer func() { w.changes = append(w.changes, ch) }()
	if ma&modeTypeMask == modeGitlink || mb&modeTypeMask == modeGitlink {
		ch.Skipped = "submodule"
		return nil
	}
	if a == b {
		ch.Skipped = "mode changed"
		return nil
	}
	if w.lines <= 0 {
		ch.Skipped = "diff too large to show"
		return nil
	}
	xa, err := w.content(a)
	if err != nil {
		ch.Skipped = "file too large to show"
		return nil
	}
	xb, err := w.content(b)
	if err != nil {
		ch.Skipped = "file too large to show"
		return nil
	}
	if binary(xa) || binary(xb) {
		ch.Binary, ch.Skipped = true, "binary file"
		return nil
	}
	lines, added, deleted, ok := unified(splitLines(xa), splitLines(xb), maxEdits)
	ch.Added, ch.Deleted = added, deleted
	switch {
	case !ok:
		ch.Skipped = "too many changes to show"
	case len(lines) > w.lines:
		ch.Skipped = "diff too large to show"
		w.lines = 0
	default:
		ch.Lines = lines
		w.lines -= len(lines)
	}
	return nil
}

func (w *differ) content(id plumbing.Hash) ([]byte, error) {
	if id.IsZero() {
		return nil, nil
	}
	_, size, err := w.s.odb.Header(id)
	if err != nil {
		return nil, err
	}
	if size > w.s.max {
		return nil, odb.ErrTooLarge
	}
	return w.s.blob(id)
}

func splitLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	return strings.Split(strings.ToValidUTF8(string(b), "\uFFFD"), "\n")
}

// unified returns the unified diff of a and b with three lines of
// context, each line prefixed by ' ', '-' or '+', hunks by "@@ ... @@";
// ok false when a and b are more than maxD edits apart.
func unified(a, b []string, maxD int) (out []string, added, deleted int, ok bool) {
	ops, ok := myers(a, b, maxD)
	if !ok {
		return nil, 0, 0, false
	}
	const ctx = 3
	// Hunks: runs of ops with changes, joined when their context meets.
	i := 0
	for i < len(ops) {
		for i < len(ops) && ops[i].kind == ' ' {
			i++
		}
		if i == len(ops) {
			break
		}
		start := max(0, i-ctx)
		end := i
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*ctx {
				end = min(end+ctx, len(ops))
				break
			}
			end = run
		}
		h := ops[start:end]
		oa, ob := h[0].a, h[0].b
		var na, nb int
		for _, o := range h {
			if o.kind != '+' {
				na++
			}
			if o.kind != '-' {
				nb++
			}
		}
		out = append(out, fmt.Sprintf("@@ -%d,%d +%d,%d @@", oa+1, na, ob+1, nb))
		for _, o := range h {
			switch o.kind {
			case '+':
				added++
				out = append(out, "+"+b[o.b])
			case '-':
				deleted++
				out = append(out, "-"+a[o.a])
			default:
				out = append(out, " "+a[o.a])
			}
		}
		i = end
	}
	return out, added, deleted, true
}

// op is one line of an edit script: kind ' ', '-' or '+', and the line's
// index in a and in b (the position it would take there).
type op struct {
	kind byte
	a, b int
}

// myers is Myers' O((N+M)D) diff, giving up past maxD edits, so its time
// and the trace it keeps (O(maxD²)) are bounded whatever the input.
func myers(a, b []string, maxD int) ([]op, bool) {
	n, m := len(a), len(b)
	off := maxD + 1
	v := make([]int, 2*maxD+3)
	var trace [][]int
	for d := 0; d <= maxD; d++ {
		trace = append(trace, append([]int(nil), v[off-d-1:off+d+2]...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				return backtrack(trace, n, m), true
			}
		}
	}
	return nil, false
}

func backtrack(trace [][]int, n, m int) []op {
	var rev []op
	x, y := n, m
	for d := len(trace) - 1; d >= 0; d-- {
		v := trace[d] // v before step d, from index -d-1
		at := func(k int) int { return v[k+d+1] }
		k := x - y
		var pk int
		if k == -d || (k != d && at(k-1) < at(k+1)) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := at(pk)
		py := px - pk
		for x > px && y > py && x > 0 && y > 0 {
			x--
			y--
			rev = append(rev, op{' ', x, y})
		}
		if d > 0 {
			if x == px {
				y--
				rev = append(rev, op{'+', x, y})
			} else {
				x--
				rev = append(rev, op{'-', x, y})
			}
		}
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}
