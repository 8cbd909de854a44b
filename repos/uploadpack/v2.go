package uploadpack

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/pktline"
	"gatehouse/repos/refs"
)

// maxRefPrefixes and maxRefPrefixBytes bound the ref-prefix lines of one
// ls-refs and what they hold; past either the prefixes are dropped and
// every ref is listed, as git does past its count, which is never wrong,
// only longer.
const (
	maxRefPrefixes    = 65536
	maxRefPrefixBytes = 4 << 20
)

// wantsV2 reports whether GIT_PROTOCOL (colon-separated key=value pairs)
// asks for protocol version 2.
func wantsV2(protocol string) bool {
	for _, kv := range strings.Split(protocol, ":") {
		if kv == "version=2" {
			return true
		}
	}
	return false
}

// serveV2 is a protocol v2 conversation: the capability advertisement,
// then commands (ls-refs, fetch) until the client hangs up or sends a
// flush in place of a command. Each command is answered on its own, as
// git does: a fetch that negotiates over several rounds repeats its
// wants and common haves in every round, so nothing carries over.
//
// Not offered, so clients do not ask: packfile-uris, want-ref
// (ref-in-want) and session-id.
func (s *session) serveV2() error {
	s.w.Linef("version 2")
	s.w.Linef("agent=%s", capValue(s.opts.Agent))
	s.w.Linef("ls-refs=unborn")
	s.w.Linef("fetch=shallow wait-for-done filter sideband-all")
	s.w.Linef("server-option")
	s.w.Linef("object-format=sha1")
	if err := s.w.Flush(); err != nil {
		return s.writeErr()
	}
	for {
		cmd, err := s.readCommandV2()
		if err != nil || cmd == "" {
			return err
		}
		switch cmd {
		case "ls-refs":
			err = s.lsRefs()
		case "fetch":
			err = s.fetchV2()
		}
		if err != nil {
			return err
		}
	}
}

// readCommandV2 reads "command=NAME" and the capability lines after it,
// up to the delimiter before the arguments. It returns "" when the client
// is done: it hung up or sent a flush instead of a command. A command
// with no arguments (flush right after the capabilities) leaves the
// reader at the next command; cmdArgsEnded records that.
func (s *session) readCommandV2() (string, error) {
	kind, line, err := s.r.ReadLine()
	if errors.Is(err, io.EOF) {
		return "", nil
	}
	if err != nil {
		return "", s.readError("command", err)
	}
	if kind == pktline.FlushPkt {
		return "", nil
	}
	cmd, ok := strings.CutPrefix(line, "command=")
	if kind != pktline.Data || !ok {
		return "", s.clientError("expected a command, got '%s'", pktline.Clip(line))
	}
	if cmd != "ls-refs" && cmd != "fetch" {
		return "", s.clientError("invalid command '%s'", pktline.Clip(cmd))
	}
	for {
		kind, line, err := s.r.ReadLine()
		if err != nil {
			return "", s.readError("capabilities", err)
		}
		switch kind {
		case pktline.DelimPkt:
			s.argsEnded = false
			return cmd, nil
		case pktline.FlushPkt:
			s.argsEnded = true
			return cmd, nil
		}
		switch {
		case strings.HasPrefix(line, "agent="), strings.HasPrefix(line, "server-option="),
			strings.HasPrefix(line, "session-id="):
			// Informational; server options have no meaning here yet.
		case strings.HasPrefix(line, "object-format="):
			if line != "object-format=sha1" {
				return "", s.clientError("unsupported object format '%s'", pktline.Clip(line[len("object-format="):]))
			}
		default:
			return "", s.clientError("unknown capability '%s'", pktline.Clip(line))
		}
	}
}

// nextArg returns the command's next argument line, or ok false at the
// flush that ends them.
func (s *session) nextArg() (line string, ok bool, err error) {
	if s.argsEnded {
		return "", false, nil
	}
	kind, line, err := s.r.ReadLine()
	if err != nil {
		return "", false, s.readError("arguments", err)
	}
	switch kind {
	case pktline.FlushPkt:
		s.argsEnded = true
		return "", false, nil
	case pktline.Data:
		return line, true, nil
	}
	return "", false, s.clientError("protocol error: unexpected special packet in arguments")
}

// lsRefs answers ls-refs: HEAD and the refs whose names start with one of
// the prefixes (all of them when none is given), with HEAD's target
// ("symrefs"), the peeled id of annotated tags ("peel") and an unborn
// HEAD ("unborn").
func (s *session) lsRefs() error {
	var symrefs, peel, unborn, tooMany bool
	var prefixes []string
	held := 0
	for {
		line, ok, err := s.nextArg()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch {
		case line == "symrefs":
			symrefs = true
		case line == "peel":
			peel = true
		case line == "unborn":
			unborn = true
		case strings.HasPrefix(line, "ref-prefix "):
			p := line[len("ref-prefix "):]
			// No ref name is longer than refs.MaxNameLen, so a longer
			// prefix matches what its first MaxNameLen+1 bytes match:
			// nothing.
			p = p[:min(len(p), refs.MaxNameLen+1)]
			held += len(p)
			switch {
			case tooMany:
			case len(prefixes) == maxRefPrefixes || held > maxRefPrefixBytes:
				tooMany, prefixes = true, nil
			default:
				prefixes = append(prefixes, strings.Clone(p))
			}
		default:
			return s.clientError("unexpected line: '%s'", pktline.Clip(line))
		}
	}
	match := func(name string) bool {
		if len(prefixes) == 0 {
			return true
		}
		for _, p := range prefixes {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
		return false
	}
	head, err := refs.ReadHead(s.dir)
	if err != nil {
		return s.internalError(err)
	}
	if match("HEAD") {
		switch {
		case head.ID != "":
			line := head.ID + " HEAD"
			if symrefs && head.Target != "" {
				line += " symref-target:" + head.Target
			}
			s.w.Linef("%s", line)
			s.shownID(plumbing.NewHash(head.ID))
		case unborn && head.Target != "":
			line := "unborn HEAD"
			if symrefs {
				line += " symref-target:" + head.Target
			}
			s.w.Linef("%s", line)
		}
	}
	// The refs go out as they are read, only those under the prefixes
	// read at all.
	var buf []byte
	err = s.eachRef(prefixes, func(r advRef) error {
		buf = hex.AppendEncode(buf[:0], r.id[:])
		buf = append(buf, ' ')
		buf = append(buf, r.name...)
		s.shownID(r.id)
		if !r.peeled.IsZero() {
			s.shownID(r.peeled)
			if peel {
				buf = append(buf, " peeled:"...)
				buf = hex.AppendEncode(buf, r.peeled[:])
			}
		}
		buf = append(buf, '\n')
		s.w.Write(buf)
		return nil
	})
	if err != nil {
		return s.internalError(err)
	}
	// The objects these refs name may have come in packs the store has
	// not listed yet.
	s.fs.refsRead()
	s.w.Flush()
	return s.writeErr()
}

// fetchV2 answers one fetch request: acknowledgments for the haves when
// the client is still negotiating, then, once it said "done" or we could
// say "ready", the shallow-info section and the pack, always on side-band
// 64k as v2 requires.
func (s *session) fetchV2() error {
	s.sidebandAll = false
	req := &request{ack: ackDetailed, band: pktline.MaxLine}
	var (
		haves       []plumbing.Hash
		seenHaves   bool
		done        bool
		waitForDone bool
		seen        = make(map[plumbing.Hash]bool)
	)
	for {
		line, ok, err := s.nextArg()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if handled, err := s.readArg(req, line); handled || err != nil {
			if err != nil {
				return err
			}
			continue
		}
		switch {
		case strings.HasPrefix(line, "want "):
			id, rest, ok := parseID(line[len("want "):])
			if !ok || rest != "" {
				return s.clientError("protocol error: expected to get object ID, not '%s'", pktline.Clip(line))
			}
			if len(req.wants) >= s.opts.MaxWants {
				return s.clientError("too many wants")
			}
			if !seen[id] {
				seen[id] = true
				req.wants = append(req.wants, id)
			}
		case strings.HasPrefix(line, "have "):
			id, rest, ok := parseID(line[len("have "):])
			if !ok || rest != "" {
				return s.clientError("expected SHA1 object, got '%s'", pktline.Clip(line))
			}
			seenHaves = true
			// Haves past the bound are ignored: the pack only gets bigger.
			if len(haves) < s.opts.MaxHaves {
				haves = append(haves, id)
			}
		case line == "done":
			done = true
		case line == "wait-for-done":
			waitForDone = true
		case line == "sideband-all":
			// From here on every line of the answer, errors included,
			// travels on a side-band channel.
			s.sidebandAll = true
		case line == "thin-pack":
			req.thinPack = true
		case line == "ofs-delta":
			req.ofsDelta = true
		case line == "no-progress":
			req.noProgress = true
		case line == "include-tag":
			req.includeTag = true
		default:
			return s.clientError("unexpected line: '%s'", pktline.Clip(line))
		}
	}
	if len(req.wants) == 0 && !waitForDone {
		// Nothing wanted: git answers nothing at all.
		return nil
	}
	adv, err := s.advertisement()
	if err != nil {
		return s.internalError(err)
	}
	if err := s.checkWants(req, adv); err != nil {
		return err
	}
	// Every command starts from a fresh graph: the flags of one request
	// must not leak into the next.
	s.g = s.g.fresh()
	if err := s.applyShallow(req); err != nil {
		return err
	}
	neg, err := newNegotiator(s.g, req.wants)
	if err != nil {
		return s.internalError(err)
	}
	var acks []plumbing.Hash
	for _, id := range haves {
		common, err := neg.have(id)
		if err != nil {
			return s.internalError(err)
		}
		if common {
			acks = append(acks, id)
		}
	}
	if !done && seenHaves {
		s.line("acknowledgments")
		if len(acks) == 0 {
			s.line("NAK")
		}
		for _, id := range acks {
			s.line("ACK %s", id)
		}
		ready := false
		if !waitForDone {
			if ready, err = neg.okToGiveUp(); err != nil {
				return s.internalError(err)
			}
		}
		if !ready {
			// The client sends another round.
			s.w.Flush()
			return s.writeErr()
		}
		s.line("ready")
		s.w.Delim()
	}
	if len(req.wants) == 0 {
		// wait-for-done with nothing wanted: no pack to send.
		s.w.Flush()
		return s.writeErr()
	}
	if req.deepens() || len(req.shallow) > 0 {
		s.line("shallow-info")
		for _, l := range req.shallowInfo {
			s.line("%s", l)
		}
		s.w.Delim()
	}
	s.line("packfile")
	return s.sendPack(req, adv, neg.common)
}

// line writes one line of a fetch response: as is, or on side-band
// channel 1 once the client asked for sideband-all.
func (s *session) line(format string, args ...any) {
	text := fmt.Sprintf(format, args...) + "\n"
	if s.sidebandAll {
		text = "\x01" + text
	}
	s.w.WriteString(text)
}
