package odb

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// Commit is what history walks need of a commit.
type Commit struct {
	Tree    plumbing.Hash
	Parents []plumbing.Hash
	When    int64 // committer time, seconds since the epoch
}

// ParseCommit reads a commit's header: "tree", any "parent"s, "author"
// and "committer" in that order, then other headers up to a blank line.
// Headers after the committer (encoding, gpgsig, mergetag) are free-form
// and not checked; a commit without a message is valid. Errors match
// ErrCorrupt and read as their detail alone ("missing tree line").
func ParseCommit(data []byte) (Commit, error) {
	var c Commit
	hdr, _, _ := bytes.Cut(data, []byte("\n\n"))
	if bytes.IndexByte(hdr, 0) >= 0 {
		return c, corruptf("NUL in commit header")
	}
	lines := headerLines{rest: hdr}
	v, ok := lines.next("tree")
	if !ok {
		return c, corruptf("missing tree line")
	}
	var err error
	if c.Tree, err = parseID(v); err != nil {
		return c, err
	}
	for {
		v, ok := lines.next("parent")
		if !ok {
			break
		}
		p, err := parseID(v)
		if err != nil {
			return c, err
		}
		c.Parents = append(c.Parents, p)
	}
	if v, ok = lines.next("author"); !ok {
		return c, corruptf("missing author line")
	}
	if _, err := ParseIdent(v); err != nil {
		return c, corruptf("bad author: %s", err)
	}
	if v, ok = lines.next("committer"); !ok {
		return c, corruptf("missing committer line")
	}
	committer, err := ParseIdent(v)
	if err != nil {
		return c, corruptf("bad committer: %s", err)
	}
	c.When = committer.When
	return c, nil
}

// ParseTag reads a tag's "object", "type" and "tag" lines, and checks a
// "tagger" line if one follows. Errors are ParseCommit's.
func ParseTag(data []byte) (plumbing.Hash, plumbing.ObjectType, error) {
	hdr, _, _ := bytes.Cut(data, []byte("\n\n"))
	lines := headerLines{rest: hdr}
	v, ok := lines.next("object")
	if !ok {
		if lines.count() < 3 {
			return plumbing.ZeroHash, 0, corruptf("short tag header")
		}
		return plumbing.ZeroHash, 0, corruptf("missing object line")
	}
	if lines.count() < 2 {
		return plumbing.ZeroHash, 0, corruptf("short tag header")
	}
	target, err := parseID(v)
	if err != nil {
		return target, 0, err
	}
	v, ok = lines.next("type")
	t, terr := plumbing.ParseObjectType(string(v))
	if !ok || terr != nil || t < plumbing.CommitObject || t > plumbing.TagObject {
		return target, 0, corruptf("bad type line")
	}
	if name, ok := lines.next("tag"); !ok || len(name) == 0 {
		return target, 0, corruptf("bad tag line")
	}
	if v, ok := lines.next("tagger"); ok {
		if _, err := ParseIdent(v); err != nil {
			return target, 0, corruptf("bad tagger: %s", err)
		}
	}
	return target, t, nil
}

// headerLines hands out the lines of an object's header one at a time.
type headerLines struct {
	rest []byte
	done bool // the last line was handed out
}

// next returns the rest of the next line if it starts with key and a
// space, and moves past it; otherwise it stays.
func (l *headerLines) next(key string) ([]byte, bool) {
	if l.done {
		return nil, false
	}
	line, after, more := bytes.Cut(l.rest, []byte{'\n'})
	if len(line) <= len(key) || string(line[:len(key)]) != key || line[len(key)] != ' ' {
		return nil, false
	}
	l.rest, l.done = after, !more
	return line[len(key)+1:], true
}

// count is the number of lines left.
func (l *headerLines) count() int {
	if l.done {
		return 0
	}
	return bytes.Count(l.rest, []byte{'\n'}) + 1
}

// Ident is a parsed "Name <email> seconds zone" of an author, committer
// or tagger. Name and Email alias the object's data and are not judged:
// old history holds odd ones.
type Ident struct {
	Name, Email []byte
	When        int64 // seconds since the epoch
	Zone        int   // offset from UTC in seconds
}

// Time is the ident's time in its own zone.
func (id Ident) Time() time.Time {
	return time.Unix(id.When, 0).In(time.FixedZone("", id.Zone))
}

// ParseIdent reads "Name <email> seconds zone". Only the date and zone
// are checked, since they are what the walks and readers use.
func ParseIdent(s []byte) (Ident, error) {
	lt := bytes.IndexByte(s, '<')
	gt := bytes.LastIndexByte(s, '>')
	if lt < 0 || gt < lt {
		return Ident{}, errors.New("no <email>")
	}
	id := Ident{Name: bytes.TrimSuffix(s[:lt], []byte{' '}), Email: s[lt+1 : gt]}
	date, zone, ok := bytes.Cut(bytes.TrimPrefix(s[gt+1:], []byte{' '}), []byte{' '})
	if !ok {
		return id, errors.New("no date")
	}
	var err error
	if id.When, err = strconv.ParseInt(string(date), 10, 64); err != nil {
		return id, errors.New("bad date")
	}
	if len(zone) != 5 || (zone[0] != '+' && zone[0] != '-') {
		return id, errors.New("bad time zone")
	}
	hhmm, err := strconv.Atoi(string(zone[1:]))
	if err != nil || hhmm < 0 {
		return id, errors.New("bad time zone")
	}
	if id.Zone = (hhmm/100)*3600 + (hhmm%100)*60; zone[0] == '-' {
		id.Zone = -id.Zone
	}
	return id, nil
}

// CommitText returns the author, committer and message of a commit that
// ParseCommit accepted; they alias data.
func CommitText(data []byte) (author, committer Ident, message []byte) {
	hdr, message, _ := bytes.Cut(data, []byte("\n\n"))
	for line := range bytes.SplitSeq(hdr, []byte{'\n'}) {
		k, v, _ := bytes.Cut(line, []byte{' '})
		switch string(k) {
		case "author":
			author, _ = ParseIdent(v)
		case "committer":
			committer, _ = ParseIdent(v)
		}
	}
	return author, committer, message
}

// parseID parses an id in an object's header.
func parseID(s []byte) (plumbing.Hash, error) {
	id, err := ParseID(string(s))
	if err != nil {
		return id, corruptf("%s", err)
	}
	return id, nil
}

// errBadID: not a full lowercase hex id.
var errBadID = errors.New("bad object id")

// ParseID parses a full lowercase hex id; git never writes uppercase or
// abbreviated ids into objects or the protocol.
func ParseID(s string) (plumbing.Hash, error) {
	var h plumbing.Hash
	if len(s) != 2*len(h) {
		return h, errBadID
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'F' {
			return h, errBadID
		}
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, errBadID
	}
	return h, nil
}
