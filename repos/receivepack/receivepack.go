// Package receivepack serves the server side of a push, git-receive-pack,
// in protocol version 0 (version 2 has no push; clients asking for it fall
// back to this).
//
// The exchange: the server advertises its refs and capabilities; the
// client sends "old new ref" commands and a flush, then, unless it only
// deletes, a pack; the server stores the pack in quarantine (package
// pack), checks each command, runs the server's pre-receive and update
// hooks when there are any (package hooks), moves the refs that pass by
// compare-and-swap (package refs), reports per ref and runs post-receive.
//
// Supported capabilities: report-status, delete-refs, side-band-64k,
// quiet, ofs-delta, atomic, push-options, agent and object-format=sha1.
// Not (yet): push-cert, report-status-v2.
package receivepack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse"
	"gatehouse/repos/hooks"
	"gatehouse/repos/indexpack"
	"gatehouse/repos/odb"
	"gatehouse/repos/pktline"
	"gatehouse/repos/refs"
)

// DefaultMaxCommands bounds the ref updates of one push: enough for a
// mirror of a large repository's branches, tags and pull refs.
const DefaultMaxCommands = 100000

// maxPushOptions bounds the push options of one push; each is one
// pkt-line, so at most 65516 bytes.
const maxPushOptions = 100

// Options configure Serve.
type Options struct {
	// Agent is advertised as agent=...; "gatehouse" when empty.
	Agent string
	// MaxPackSize bounds the pack in bytes; 0 means no bound.
	MaxPackSize int64
	// MaxObjectSize bounds one object of the pack in bytes; 0 means
	// indexpack.DefaultMaxObjectSize.
	MaxObjectSize int64
	// MaxCommands bounds the ref updates in one push; 0 means
	// DefaultMaxCommands.
	MaxCommands int
	// CheckRef, when set, may veto one update (for access rules); its
	// error's text goes to the client as the reason.
	CheckRef func(u gatehouse.RefUpdate) error
	// Hooks, when set, are the server hooks of this push (package
	// hooks): Serve gives them the push options and the client's
	// progress band, runs pre-receive and update after the checks and
	// before any ref moves, and post-receive after the refs moved.
	Hooks *hooks.Push
	// LockRepo, when set, takes the repository's write lock shared with
	// the other nodes (gatehouse.RepoLocker) around the ref transaction,
	// after the in-process one. When it fails every update is refused
	// with its error's text (ErrBusy: "busy, retry") and nothing moves.
	LockRepo func() (unlock func(), err error)
}

// ErrProtocol: the client broke the protocol. Serve has told the client
// when it still could; nothing was changed.
var ErrProtocol = errors.New("receive-pack: protocol error")

// ErrRefused: the push as a whole was over a limit (too many ref updates,
// a name too long). The client was told; nothing was changed.
var ErrRefused = errors.New("receive-pack: push refused")

// session is one push in progress.
type session struct {
	ctx    context.Context
	gitDir string
	opts   Options
	out    *bufio.Writer
	pw     *pktline.Writer

	// What the client asked for on its first command.
	reportStatus, sideBand, quiet, atomic, pushOptions bool
	// options are the client's push options, in order.
	options []string

	advertised map[string]string // ref name -> id, as advertised
	headUnborn bool              // HEAD pointed at no ref and no branch existed
	refusal    string            // why the whole push is refused; "" if it is not
}

// Serve runs receive-pack on the bare repository gitDir over in and out.
// It returns what the push changed: possibly nothing, with a nil error,
// when the client only looked or had nothing to push.
//
// Errors: ErrProtocol for a malformed exchange; a failure to read the
// refs; the pack package's errors (the client got "unpack <reason>" and
// every ref "ng ... unpacker error"); a write error to out. Refused refs
// are not errors: they are reported to the client and left out of the
// result. Cancelling ctx is noticed between steps; the caller closes the
// connection to interrupt a blocked read.
func Serve(ctx context.Context, gitDir string, in io.Reader, out io.Writer, opts Options) (*gatehouse.PushResult, error) {
	if opts.Agent == "" {
		opts.Agent = "gatehouse"
	}
	if opts.MaxCommands <= 0 {
		opts.MaxCommands = DefaultMaxCommands
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	s := &session{ctx: ctx, gitDir: gitDir, opts: opts, out: bw, pw: pktline.NewWriter(bw)}

	if err := s.advertise(); err != nil {
		return nil, err
	}
	br := pktline.NewBufferedReader(in)
	pr := pktline.NewReader(br)
	cmds, withPack, err := s.readCommands(pr)
	if err == nil && s.refusal != "" {
		return &gatehouse.PushResult{}, s.refuse(br, pr, withPack)
	}
	if err != nil || cmds.len() == 0 {
		// No commands: the client only listed refs or had nothing to push.
		return &gatehouse.PushResult{}, err
	}
	if s.pushOptions {
		// The options come after the commands, before the pack.
		if err := s.readOptions(pr); err != nil {
			return &gatehouse.PushResult{}, err
		}
	}

	var inc *indexpack.Incoming
	if slices.ContainsFunc(cmds.new, func(id uint32) bool { return id != 0 }) {
		var progress io.Writer
		if s.sideBand && !s.quiet {
			progress = &flushingWriter{w: pktline.NewBand(s.pw, pktline.BandProgress, pktline.MaxLine), bw: bw}
		}
		inc, err = indexpack.Receive(ctx, gitDir, br, indexpack.Options{MaxSize: opts.MaxPackSize, MaxObjectSize: opts.MaxObjectSize, Progress: progress})
		if err != nil {
			s.failAll(cmds)
			rerr := s.report(cmds, unpackReason(err))
			return nil, errors.Join(fmt.Errorf("receive-pack: unpack: %w", err), rerr)
		}
		defer inc.Abort()
	}

	s.check(cmds, inc)
	s.atomicFail(cmds)
	s.runHooks(cmds, inc)
	res, unpackErr := s.apply(cmds, inc)
	// The pack is installed or dropped: its quarantine and what indexpack
	// holds of it go before the report and post-receive.
	if inc != nil {
		inc.Abort()
	}
	res.PushOptions = s.options
	msg := ""
	if unpackErr != nil {
		msg = unpackReason(unpackErr)
		unpackErr = fmt.Errorf("receive-pack: install: %w", unpackErr)
	}
	// No hook output may still be written to the client, which must not
	// be written to twice at once. A client that stopped reading holds a
	// hook's last write, not the hook (see hooks.Push.Wait): the push goes
	// on up to here, then waits for it like any write.
	s.opts.Hooks.Wait()
	err = s.sendReport(cmds, msg)
	if err == nil {
		s.runPostReceive(res.Updated)
		err = s.end()
	}
	if err != nil {
		return res, errors.Join(unpackErr, err)
	}
	return res, unpackErr
}

// capabilities lists what we offer, on the first advertised line.
func (s *session) capabilities() string {
	agent := strings.Map(func(r rune) rune {
		if r <= ' ' || r >= 0x7f {
			return -1
		}
		return r
	}, s.opts.Agent)
	return "report-status delete-refs side-band-64k quiet atomic push-options ofs-delta object-format=sha1 agent=" + agent
}

// advertise writes the ref advertisement: "<id> <ref>\0caps" first, then
// one line per ref, then a flush; an empty repository advertises its
// capabilities on a "capabilities^{}" line with the zero id.
func (s *session) advertise() error {
	caps := s.capabilities()
	s.advertised = make(map[string]string)
	hasBranch := false
	// Each line goes out as its ref is read.
	var line []byte
	for r, err := range refs.Each(s.gitDir) {
		if err != nil {
			return fmt.Errorf("receive-pack: %w", err)
		}
		line = append(append(append(line[:0], r.ID...), ' '), r.Name...)
		if len(s.advertised) == 0 {
			line = append(append(line, 0), caps...)
		}
		s.pw.Write(append(line, '\n'))
		s.advertised[r.Name] = r.ID
		hasBranch = hasBranch || strings.HasPrefix(r.Name, "refs/heads/")
	}
	// A HEAD that cannot be read just means HEAD is left alone.
	if h, err := refs.ReadHead(s.gitDir); err == nil && h.Target != "" && h.ID == "" && !hasBranch {
		s.headUnborn = true
	}
	if len(s.advertised) == 0 {
		s.pw.WriteString(refs.ZeroID + " capabilities^{}\x00" + caps + "\n")
	}
	s.pw.Flush()
	if err := s.pw.Err(); err != nil {
		return fmt.Errorf("receive-pack: write: %w", err)
	}
	if err := s.out.Flush(); err != nil {
		return fmt.Errorf("receive-pack: write: %w", err)
	}
	return nil
}

// readCommands reads "old new ref" lines up to a flush, taking the
// client's capabilities from the first. "shallow" lines from a shallow
// client are skipped; its history is then judged by the connectivity
// check. A client hanging up before any command is not an error.
//
// A command takes its name and 14 bytes, plus its ids when they are new
// (see commands), and names are bounded by refs.MaxNameLen, so the
// commands of one push take at most about MaxCommands times 1.1 KiB. Past MaxCommands, or at a name over the
// bound, the push is refused: s.refusal says why, and the rest of the
// commands are read only to learn whether a pack follows (pack).
func (s *session) readCommands(pr *pktline.Reader) (_ *commands, pack bool, err error) {
	shallow := 0
	cr := newCommandReader()
	for n := 0; ; n++ {
		kind, b, err := pr.Read()
		if err == io.EOF && n == 0 {
			return &commands{}, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("%w: reading commands: %v", ErrProtocol, err)
		}
		if kind == pktline.FlushPkt {
			break
		}
		if kind != pktline.Data {
			return nil, false, s.fatal("unexpected packet among commands")
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		// The capabilities ride on the first command, after any shallow
		// lines a shallow clone sends first.
		if cr.len() == 0 && s.refusal == "" && !bytes.HasPrefix(b, []byte("shallow ")) {
			var caps []byte
			b, caps, _ = bytes.Cut(b, []byte{0})
			for _, c := range strings.Fields(string(caps)) {
				switch c {
				case "report-status":
					s.reportStatus = true
				case "side-band-64k":
					s.sideBand = true
				case "quiet":
					s.quiet = true
				case "atomic":
					s.atomic = true
				case "push-options":
					s.pushOptions = true
				}
			}
		}
		if id, ok := bytes.CutPrefix(b, []byte("shallow ")); ok && cr.len() == 0 && s.refusal == "" {
			if !isID(string(id)) {
				return nil, false, s.fatal("bad shallow line")
			}
			if shallow++; shallow > s.opts.MaxCommands {
				return nil, false, s.fatal("too many shallow lines")
			}
			continue
		}
		if len(b) < 83 || b[40] != ' ' || b[81] != ' ' {
			return nil, false, s.fatal(fmt.Sprintf("expected old/new/ref, got %q", truncate(string(b[:min(len(b), 120)]), 100)))
		}
		pack = pack || string(b[41:81]) != refs.ZeroID
		switch {
		case s.refusal != "":
			continue
		case len(b)-82 > refs.MaxNameLen:
			s.refusal = fmt.Sprintf("ref name of %d bytes, over the limit of %d", len(b)-82, refs.MaxNameLen)
			continue
		case cr.len() == s.opts.MaxCommands:
			s.refusal = fmt.Sprintf("push has more than %d ref updates (--max-ref-updates)", s.opts.MaxCommands)
			continue
		}
		if !cr.add(b) {
			return nil, false, s.fatal(fmt.Sprintf("expected old/new/ref, got %q", truncate(string(b), 100)))
		}
	}
	if s.refusal != "" {
		return &commands{}, pack, nil
	}
	return cr.done(), pack, nil
}

// refuse turns down a whole push in order: it reads what the client
// still sends (push options, then the pack, up to MaxPackSize) so that
// the client is listening, then answers with an ERR packet where the
// client expects its report, which git shows as
// "fatal: remote error: <why>". It returns ErrRefused.
func (s *session) refuse(br io.Reader, pr *pktline.Reader, pack bool) error {
	var err error
	if s.pushOptions {
		err = s.readOptions(pr)
	}
	if err == nil && pack {
		var r io.Reader = br
		if s.opts.MaxPackSize > 0 {
			r = io.LimitReader(br, s.opts.MaxPackSize)
		}
		_, err = io.Copy(io.Discard, r)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("%w: %s", ErrRefused, s.refusal), err)
	}
	if s.sideBand {
		var buf bytes.Buffer
		pktline.NewWriter(&buf).Error(s.refusal)
		pktline.NewBand(s.pw, pktline.BandData, pktline.MaxLine).Write(buf.Bytes())
		s.pw.Flush()
	} else {
		s.pw.Error(s.refusal)
	}
	if err := s.pw.Err(); err != nil {
		return errors.Join(fmt.Errorf("%w: %s", ErrRefused, s.refusal), err)
	}
	if err := s.out.Flush(); err != nil {
		return errors.Join(fmt.Errorf("%w: %s", ErrRefused, s.refusal), err)
	}
	return fmt.Errorf("%w: %s", ErrRefused, s.refusal)
}

// readOptions reads the push options up to their flush.
func (s *session) readOptions(pr *pktline.Reader) error {
	for {
		kind, line, err := pr.ReadLine()
		if err != nil {
			return fmt.Errorf("%w: reading push options: %v", ErrProtocol, err)
		}
		if kind == pktline.FlushPkt {
			return nil
		}
		if kind != pktline.Data {
			return s.fatal("unexpected packet among push options")
		}
		if len(s.options) == maxPushOptions {
			return s.fatal(fmt.Sprintf("more than %d push options", maxPushOptions))
		}
		s.options = append(s.options, line)
	}
}

// atomicFail refuses every command of an atomic push once one of them is
// refused, so that none is applied.
func (s *session) atomicFail(cmds *commands) bool {
	if !s.atomic || !cmds.anyRefused() {
		return false
	}
	for i := range cmds.len() {
		if cmds.ok(i) {
			cmds.refuse(i, reasonAtomic)
		}
	}
	return true
}

// fatal tells the client why the push dies, on the error band when it
// asked for side-band, else as an ERR packet, and returns ErrProtocol.
func (s *session) fatal(msg string) error {
	if s.sideBand {
		pktline.NewBand(s.pw, pktline.BandError, pktline.MaxLine).Write([]byte("protocol error: " + msg + "\n"))
	} else {
		s.pw.Error("protocol error: " + msg)
	}
	s.out.Flush()
	return fmt.Errorf("%w: %s", ErrProtocol, msg)
}

// check refuses the commands that cannot be applied whatever the refs
// hold, and computes Forced for the rest. It runs before the repository
// lock is taken: it only reads, and CheckRef may be slow.
func (s *session) check(cmds *commands, inc *indexpack.Incoming) {
	// Names given more than once, found in name order rather than with
	// a map of every name.
	byName := cmds.byName(func(int) bool { return true })
	dup := make([]bool, cmds.len())
	for k := 1; k < len(byName); k++ {
		if a, b := int(byName[k-1]), int(byName[k]); cmds.name(a) == cmds.name(b) {
			dup[a], dup[b] = true, true
		}
	}
	byName = nil
	for i := range cmds.len() {
		if s.ctx.Err() != nil {
			cmds.refuse(i, reasonFailed)
			continue
		}
		switch {
		case refs.CheckName(cmds.name(i)) != nil:
			cmds.refuse(i, reasonFunnyName)
		case dup[i]:
			cmds.refuse(i, reasonDuplicate)
		case cmds.isCreate(i) && cmds.isDelete(i):
			cmds.refuse(i, reasonBadCommand)
		case cmds.isDelete(i):
			if _, ok := s.advertised[cmds.name(i)]; !ok {
				cmds.refuse(i, reasonNoSuchRef)
			}
		default:
			cmds.refuse(i, s.checkNew(cmds, i, inc))
		}
		if !cmds.ok(i) || s.opts.CheckRef == nil {
			continue
		}
		if err := s.opts.CheckRef(cmds.update(i)); err != nil {
			words := truncate(oneLine(err.Error()), 200)
			if words == "" {
				words = "refused"
			}
			cmds.refuseSaying(i, words)
		}
	}
}

// checkNew checks an update's new object: it exists, it is a commit when
// the ref is a branch, and it and all it reaches are present. It also
// sets Forced.
func (s *session) checkNew(cmds *commands, i int, inc *indexpack.Incoming) reason {
	name, old, new := cmds.name(i), cmds.oldID(i), cmds.newID(i)
	typ, err := inc.Type(new)
	if err != nil {
		return reasonMissing
	}
	if strings.HasPrefix(name, "refs/heads/") && typ != plumbing.CommitObject {
		return reasonNonCommit
	}
	if err := inc.CheckConnected(s.ctx, []string{new}); err != nil {
		switch {
		case errors.Is(err, indexpack.ErrTooLarge):
			return reasonTooLong
		case errors.Is(err, indexpack.ErrMissingObject), errors.Is(err, indexpack.ErrCorrupt):
			return reasonMissing
		}
		return reasonFailed
	}
	if !cmds.isCreate(i) && old != new {
		// Forced unless new descends from old; a non-commit on either
		// side (a moved tag) can only be replaced, never descended.
		cmds.forced[i] = true
		if oldType, err := inc.Type(old); err == nil && oldType == plumbing.CommitObject && typ == plumbing.CommitObject {
			if ok, err := inc.IsAncestor(s.ctx, old, new); err == nil && ok {
				cmds.forced[i] = false
			}
		}
	}
	return standing
}

// apply moves the refs that passed, under the repository's lock so that
// concurrent pushes here serialize: each re-reads the refs, refuses what
// moved since its advertisement as stale, installs the pack if some ref
// will move and the pack's links hold, then compare-and-swaps each ref
// (which also guards against other processes). A first push into an
// empty repository also points HEAD at a branch it created. The returned
// error is an install failure, after which nothing changed.
func (s *session) apply(cmds *commands, inc *indexpack.Incoming) (*gatehouse.PushResult, error) {
	res := &gatehouse.PushResult{}
	if !slices.Contains(cmds.reasons, standing) {
		return res, nil
	}
	unlock := refs.Lock(s.gitDir)
	defer unlock()
	if s.opts.LockRepo != nil {
		unlockRepo, err := s.opts.LockRepo()
		if err != nil {
			for i := range cmds.len() {
				if cmds.ok(i) {
					cmds.refuseSaying(i, err.Error())
				}
			}
			return res, nil
		}
		defer unlockRepo()
	}

	// The refs are read as they stream, against the commands in name
	// order: no copy of all the repository's refs is held.
	byName := cmds.byName(cmds.ok)
	// Each command is checked against its ref as the ref streams by
	// (the names are distinct: duplicates were refused); seen marks
	// those whose ref exists.
	seen := make([]bool, len(byName))
	k := 0
	for r, err := range refs.Each(s.gitDir) {
		if err != nil {
			for i := range cmds.len() {
				if cmds.ok(i) {
					cmds.refuse(i, reasonReadRefs)
				}
			}
			return res, nil
		}
		for k < len(byName) && cmds.name(int(byName[k])) < r.Name {
			k++
		}
		if k < len(byName) && cmds.name(int(byName[k])) == r.Name {
			seen[k] = true
			if i := int(byName[k]); r.ID != cmds.oldID(i) {
				cmds.refuse(i, reasonStale)
			}
		}
	}
	needPack := false
	for k, i := range byName {
		if !seen[k] && !cmds.isCreate(int(i)) {
			cmds.refuse(int(i), reasonStale)
		}
		needPack = needPack || cmds.ok(int(i)) && !cmds.isDelete(int(i))
	}
	byName, seen = nil, nil
	if s.atomicFail(cmds) {
		return res, nil
	}
	if needPack && inc != nil {
		err := inc.Install()
		switch {
		case errors.Is(err, indexpack.ErrMissingObject), errors.Is(err, indexpack.ErrCorrupt), errors.Is(err, indexpack.ErrTooLarge):
			// The pack's links do not hold, so it is dropped. Every update
			// that needed it was refused for that already; the others,
			// to objects the repository has, go ahead without it.
		case err != nil:
			s.failAll(cmds)
			return res, err
		}
	}
	// One batch: the refs are read once and, for an atomic push, every
	// lock is taken before any ref moves, so a failure leaves all as they
	// were. The batch reads its updates from the commands: no copy of
	// them.
	batch := make([]int32, 0, cmds.count())
	for i := range cmds.len() {
		if cmds.ok(i) {
			batch = append(batch, int32(i))
		}
	}
	update := func(k int) refs.Update {
		i := int(batch[k])
		return refs.Update{Name: cmds.name(i), Old: cmds.oldID(i), New: cmds.newID(i)}
	}
	// A mirror push's many new refs go straight into packed-refs, peeled
	// through the repository's objects (the pack is installed by now).
	objects := odb.OpenReader(s.gitDir, odb.Limits{MaxObjectSize: s.opts.MaxObjectSize})
	defer objects.Close()
	peel := func(id string) (string, error) {
		t, err := objects.Peel(plumbing.NewHash(id))
		if err != nil || t.IsZero() {
			return "", err
		}
		return t.String(), nil
	}
	errs := refs.ApplyBatchFunc(s.gitDir, len(batch), update, refs.BatchOptions{Atomic: s.atomic, Peel: peel})
	// Made once the batch's own state is gone.
	// Indexes into cmds, which makes each RefUpdate when asked: a
	// mirror push's are not all held as RefUpdate values at once.
	moved := make([]int32, 0, len(batch)-countErrs(errs))
	var created []string
	for k, err := range errs {
		i := int(batch[k])
		switch {
		case err == nil:
			moved = append(moved, int32(i))
			if name := cmds.name(i); cmds.isCreate(i) && strings.HasPrefix(name, "refs/heads/") {
				created = append(created, name)
			}
		case errors.Is(err, refs.ErrAborted):
			cmds.refuse(i, reasonAtomic)
		case errors.Is(err, refs.ErrStale):
			cmds.refuse(i, reasonStale)
		case errors.Is(err, refs.ErrLocked):
			cmds.refuse(i, reasonLocked)
		default:
			cmds.refuse(i, reasonFailed)
		}
	}
	res.Updated = gatehouse.NewRefUpdates(len(moved), func(k int) gatehouse.RefUpdate { return cmds.update(int(moved[k])) })
	if s.headUnborn && len(created) > 0 {
		res.Head = s.chooseHead(created)
	}
	return res, nil
}

func countErrs(errs []error) int {
	n := 0
	for _, err := range errs {
		if err != nil {
			n++
		}
	}
	return n
}

// chooseHead points a still unborn HEAD at a created branch: main, else
// master, else the first created. It returns the branch name, or "" when
// HEAD was left alone (its own target was created, or it failed).
func (s *session) chooseHead(created []string) string {
	h, err := refs.ReadHead(s.gitDir)
	if err != nil || h.Target == "" || h.ID != "" {
		return ""
	}
	target := created[0]
	switch {
	case slices.Contains(created, "refs/heads/main"):
		target = "refs/heads/main"
	case slices.Contains(created, "refs/heads/master"):
		target = "refs/heads/master"
	}
	if err := refs.SetHead(s.gitDir, target); err != nil {
		return ""
	}
	return strings.TrimPrefix(target, "refs/heads/")
}

// failAll marks every command as failed for want of the pack.
func (s *session) failAll(cmds *commands) {
	for i := range cmds.len() {
		cmds.refuse(i, reasonUnpacker)
	}
}

// report sends report-status if the client asked for it: "unpack ok" or
// "unpack <reason>", then "ok <ref>" or "ng <ref> <reason>" per command,
// then a flush; all inside side-band channel 1 when negotiated, followed
// by the final flush that ends the side-band stream.
func (s *session) report(cmds *commands, unpackFailure string) error {
	if err := s.sendReport(cmds, unpackFailure); err != nil {
		return err
	}
	return s.end()
}

// sendReport sends report-status, as report describes, without ending
// the side-band stream: post-receive's output may follow, as in git.
func (s *session) sendReport(cmds *commands, unpackFailure string) error {
	if s.reportStatus {
		// Written as it is made, one line per command: inside side-band,
		// in data packets as each fills.
		var dst io.Writer = s.out
		var band *bufio.Writer
		if s.sideBand {
			band = bufio.NewWriterSize(pktline.NewBand(s.pw, pktline.BandData, pktline.MaxLine), pktline.MaxLine-5)
			dst = band
		}
		rw := pktline.NewWriter(dst)
		if unpackFailure == "" {
			rw.Linef("unpack ok")
		} else {
			rw.Linef("unpack %s", unpackFailure)
		}
		for i := range cmds.len() {
			if cmds.ok(i) {
				rw.Linef("ok %s", cmds.name(i))
			} else {
				rw.Linef("ng %s %s", cmds.name(i), cmds.why(i))
			}
		}
		rw.Flush()
		if err := rw.Err(); err != nil {
			return fmt.Errorf("receive-pack: report: %w", err)
		}
		if band != nil {
			if err := band.Flush(); err != nil {
				return fmt.Errorf("receive-pack: report: %w", err)
			}
		}
	}
	if err := s.pw.Err(); err != nil {
		return fmt.Errorf("receive-pack: report: %w", err)
	}
	return nil
}

// end ends the exchange: the final flush of the side-band stream, and
// everything buffered out to the client.
func (s *session) end() error {
	if s.sideBand {
		s.pw.Flush()
	}
	if err := s.pw.Err(); err != nil {
		return fmt.Errorf("receive-pack: report: %w", err)
	}
	if err := s.out.Flush(); err != nil {
		return fmt.Errorf("receive-pack: report: %w", err)
	}
	return nil
}

// unpackReason is the short, safe text the client sees after "unpack".
// The pack package's own errors carry no paths; anything else (I/O) is
// summarized and left to the caller's log.
func unpackReason(err error) string {
	switch {
	case errors.Is(err, indexpack.ErrTooLarge), errors.Is(err, indexpack.ErrObjectTooLarge), errors.Is(err, indexpack.ErrCorrupt), errors.Is(err, indexpack.ErrMissingObject):
		return truncate(oneLine(err.Error()), 200)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "interrupted"
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "the server's disk is full; nothing of this push was kept"
	}
	return "index-pack failed"
}

// flushingWriter pushes each progress write to the client at once.
type flushingWriter struct {
	w  io.Writer
	bw *bufio.Writer
}

func (f *flushingWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.bw.Flush()
	}
	return n, err
}

func isID[T string | []byte](s T) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
