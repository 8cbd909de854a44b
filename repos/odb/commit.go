package odb

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strconv"

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
	if _, err := parseIdent(v); err != nil {
		return c, corruptf("bad author: %s", err)
	}
	if v, ok = lines.next("committer"); !ok {
		return c, corruptf("missing committer line")
	}
	if c.When, err = parseIdent(v); err != nil {
		return c, corruptf("bad committer: %s", err)
	}
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
		if _, err := parseIdent(v); err != nil {
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

// parseIdent checks "Name <email> seconds zone" and returns the seconds.
// Names and emails are not judged: old history holds odd ones, and only
// the date matters to the walks.
func parseIdent(s []byte) (int64, error) {
	lt := bytes.IndexByte(s, '<')
	gt := bytes.LastIndexByte(s, '>')
	if lt < 0 || gt < lt {
		return 0, errors.New("no <email>")
	}
	date, zone, ok := bytes.Cut(bytes.TrimPrefix(s[gt+1:], []byte{' '}), []byte{' '})
	if !ok {
		return 0, errors.New("no date")
	}
	when, err := strconv.ParseInt(string(date), 10, 64)
	if err != nil {
		return 0, errors.New("bad date")
	}
	if len(zone) != 5 || (zone[0] != '+' && zone[0] != '-') {
		return 0, errors.New("bad time zone")
	}
	if _, err := strconv.Atoi(string(zone[1:])); err != nil {
		return 0, errors.New("bad time zone")
	}
	return when, nil
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
