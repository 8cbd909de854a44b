// Package fsck checks that a repository's refs resolve and that every
// object they reach is there, as `git fsck --connectivity-only` does:
// commits, tags and trees are read (through repos/odb's Reader, every
// size bounded), blobs only looked up. Nothing is written.
//
// Memory stays bounded on large repositories: what the walk has seen is
// one bit per object of each pack (by its position in the pack's index),
// plus a set of the loose objects seen, which repacks keep few; the walk
// itself is depth-first, so what waits is about one tree path and the
// parents of merges, not the history.
package fsck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
	"gatehouse/repos/refs"
)

// MaxProblems bounds the problems one Check lists; past it they are
// counted (Report.More), not listed.
const MaxProblems = 100

// maxHeld bounds a commit, tag or tree read whole; real ones are far
// smaller (receive-pack refuses commits past 4 MiB and trees past 32 MiB).
const maxHeld = 64 << 20

// Kinds of problem.
const (
	BadRef  = "bad ref"        // a ref or HEAD that does not read
	Missing = "missing object" // reachable from a ref, not there
	Corrupt = "corrupt object" // there, but does not read or parse
	BadType = "wrong type"     // a link to an object of another type
)

// Problem is one thing wrong in a repository.
type Problem struct {
	Kind   string `json:"kind"`
	Ref    string `json:"ref,omitempty"`    // the ref the object was reached from
	Object string `json:"object,omitempty"` // the object concerned
	Detail string `json:"detail"`
}

func (p Problem) String() string {
	s := p.Kind
	if p.Object != "" {
		s += " " + p.Object
	}
	if p.Ref != "" {
		s += " (from " + p.Ref + ")"
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// Report is what Check found in one repository.
type Report struct {
	Refs     int       `json:"refs"`    // refs walked, HEAD included
	Objects  int64     `json:"objects"` // reachable objects found
	Problems []Problem `json:"problems,omitempty"`
	More     int       `json:"more_problems,omitempty"` // past MaxProblems
}

// OK says nothing is wrong.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) add(p Problem) {
	if len(r.Problems) >= MaxProblems {
		r.More++
		return
	}
	r.Problems = append(r.Problems, p)
}

// Check reads the refs of the bare repository at gitDir (and HEAD) and
// walks everything they reach. It may run while pushes and repacks do:
// the refs are read first, and an object a ref names was installed before
// the ref moved; a pack a repack removes meanwhile is found again in its
// replacement (the Reader lists the packs again before believing an
// object missing).
//
// Errors: ctx's; every damage found is a Problem in the report.
func Check(ctx context.Context, gitDir string) (*Report, error) {
	rep := &Report{}
	type tip struct{ name, id string }
	var tips []tip
	if h, err := refs.ReadHead(gitDir); err != nil {
		rep.add(Problem{Kind: BadRef, Ref: "HEAD", Detail: err.Error()})
	} else if h.Target == "" {
		tips = append(tips, tip{"HEAD", h.ID})
	}
	for r, err := range refs.Each(gitDir) {
		if err != nil {
			rep.add(Problem{Kind: BadRef, Detail: err.Error()})
			break
		}
		tips = append(tips, tip{r.Name, r.ID})
	}
	w := &walk{ctx: ctx, gitDir: gitDir, rep: rep, seenPack: make(map[*odb.Pack][]uint64), seenLoose: make(map[plumbing.Hash]struct{}), missing: make(map[plumbing.Hash]struct{})}
	// Sizes are bounded where objects are held (read); blobs are never
	// read, and a tip's type is read from its header alone.
	w.objects = odb.OpenReader(gitDir, odb.Limits{MaxObjectSize: math.MaxInt64})
	defer w.objects.Close()
	for _, t := range tips {
		rep.Refs++
		id, err := odb.ParseID(t.id)
		if err != nil {
			rep.add(Problem{Kind: BadRef, Ref: t.name, Detail: fmt.Sprintf("%q is not an object id", t.id)})
			continue
		}
		w.ref = t.name
		if err := w.run(id); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// item is an object waiting in the walk, with the type its referrer
// says it has (AnyObject for a ref's tip).
type item struct {
	id   plumbing.Hash
	want plumbing.ObjectType
	from plumbing.Hash // the object linking to it; zero for a tip
}

type walk struct {
	ctx     context.Context
	gitDir  string
	rep     *Report
	objects *odb.Reader
	ref     string // the ref being walked
	stack   []item
	buf     []byte
	steps   int

	packs     []*odb.Pack // the Reader's, as last asked
	seenPack  map[*odb.Pack][]uint64
	seenLoose map[plumbing.Hash]struct{}
	missing   map[plumbing.Hash]struct{} // reported once each
}

// run walks everything tip reaches that no earlier walk saw.
func (w *walk) run(tip plumbing.Hash) error {
	w.stack = append(w.stack[:0], item{id: tip, want: plumbing.AnyObject})
	for len(w.stack) > 0 {
		it := w.stack[len(w.stack)-1]
		w.stack = w.stack[:len(w.stack)-1]
		if w.steps++; w.steps&1023 == 0 {
			if err := w.ctx.Err(); err != nil {
				return err
			}
		}
		seen, err := w.visit(it)
		if err != nil || seen || it.want == plumbing.BlobObject {
			continue // reported, walked before, or a blob: looked up only
		}
		w.expand(it)
	}
	return nil
}

// visit marks it seen and says whether it was already; an object that
// is not there is reported, and err says not to go on with it.
func (w *walk) visit(it item) (seen bool, err error) {
	seen, found, err := w.mark(it.id)
	if err != nil {
		w.problem(Corrupt, it, err.Error())
		return false, err
	}
	if !found {
		if _, ok := w.missing[it.id]; !ok {
			if len(w.missing) < 4*MaxProblems {
				w.missing[it.id] = struct{}{}
			}
			w.problem(Missing, it, "")
		}
		return false, errMissing
	}
	if !seen {
		w.rep.Objects++
	}
	return seen, nil
}

var errMissing = errors.New("missing")

// expand reads a commit, tag or tree and queues what it links to.
func (w *walk) expand(it item) {
	typ, data, err := w.read(it.id)
	if err != nil {
		w.problem(Corrupt, it, err.Error())
		return
	}
	if it.want != plumbing.AnyObject && typ != it.want {
		w.problem(BadType, it, fmt.Sprintf("a %s where a %s is expected", typ, it.want))
		return
	}
	switch typ {
	case plumbing.CommitObject:
		c, err := odb.ParseCommit(data)
		if err != nil {
			w.problem(Corrupt, it, err.Error())
			return
		}
		// Parents below the tree: the tree is walked first, so the
		// stack holds one tree path and not a tree per commit.
		for i := len(c.Parents) - 1; i >= 0; i-- {
			w.stack = append(w.stack, item{id: c.Parents[i], want: plumbing.CommitObject, from: it.id})
		}
		w.stack = append(w.stack, item{id: c.Tree, want: plumbing.TreeObject, from: it.id})
	case plumbing.TagObject:
		target, t, err := odb.ParseTag(data)
		if err != nil {
			w.problem(Corrupt, it, err.Error())
			return
		}
		w.stack = append(w.stack, item{id: target, want: t, from: it.id})
	case plumbing.TreeObject:
		iter := odb.NewTreeIter(data)
		var e odb.TreeEntry
		for iter.Next(&e) {
			switch e.Mode {
			case odb.ModeGitlink: // another repository's commit
			case odb.ModeDir:
				w.stack = append(w.stack, item{id: e.ID, want: plumbing.TreeObject, from: it.id})
			default:
				w.stack = append(w.stack, item{id: e.ID, want: plumbing.BlobObject, from: it.id})
			}
		}
		if err := iter.Err(); err != nil {
			w.problem(Corrupt, it, err.Error())
		}
	}
}

// read reads a commit, tag or tree whole; a blob at a tip is not read.
func (w *walk) read(id plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	typ, size, rc, err := w.objects.Read(id)
	if err != nil {
		return 0, nil, err
	}
	defer rc.Close()
	if typ == plumbing.BlobObject {
		return typ, nil, nil
	}
	if size > maxHeld {
		return 0, nil, fmt.Errorf("%w: %s is %d bytes, over %d", odb.ErrTooLarge, typ, size, maxHeld)
	}
	if int64(cap(w.buf)) < size {
		w.buf = make([]byte, size)
	}
	data := w.buf[:size]
	if err := readFull(rc, data); err != nil {
		return 0, nil, err
	}
	return typ, data, nil
}

func (w *walk) problem(kind string, it item, detail string) {
	if it.from != (plumbing.Hash{}) && kind == Missing {
		detail = fmt.Sprintf("linked from %s", it.from)
	}
	if it.want != plumbing.AnyObject && kind == Missing {
		detail = it.want.String() + ", " + detail
	}
	w.rep.add(Problem{Kind: kind, Ref: w.ref, Object: it.id.String(), Detail: detail})
}

// mark records id as seen and says whether it was, and whether the
// repository has it at all.
func (w *walk) mark(id plumbing.Hash) (seen, found bool, err error) {
	for try := 0; try < 2; try++ {
		for _, p := range w.packs {
			i, ok := p.Index().Find(id)
			if !ok {
				continue
			}
			bits := w.seenPack[p]
			if bits == nil {
				bits = make([]uint64, (p.Index().Len()+63)/64)
				w.seenPack[p] = bits
			}
			word, bit := i/64, uint64(1)<<(i%64)
			seen = bits[word]&bit != 0
			bits[word] |= bit
			return seen, true, nil
		}
		if _, ok := w.seenLoose[id]; ok {
			return true, true, nil
		}
		if err := odb.StatLoose(w.gitDir, id); err == nil {
			w.seenLoose[id] = struct{}{}
			return false, true, nil
		}
		if try > 0 {
			break
		}
		// Not in the packs known here: the Reader lists them again
		// (a push or a repack may have added one) before it is missing.
		has, err := w.objects.Has(id)
		if err != nil {
			return false, false, err
		}
		w.packs = w.objects.Packs()
		if !has {
			return false, false, nil
		}
	}
	// The Reader has it but not in a pack listed, nor loose: it came
	// and went; count it found, unmarked.
	return false, true, nil
}

// readFull fills b from r and checks that r ends there.
func readFull(r io.Reader, b []byte) error {
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	var one [1]byte
	if n, err := io.ReadFull(r, one[:]); n != 0 {
		return fmt.Errorf("%w: longer than its header says", odb.ErrCorrupt)
	} else if err != io.EOF {
		return err
	}
	return nil
}
