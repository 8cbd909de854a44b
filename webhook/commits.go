package webhook

import (
	"container/heap"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// What a push payload tells of commits, and how they are found.
const (
	// MaxCommits is how many commits a push payload lists (the newest).
	MaxCommits = 20
	// maxWalk bounds the commits read to find them, whatever the history.
	maxWalk = 2000
	// maxMessage bounds one commit message in a payload, maxIdent a name
	// or an email.
	maxMessage = 16 << 10
	maxIdent   = 1 << 10
	// maxCommitObject bounds one commit read: the push path's own bound.
	maxCommitObject = 4 << 20
)

// Commit is a commit as a push payload shows it.
type Commit struct {
	ID        string `json:"id"`
	Message   string `json:"message"`
	Timestamp string `json:"timestamp"`
	Author    Person `json:"author"`
	Committer Person `json:"committer"`
}

// Person is a commit's author or committer.
type Person struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// walkNode is a commit on the walk.
type walkNode struct {
	id            plumbing.Hash
	when          int64
	parents       []plumbing.Hash
	uninteresting bool
	popped        bool
}

// byDate is a max-heap of commits by committer date, newest first; at
// equal dates the uninteresting first, so that commits made within one
// second are judged by what reaches them.
type byDate []*walkNode

func (h byDate) Len() int { return len(h) }
func (h byDate) Less(i, j int) bool {
	if h[i].when != h[j].when {
		return h[i].when > h[j].when
	}
	return h[i].uninteresting && !h[j].uninteresting
}
func (h byDate) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *byDate) Push(x any)   { *h = append(*h, x.(*walkNode)) }
func (h *byDate) Pop() any {
	old := *h
	n := old[len(old)-1]
	*h = old[:len(old)-1]
	return n
}

// walk is a history walk from the new tip, minus what the old one reaches.
type walk struct {
	r           *odb.Reader
	buf         []byte // one buffer for every commit read: only ids are kept
	nodes       map[plumbing.Hash]*walkNode
	q           byDate
	interesting int // queued and interesting
}

// add queues id, or marks it uninteresting if it is known already.
func (w *walk) add(id plumbing.Hash, uninteresting bool) error {
	if n, ok := w.nodes[id]; ok {
		if uninteresting {
			w.mark(n)
		}
		return nil
	}
	if len(w.nodes) >= maxWalk {
		return nil
	}
	_, data, err := w.r.ReadWhole(id, plumbing.CommitObject, w.buf)
	if err != nil {
		return err
	}
	w.buf = data[:0]
	c, err := odb.ParseCommit(data)
	if err != nil {
		return err
	}
	n := &walkNode{id: id, when: c.When, parents: c.Parents, uninteresting: uninteresting}
	w.nodes[id] = n
	heap.Push(&w.q, n)
	if !uninteresting {
		w.interesting++
	}
	return nil
}

// mark makes n uninteresting, and what it reaches if it was walked
// already (its date said it was newer than it is).
func (w *walk) mark(n *walkNode) {
	if n.uninteresting {
		return
	}
	n.uninteresting = true
	if !n.popped {
		w.interesting--
		return
	}
	for _, p := range n.parents {
		if pn, ok := w.nodes[p]; ok {
			w.mark(pn)
		}
	}
}

// pushCommits lists up to MaxCommits of the commits reachable from newID
// and not from oldID (zero for a new ref), newest last, reading them
// through r: a walk newest first by committer date, as `git rev-list
// old..new` makes it, of at most maxWalk commits. A new ID that is not a
// commit (a tag's) lists nothing.
func pushCommits(r *odb.Reader, oldID, newID plumbing.Hash) ([]Commit, error) {
	w := &walk{r: r, nodes: map[plumbing.Hash]*walkNode{}}
	if typ, _, err := r.Header(newID); err != nil || typ != plumbing.CommitObject {
		return nil, err
	}
	if err := w.add(newID, false); err != nil {
		return nil, err
	}
	if !oldID.IsZero() {
		if typ, _, err := r.Header(oldID); err == nil && typ == plumbing.CommitObject {
			if err := w.add(oldID, true); err != nil {
				return nil, err
			}
		}
	}
	var popped []*walkNode
	for w.q.Len() > 0 && w.interesting > 0 {
		if oldID.IsZero() && len(popped) == MaxCommits {
			break // nothing can take the newest ones back
		}
		n := heap.Pop(&w.q).(*walkNode)
		n.popped = true
		if !n.uninteresting {
			w.interesting--
			popped = append(popped, n)
		}
		for _, p := range n.parents {
			if err := w.add(p, n.uninteresting); err != nil {
				return nil, err
			}
		}
	}
	// The listed ones are read again: holding every commit walked (up to
	// 4 MiB each) would let a push of big commits take the memory.
	var out []Commit
	for _, n := range popped {
		if !n.uninteresting && len(out) < MaxCommits {
			_, data, err := r.ReadWhole(n.id, plumbing.CommitObject, w.buf)
			if err != nil {
				return nil, err
			}
			w.buf = data[:0]
			out = append(out, parseCommit(n.id, data))
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// readCommit reads one commit for head_commit; nil if id is no commit.
func readCommit(r *odb.Reader, id plumbing.Hash) *Commit {
	if p, err := r.Peel(id); err == nil && !p.IsZero() {
		id = p
	}
	_, data, err := r.ReadWhole(id, plumbing.CommitObject, nil)
	if err != nil {
		return nil
	}
	c := parseCommit(id, data)
	return &c
}

// parseCommit reads the author, committer and message of a commit that
// odb.ParseCommit has accepted.
func parseCommit(id plumbing.Hash, data []byte) Commit {
	author, committer, msg := odb.CommitText(data)
	return Commit{
		ID:        id.String(),
		Message:   strings.ToValidUTF8(cut(string(msg), maxMessage), string(utf8.RuneError)),
		Timestamp: author.Time().Format(time.RFC3339),
		Author:    person(author),
		Committer: person(committer),
	}
}

// person is an ident as a payload shows it, bounded.
func person(id odb.Ident) Person {
	return Person{
		Name:  strings.ToValidUTF8(cut(string(id.Name), maxIdent), ""),
		Email: strings.ToValidUTF8(cut(string(id.Email), maxIdent), ""),
	}
}

// cut bounds s to n bytes; a rune cut in two is replaced by the caller.
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
