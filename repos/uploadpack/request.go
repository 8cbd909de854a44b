package uploadpack

import (
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/pktline"
)

// ackMode is how the client wants its haves acknowledged.
type ackMode int

const (
	ackSingle   ackMode = iota // one ACK, for the first common have
	ackMulti                   // "multi_ack": ACK <id> continue
	ackDetailed                // "multi_ack_detailed": common / ready
)

// request is what the client asked for, independent of protocol version.
type request struct {
	wants    []plumbing.Hash // distinct, in the order asked
	ack      ackMode
	noDone   bool // go straight to the pack after "ACK ready"
	ofsDelta bool
	// thinPack: the client completes a pack whose deltas have bases it
	// holds ("thin-pack").
	thinPack   bool
	noProgress bool
	includeTag bool
	// shallow lists the client's shallow commits ("shallow" lines): it
	// has them but not their parents.
	shallow []plumbing.Hash
	// depth is the "deepen" request: history depth from the wants; 0 for
	// none, infiniteDepth to unshallow.
	depth int
	// edges are commits the client has beyond the haves: the shallow
	// commits it is given the parents of.
	edges []plumbing.Hash
	// band is the largest side-band packet the client takes (65520 for
	// side-band-64k, 1000 for side-band); 0 for a bare pack.
	band int
	// since is "deepen-since": history back to this time (Unix seconds);
	// 0 for none.
	since int64
	// not lists "deepen-not" refs: history not reachable from them.
	not []string
	// relative is "deepen-relative": depth counts from the client's
	// shallow commits, not from the wants.
	relative bool
	// filter is the partial clone filter; the zero value sends all.
	filter filter
	// shallowInfo holds the "shallow" and "unshallow" lines for the
	// client, written where the protocol version puts them.
	shallowInfo []string
}

// deepens reports whether the request changes the client's history
// boundary.
func (req *request) deepens() bool {
	return req.depth > 0 || req.since > 0 || len(req.not) > 0
}

// readArg handles the request lines v0 and v2 share: shallow, the deepen
// family and filter. It reports false for any other line.
func (s *session) readArg(req *request, line string) (bool, error) {
	switch {
	case strings.HasPrefix(line, "shallow "):
		id, rest, ok := parseID(line[len("shallow "):])
		if !ok || rest != "" {
			return true, s.clientError("protocol error: bad shallow line '%s'", pktline.Clip(line))
		}
		req.shallow = append(req.shallow, id)
	case strings.HasPrefix(line, "deepen-since "):
		t, err := strconv.ParseInt(line[len("deepen-since "):], 10, 64)
		if err != nil || t <= 0 {
			return true, s.clientError("invalid deepen-since: '%s'", pktline.Clip(line))
		}
		req.since = t
	case strings.HasPrefix(line, "deepen-not "):
		if len(req.not) >= 256 {
			return true, s.clientError("too many deepen-not lines")
		}
		req.not = append(req.not, line[len("deepen-not "):])
	case line == "deepen-relative":
		req.relative = true
	case strings.HasPrefix(line, "deepen "):
		d, err := strconv.Atoi(line[len("deepen "):])
		if err != nil || d <= 0 {
			return true, s.clientError("invalid deepen: '%s'", pktline.Clip(line))
		}
		req.depth = d
	case strings.HasPrefix(line, "filter "):
		f, err := parseFilter(line[len("filter "):])
		if err != nil {
			return true, s.clientError("%v", err)
		}
		req.filter = f
	default:
		return false, nil
	}
	return true, nil
}

// readRequestV0 reads the want, shallow and deepen lines up to a flush
// and checks every want was advertised. It returns nil, nil when the client wants nothing:
// ls-remote, an up-to-date fetch, or a client that hung up after reading
// the advertisement.
func (s *session) readRequestV0(adv *advertisement) (*request, error) {
	req := &request{}
	seen := make(map[plumbing.Hash]bool)
	for n := 0; ; n++ {
		kind, line, err := s.r.ReadLine()
		if n == 0 && errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, s.readError("wants", err)
		}
		if kind == pktline.FlushPkt {
			break
		}
		if kind != pktline.Data {
			return nil, s.clientError("protocol error: unexpected special packet in wants")
		}
		if n >= s.opts.MaxWants {
			return nil, s.clientError("too many wants")
		}
		if ok, err := s.readArg(req, line); ok || err != nil {
			if err != nil {
				return nil, err
			}
			continue
		}
		rest, ok := strings.CutPrefix(line, "want ")
		var id plumbing.Hash
		if ok {
			id, rest, ok = parseID(rest)
		}
		if !ok || (rest != "" && rest[0] != ' ') {
			return nil, s.clientError("protocol error: expected to get object ID, not '%s'", pktline.Clip(line))
		}
		// Capabilities belong on the first line; like git, accept them on
		// any.
		req.addCaps(rest)
		if !seen[id] {
			seen[id] = true
			req.wants = append(req.wants, id)
		}
	}
	// Checked after the flush, as git does, so the client has finished
	// writing and will read the ERR line.
	if err := s.checkWants(req, adv); err != nil {
		return nil, err
	}
	if len(req.wants) == 0 {
		return nil, nil
	}
	return req, nil
}

// addCaps records the capabilities in a space-separated list. Unknown
// ones are ignored, as git does.
func (req *request) addCaps(list string) {
	for _, c := range strings.Fields(list) {
		switch c {
		case "multi_ack":
			req.ack = max(req.ack, ackMulti)
		case "multi_ack_detailed":
			req.ack = ackDetailed
		case "no-done":
			req.noDone = true
		case "ofs-delta":
			req.ofsDelta = true
		case "thin-pack":
			req.thinPack = true
		case "no-progress":
			req.noProgress = true
		case "include-tag":
			req.includeTag = true
		case "deepen-relative":
			req.relative = true
		case "side-band":
			req.band = max(req.band, 1000)
		case "side-band-64k":
			req.band = pktline.MaxLine
		}
	}
}

// parseID reads 40 hex digits at the start of s and returns the rest.
// Upper case is accepted, as git does.
func parseID(s string) (plumbing.Hash, string, bool) {
	if len(s) < 40 {
		return plumbing.ZeroHash, s, false
	}
	for i := 0; i < 40; i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return plumbing.ZeroHash, s, false
		}
	}
	return plumbing.NewHash(strings.ToLower(s[:40])), s[40:], true
}
