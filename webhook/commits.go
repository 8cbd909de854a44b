package webhook

import (
	"bytes"
	"container/heap"
	"strconv"
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
	// maxMessage bounds one commit message in a payload.
	maxMessage = 16 << 10
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

// walkNode is a commit on the walk's queue.
type walkNode struct {
	id            plumbing.Hash
	when          int64
	parents       []plumbing.Hash
	data          []byte
	uninteresting bool
	popped        bool
}

// byDate is a max-heap of commits by committer date, newest first.
type byDate []*walkNode

func (h byDate) Len() int           { return len(h) }
func (h byDate) Less(i, j int) bool { return h[i].when > h[j].when }
func (h byDate) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *byDate) Push(x any)        { *h = append(*h, x.(*walkNode)) }
func (h *byDate) Pop() any {
	old := *h
	n := old[len(old)-1]
	*h = old[:len(old)-1]
	return n
}

// pushCommits lists up to MaxCommits of the commits reachable from newID
// and not from oldID (zero for a new ref), newest last, reading them
// through r: a walk newest first by committer date, as `git rev-list
// old..new` makes it, of at most maxWalk commits. A new ID that is not a
// commit (a tag's) lists nothing.
func pushCommits(r *odb.Reader, oldID, newID plumbing.Hash) ([]Commit, error) {
	nodes := map[plumbing.Hash]*walkNode{}
	q := &byDate{}
	add := func(id plumbing.Hash, uninteresting bool) error {
		if n, ok := nodes[id]; ok {
			if uninteresting && !n.uninteresting {
				n.uninteresting = true
				if n.popped {
					// Listed already (a clock skew): it stays listed,
					// and what it reaches is marked from here on.
					for _, p := range n.parents {
						if n, ok := nodes[p]; ok && !n.popped {
							n.uninteresting = true
						}
					}
				}
			}
			return nil
		}
		if len(nodes) >= maxWalk {
			return nil
		}
		_, data, err := r.ReadWhole(id, plumbing.CommitObject, nil)
		if err != nil {
			return err
		}
		c, err := odb.ParseCommit(data)
		if err != nil {
			return err
		}
		n := &walkNode{id: id, when: c.When, parents: c.Parents, data: data, uninteresting: uninteresting}
		nodes[id] = n
		heap.Push(q, n)
		return nil
	}
	if typ, _, err := r.Header(newID); err != nil || typ != plumbing.CommitObject {
		return nil, err
	}
	if err := add(newID, false); err != nil {
		return nil, err
	}
	if !oldID.IsZero() {
		if typ, _, err := r.Header(oldID); err == nil && typ == plumbing.CommitObject {
			if err := add(oldID, true); err != nil {
				return nil, err
			}
		}
	}
	var out []Commit
	for q.Len() > 0 && len(out) < MaxCommits {
		// Done once only uninteresting commits are left.
		interesting := false
		for _, n := range *q {
			if !n.uninteresting {
				interesting = true
				break
			}
		}
		if !interesting {
			break
		}
		n := heap.Pop(q).(*walkNode)
		n.popped = true
		for _, p := range n.parents {
			if err := add(p, n.uninteresting); err != nil {
				return nil, err
			}
		}
		if !n.uninteresting {
			out = append(out, parseCommit(n.id, n.data))
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
	c := Commit{ID: id.String()}
	hdr, msg, _ := bytes.Cut(data, []byte("\n\n"))
	for _, line := range strings.Split(string(hdr), "\n") {
		key, v, _ := strings.Cut(line, " ")
		switch key {
		case "author":
			c.Author, c.Timestamp = parseIdent(v)
		case "committer":
			c.Committer, _ = parseIdent(v)
		}
	}
	if len(msg) > maxMessage {
		msg = msg[:maxMessage]
	}
	c.Message = strings.ToValidUTF8(string(msg), string(utf8.RuneError))
	return c
}

// parseIdent reads "Name <email> seconds +zone" into the person and an
// RFC 3339 time in the author's zone.
func parseIdent(v string) (Person, string) {
	name, rest, _ := strings.Cut(v, " <")
	email, when, _ := strings.Cut(rest, "> ")
	p := Person{Name: strings.ToValidUTF8(name, ""), Email: strings.ToValidUTF8(email, "")}
	secs, zone, _ := strings.Cut(when, " ")
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return p, ""
	}
	t := time.Unix(s, 0).UTC()
	if len(zone) == 5 {
		h, err1 := strconv.Atoi(zone[1:3])
		m, err2 := strconv.Atoi(zone[3:5])
		if err1 == nil && err2 == nil {
			off := h*3600 + m*60
			if zone[0] == '-' {
				off = -off
			}
			t = t.In(time.FixedZone("", off))
		}
	}
	return p, t.Format(time.RFC3339)
}
