package receivepack

import (
	"bytes"
	"encoding/hex"
	"slices"
	"strings"

	"gatehouse"
	"gatehouse/repos/refs"
)

// reason is why a command was refused, as a code; 0 while it stands.
// The client reads the words of reasonText.
type reason uint8

const (
	standing reason = iota
	reasonFunnyName
	reasonDuplicate
	reasonNoSuchRef
	reasonNonCommit
	reasonMissing
	reasonStale
	reasonLocked
	reasonFailed
	reasonUnpacker
	reasonBadCommand
	reasonReadRefs
	reasonTooLong
	// reasonAtomic is given to the refs of an atomic push that were fine
	// themselves when another one was refused.
	reasonAtomic
	reasonPreReceive
	reasonUpdateHook
	// reasonChecked is a refusal by Options.CheckRef, whose words are
	// kept apart (commands.said).
	reasonChecked
)

// reasonText holds the words reported for each reason, git's where git
// has them.
var reasonText = [...]string{
	reasonFunnyName:  "funny refname",
	reasonDuplicate:  "duplicate ref update",
	reasonNoSuchRef:  "no such ref to delete",
	reasonNonCommit:  "non-commit object to a branch",
	reasonMissing:    "missing necessary objects",
	reasonStale:      "stale info",
	reasonLocked:     "failed to lock",
	reasonFailed:     "failed to update ref",
	reasonUnpacker:   "unpacker error",
	reasonBadCommand: "invalid update",
	reasonReadRefs:   "failed to read refs",
	reasonTooLong:    "connectivity check too long",
	reasonAtomic:     "atomic transaction failed",
	reasonPreReceive: "pre-receive hook declined",
	reasonUpdateHook: "hook declined",
}

// commands are the "old new ref" lines of one push and what became of
// each, held in columns rather than as a record per command: a mirror
// push brings tens of thousands. The names are one string, the ids one
// string of distinct ids (a mirror's refs name far fewer objects than
// there are refs, and every create's old id is the zero id); what a
// command hands out (name, ids, RefUpdate) are substrings of those, so
// nothing is copied per command. A command costs 14 bytes besides its
// name, and 40 or 80 more when its ids are new past maxInterned.
type commands struct {
	names    string   // every name, back to back
	ends     []uint32 // command i's name ends at ends[i]
	ids      string   // distinct ids, 40 hex digits each; the zero id first
	old, new []uint32 // command i's ids, as indexes into ids
	reasons  []reason
	forced   []bool
	said     map[int]string // CheckRef's words, for reasonChecked
}

// maxInterned bounds the distinct ids looked up while commands are read;
// past it, a new id is appended whether it was seen or not.
const maxInterned = 4096

// commandReader builds commands as their lines are read.
type commandReader struct {
	names, ids strings.Builder
	seen       map[[20]byte]uint32
	c          commands
}

func newCommandReader() *commandReader {
	r := &commandReader{seen: make(map[[20]byte]uint32)}
	r.ids.WriteString(refs.ZeroID)
	r.seen[[20]byte{}] = 0
	return r
}

// add parses an "old new ref" line and appends it; false if it is not
// one.
func (r *commandReader) add(line []byte) bool {
	if len(line) < 83 || line[40] != ' ' || line[81] != ' ' {
		return false
	}
	old, new, name := line[:40], line[41:81], line[82:]
	if !isID(old) || !isID(new) || bytes.ContainsAny(name, "\x00\n") {
		return false
	}
	r.names.Write(name)
	r.c.ends = append(r.c.ends, uint32(r.names.Len()))
	r.c.old = append(r.c.old, r.id(old))
	r.c.new = append(r.c.new, r.id(new))
	r.c.reasons = append(r.c.reasons, standing)
	r.c.forced = append(r.c.forced, false)
	return true
}

// id returns the index of a (valid, lowercase hex) id in ids.
func (r *commandReader) id(b []byte) uint32 {
	var k [20]byte
	hex.Decode(k[:], b)
	if i, ok := r.seen[k]; ok {
		return i
	}
	i := uint32(r.ids.Len() / 40)
	r.ids.Write(b)
	if len(r.seen) < maxInterned {
		r.seen[k] = i
	}
	return i
}

func (r *commandReader) len() int { return len(r.c.ends) }

// done returns the commands read; r is not to be used again.
func (r *commandReader) done() *commands {
	r.c.names, r.c.ids = r.names.String(), r.ids.String()
	r.seen = nil
	return &r.c
}

func (c *commands) len() int { return len(c.ends) }

func (c *commands) name(i int) string {
	start := uint32(0)
	if i > 0 {
		start = c.ends[i-1]
	}
	return c.names[start:c.ends[i]]
}

func (c *commands) oldID(i int) string { return c.ids[40*c.old[i] : 40*c.old[i]+40] }
func (c *commands) newID(i int) string { return c.ids[40*c.new[i] : 40*c.new[i]+40] }

// The zero id is always ids' first: it is looked up before any other.
func (c *commands) isDelete(i int) bool { return c.new[i] == 0 }
func (c *commands) isCreate(i int) bool { return c.old[i] == 0 }

// ok says command i still stands.
func (c *commands) ok(i int) bool { return c.reasons[i] == standing }

func (c *commands) refuse(i int, r reason) { c.reasons[i] = r }

// refuseSaying refuses command i with words of the caller's.
func (c *commands) refuseSaying(i int, words string) {
	if c.said == nil {
		c.said = make(map[int]string)
	}
	c.reasons[i] = reasonChecked
	c.said[i] = words
}

// why is what the client is told of command i's refusal.
func (c *commands) why(i int) string {
	if r := c.reasons[i]; r != reasonChecked {
		return reasonText[r]
	}
	return c.said[i]
}

// anyRefused says whether some command was refused.
func (c *commands) anyRefused() bool {
	for _, r := range c.reasons {
		if r != standing {
			return true
		}
	}
	return false
}

// count returns the number of standing commands.
func (c *commands) count() int {
	n := 0
	for _, r := range c.reasons {
		if r == standing {
			n++
		}
	}
	return n
}

func (c *commands) update(i int) gatehouse.RefUpdate {
	return gatehouse.RefUpdate{Name: c.name(i), Old: c.oldID(i), New: c.newID(i), Forced: c.forced[i]}
}

// byName returns the indexes of the commands keep accepts, in name
// order.
func (c *commands) byName(keep func(i int) bool) []int32 {
	var order []int32
	for i := range c.len() {
		if keep(i) {
			order = append(order, int32(i))
		}
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(c.name(int(a)), c.name(int(b))) })
	return order
}
