package indexpack

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// commitInfo is what the walks need of a commit.
type commitInfo struct {
	tree    plumbing.Hash
	parents []plumbing.Hash
	when    int64 // committer time, seconds since the epoch
}

// parseCommit reads a commit's header: "tree", any "parent"s, "author"
// and "committer" in that order, then other headers up to a blank line.
// Headers after the committer (encoding, gpgsig, mergetag) are free-form
// and not checked; a commit without a message is valid.
func parseCommit(data []byte) (commitInfo, error) {
	var c commitInfo
	hdr, _, _ := bytes.Cut(data, []byte("\n\n"))
	if bytes.IndexByte(hdr, 0) >= 0 {
		return c, errors.New("NUL in commit header")
	}
	lines := strings.Split(string(hdr), "\n")
	next := func(key string) (string, bool) {
		if len(lines) == 0 {
			return "", false
		}
		v, ok := strings.CutPrefix(lines[0], key+" ")
		if ok {
			lines = lines[1:]
		}
		return v, ok
	}
	v, ok := next("tree")
	if !ok {
		return c, errors.New("missing tree line")
	}
	var err error
	if c.tree, err = parseID(v); err != nil {
		return c, err
	}
	for {
		v, ok := next("parent")
		if !ok {
			break
		}
		p, err := parseID(v)
		if err != nil {
			return c, err
		}
		c.parents = append(c.parents, p)
	}
	if v, ok = next("author"); !ok {
		return c, errors.New("missing author line")
	}
	if _, err := parseIdent(v); err != nil {
		return c, errors.New("bad author: " + err.Error())
	}
	if v, ok = next("committer"); !ok {
		return c, errors.New("missing committer line")
	}
	if c.when, err = parseIdent(v); err != nil {
		return c, errors.New("bad committer: " + err.Error())
	}
	return c, nil
}

// parseIdent checks "Name <email> seconds zone" and returns the seconds.
// Names and emails are not judged: old history holds odd ones, and only
// the date matters to the walks here.
func parseIdent(s string) (int64, error) {
	lt := strings.IndexByte(s, '<')
	gt := strings.LastIndexByte(s, '>')
	if lt < 0 || gt < lt {
		return 0, errors.New("no <email>")
	}
	date, zone, ok := strings.Cut(strings.TrimPrefix(s[gt+1:], " "), " ")
	if !ok {
		return 0, errors.New("no date")
	}
	when, err := strconv.ParseInt(date, 10, 64)
	if err != nil {
		return 0, errors.New("bad date")
	}
	if len(zone) != 5 || (zone[0] != '+' && zone[0] != '-') {
		return 0, errors.New("bad time zone")
	}
	if _, err := strconv.Atoi(zone[1:]); err != nil {
		return 0, errors.New("bad time zone")
	}
	return when, nil
}

// parseTag reads a tag's "object", "type" and "tag" lines.
func parseTag(data []byte) (plumbing.Hash, plumbing.ObjectType, error) {
	hdr, _, _ := bytes.Cut(data, []byte("\n\n"))
	lines := strings.SplitN(string(hdr), "\n", 4)
	if len(lines) < 3 {
		return plumbing.ZeroHash, 0, errors.New("short tag header")
	}
	v, ok := strings.CutPrefix(lines[0], "object ")
	if !ok {
		return plumbing.ZeroHash, 0, errors.New("missing object line")
	}
	target, err := parseID(v)
	if err != nil {
		return target, 0, err
	}
	v, ok = strings.CutPrefix(lines[1], "type ")
	t, terr := plumbing.ParseObjectType(v)
	if !ok || terr != nil || t < plumbing.CommitObject || t > plumbing.TagObject {
		return target, 0, errors.New("bad type line")
	}
	if name, ok := strings.CutPrefix(lines[2], "tag "); !ok || name == "" {
		return target, 0, errors.New("bad tag line")
	}
	if len(lines) == 4 && strings.HasPrefix(lines[3], "tagger ") {
		if _, err := parseIdent(strings.SplitN(lines[3], "\n", 2)[0][len("tagger "):]); err != nil {
			return target, 0, errors.New("bad tagger: " + err.Error())
		}
	}
	return target, t, nil
}

// parseID parses a full lowercase hex id; git never writes uppercase or
// abbreviated ids into objects or the protocol.
func parseID(s string) (plumbing.Hash, error) {
	var h plumbing.Hash
	if len(s) != 40 || strings.ToLower(s) != s {
		return h, errors.New("bad object id")
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, errors.New("bad object id")
	}
	return h, nil
}

// walkTree checks a tree's entries: their form (odb.TreeIter), that each
// mode is one git writes and each name one a checkout may write; and
// calls fn for each.
func walkTree(data []byte, fn func(mode uint32, name []byte, id plumbing.Hash) error) error {
	entries := odb.NewTreeIter(data)
	var e odb.TreeEntry
	for entries.Next(&e) {
		switch e.Mode {
		case odb.ModeDir, odb.ModeFile, odb.ModeExec, odb.ModeSymlink, odb.ModeGitlink, 0o100664:
			// 100664 comes from very old git and is still accepted by fsck.
		default:
			return fmt.Errorf("bad tree entry mode %o", e.Mode)
		}
		if err := checkEntryName(e.Name); err != nil {
			return err
		}
		if err := fn(e.Mode, e.Name, e.ID); err != nil {
			return err
		}
	}
	return entries.Err()
}

// checkEntryName refuses the names a checkout must never write: ones that
// leave the directory and ".git" in any case (CVE-2014-9390). Sorting and
// duplicates are left to fsck, as git's receive-pack does by default.
func checkEntryName(name []byte) error {
	switch {
	case len(name) == 0:
		return errors.New("empty name in tree")
	case bytes.IndexByte(name, '/') >= 0:
		return errors.New("tree entry name contains '/'")
	case string(name) == "." || string(name) == "..":
		return errors.New("tree entry named . or ..")
	case strings.EqualFold(string(name), ".git"):
		return errors.New("tree entry named .git")
	}
	return nil
}
