package lfs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"gatehouse"
	"gatehouse/repos/pktline"
	"gatehouse/repos/refs"
)

// DefaultMaxObjectSize bounds one LFS object unless configured: 5 GiB,
// as GitHub's largest plan allows.
const DefaultMaxObjectSize = 5 << 30

// Bounds on what one request may carry, checked as it is read.
const (
	maxArgs         = 32   // arguments of one request
	maxBatchObjects = 1000 // objects of one batch (the client sends 100)
	maxPathLen      = 4096 // a locked path
	defaultLocks    = 100  // locks listed when the client gives no limit
	maxLocks        = 1000 // locks listed at most at once
)

// Server speaks git-lfs-transfer over one session's streams. Set the
// fields; Store and Locks are required.
type Server struct {
	Store *Store
	Locks gatehouse.LFSLockStore
	// MaxObjectSize bounds one object in bytes; 0 means
	// DefaultMaxObjectSize.
	MaxObjectSize int64
	// Quota bounds the LFS bytes one repository may hold; 0 means none.
	// It is checked against the stored total before each upload, so
	// concurrent uploads may pass it by what they carry.
	Quota  int64
	Logger *slog.Logger
}

var _ gatehouse.LFSService = (*Server)(nil)

// LFSUsage is the size of the objects stored for owner/name.
func (s *Server) LFSUsage(ctx context.Context, owner, name string) (int64, error) {
	return s.Store.Usage(ctx, owner, name)
}

// Status codes, the HTTP ones the protocol reuses.
const (
	statusOK           = 200
	statusCreated      = 201
	statusBadRequest   = 400
	statusForbidden    = 403
	statusNotFound     = 404
	statusConflict     = 409
	statusTooLarge     = 413
	statusInternal     = 500
	statusInsufficient = 507
)

// ServeLFS runs one git-lfs-transfer session: the capability
// advertisement, then requests until quit or the end of the input. A
// request the server does not know, or with an argument it does not
// know, is answered 400 and changes nothing; the session goes on, since
// every request is read to its end first. Only broken framing or a
// failed write ends the session early, with an error.
func (s *Server) ServeLFS(ctx context.Context, sess gatehouse.LFSSession) error {
	actor, ok := gatehouse.ActorFromContext(ctx)
	if !ok {
		return fmt.Errorf("lfs: no actor: %w", gatehouse.ErrForbidden)
	}
	bw := bufio.NewWriterSize(sess.Stdout, 64<<10)
	c := &conn{
		srv:   s,
		sess:  sess,
		actor: actor,
		r:     pktline.NewReader(bufio.NewReaderSize(sess.Stdin, 64<<10)),
		bw:    bw,
		w:     pktline.NewWriter(bw),
		log:   s.logger().With("repo", sess.Repo.FullName(), "op", string(sess.Operation)),
	}
	c.w.WriteString("version=1\n")
	c.w.WriteString("locking\n")
	c.w.Flush()
	if err := c.flush(); err != nil {
		return err
	}
	for {
		req, err := c.readRequest()
		if errors.Is(err, io.EOF) {
			return nil // the client hung up between requests
		}
		if err != nil {
			return fmt.Errorf("lfs: read request: %w", err)
		}
		quit, err := c.handle(ctx, req)
		if err != nil {
			return err
		}
		if req.body && !req.bodyDone {
			// What a refused request carried is read and dropped, so
			// the next request starts where it should.
			if err := c.discardBody(); err != nil {
				return fmt.Errorf("lfs: read request: %w", err)
			}
		}
		if err := c.flush(); err != nil {
			return err
		}
		if quit {
			return nil
		}
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *Server) maxObjectSize() int64 {
	if s.MaxObjectSize <= 0 {
		return DefaultMaxObjectSize
	}
	return s.MaxObjectSize
}

// conn is one session's state.
type conn struct {
	srv     *Server
	sess    gatehouse.LFSSession
	actor   gatehouse.Actor
	r       *pktline.Reader
	bw      *bufio.Writer
	w       *pktline.Writer
	log     *slog.Logger
	version bool // "version 1" was accepted
	// used is the repository's LFS usage, summed once per session for
	// the quota and then kept up with the session's own uploads.
	used      int64
	usedKnown bool
}

// request is one command with its arguments. When body is set, a
// delimiter followed them and the body (text lines, or an object's data)
// is still to be read up to its flush; bodyDone says it was.
type request struct {
	cmd      string
	param    string // what follows the command word: an oid, a lock id
	args     map[string]string
	badArg   string // the first argument that was malformed or repeated
	tooMany  bool
	body     bool
	bodyDone bool
}

// readRequest reads a command line and its arguments, up to the flush
// that ends the request or the delimiter that starts its body. io.EOF
// means the input ended cleanly before a request.
func (c *conn) readRequest() (*request, error) {
	req := &request{args: map[string]string{}}
	for first := true; ; first = false {
		kind, b, err := c.r.Read()
		if err == io.EOF && !first {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, err
		}
		switch kind {
		case pktline.FlushPkt:
			return req, nil // an empty one is refused by handle
		case pktline.DelimPkt:
			req.body = true
			return req, nil
		case pktline.Data:
		default:
			return nil, fmt.Errorf("unexpected packet kind %d", kind)
		}
		line := strings.TrimSuffix(string(b), "\n")
		if first {
			req.cmd, req.param, _ = strings.Cut(line, " ")
			continue
		}
		if len(req.args) >= maxArgs {
			req.tooMany = true
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if _, dup := req.args[k]; !ok || dup || k == "" {
			if req.badArg == "" {
				req.badArg = pktline.Clip(line)
			}
			continue
		}
		req.args[k] = v
	}
}

// readBody reads a packet of a request's body, where the input may not
// end.
func (c *conn) readBody() (pktline.Kind, []byte, error) {
	kind, b, err := c.r.Read()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && kind != pktline.Data && kind != pktline.FlushPkt {
		err = fmt.Errorf("unexpected packet kind %d in a request's body", kind)
	}
	return kind, b, err
}

// discardBody reads the rest of a request's body up to its flush.
func (c *conn) discardBody() error {
	for {
		kind, _, err := c.readBody()
		if err != nil || kind == pktline.FlushPkt {
			return err
		}
	}
}

// bodyLines reads a request's body as text lines, at most max of them;
// more is an error, after the body has been read to its end.
func (c *conn) bodyLines(req *request, max int) ([]string, bool, error) {
	if !req.body {
		return nil, true, nil
	}
	req.bodyDone = true
	var lines []string
	fits := true
	for {
		kind, b, err := c.readBody()
		switch {
		case err != nil:
			return nil, false, err
		case kind == pktline.FlushPkt:
			return lines, fits, nil
		case len(lines) >= max:
			fits = false
		default:
			lines = append(lines, strings.TrimSuffix(string(b), "\n"))
		}
	}
}

// bodyReader reads an object's data: the body's packets up to its flush.
type bodyReader struct {
	c    *conn
	req  *request
	buf  []byte
	done bool  // the flush was read
	err  error // reading the stream failed: the session cannot go on
}

func (b *bodyReader) Read(p []byte) (int, error) {
	for len(b.buf) == 0 {
		if b.done {
			return 0, io.EOF
		}
		if b.err != nil {
			return 0, b.err
		}
		kind, payload, err := b.c.readBody()
		switch {
		case err != nil:
			b.err = err
		case kind == pktline.FlushPkt:
			b.done, b.req.bodyDone = true, true
			return 0, io.EOF
		default:
			b.buf = payload
		}
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	return n, nil
}

// flush sends what has been written.
func (c *conn) flush() error {
	if err := c.w.Err(); err != nil {
		return fmt.Errorf("lfs: write: %w", err)
	}
	if err := c.bw.Flush(); err != nil {
		return fmt.Errorf("lfs: write: %w", err)
	}
	return nil
}

// reply writes a status with arguments and no body.
func (c *conn) reply(code int, args ...string) {
	c.w.Linef("status %d", code)
	for _, a := range args {
		c.w.WriteString(a + "\n")
	}
	c.w.Flush()
}

// replyLines writes a status, arguments, and a body of text lines.
func (c *conn) replyLines(code int, args, lines []string) {
	c.w.Linef("status %d", code)
	for _, a := range args {
		c.w.WriteString(a + "\n")
	}
	c.w.Delim()
	for _, l := range lines {
		c.w.WriteString(l + "\n")
	}
	c.w.Flush()
}

// fail writes an error status with a message for the user.
func (c *conn) fail(code int, format string, args ...any) {
	// Client text in the message was clipped where it was quoted.
	msg := fmt.Sprintf(format, args...)
	c.log.Info("lfs request refused", "status", code, "msg", msg)
	c.replyLines(code, nil, []string{msg})
}

// allowed refuses (400) a request with arguments other than names, or
// malformed ones; it reports whether the request may go on.
func (c *conn) allowed(req *request, names ...string) bool {
	switch {
	case req.badArg != "":
		c.fail(statusBadRequest, "malformed or repeated argument %q", req.badArg)
		return false
	case req.tooMany:
		c.fail(statusBadRequest, "more than %d arguments", maxArgs)
		return false
	}
	for k := range req.args {
		known := false
		for _, n := range names {
			known = known || k == n
		}
		if !known {
			c.fail(statusBadRequest, "unknown argument %q for %s", pktline.Clip(k), req.cmd)
			return false
		}
	}
	return true
}

// handle answers one request; quit is set when the session is over. An
// error is one the session cannot go on after.
func (c *conn) handle(ctx context.Context, req *request) (quit bool, err error) {
	if req.cmd == "" {
		c.fail(statusBadRequest, "empty request")
		return false, nil
	}
	if !c.version && req.cmd != "version" && req.cmd != "quit" {
		c.fail(statusBadRequest, "send \"version 1\" first")
		return false, nil
	}
	switch req.cmd {
	case "version":
		if !c.allowed(req) {
			return false, nil
		}
		if req.param != "1" {
			c.fail(statusBadRequest, "unsupported version %q; this server speaks version 1", pktline.Clip(req.param))
			return false, nil
		}
		c.version = true
		c.reply(statusOK)
	case "quit":
		if !c.allowed(req) {
			return false, nil
		}
		c.reply(statusOK)
		return true, nil
	case "batch":
		return false, c.batch(ctx, req)
	case "get-object":
		return false, c.getObject(ctx, req)
	case "put-object":
		return false, c.putObject(ctx, req)
	case "verify-object":
		c.verifyObject(req)
	case "lock":
		c.lock(ctx, req)
	case "list-lock", "list-locks":
		// git-lfs up to 3.3 sends "list-locks" when it verifies locks
		// before a push (fixed in git-lfs e018e163).
		c.listLocks(ctx, req)
	case "unlock":
		c.unlock(ctx, req)
	default:
		c.fail(statusBadRequest, "unknown command %q", pktline.Clip(req.cmd))
	}
	return false, nil
}

// needs refuses (403) a request the session's operation does not cover.
func (c *conn) needs(op gatehouse.LFSOperation, what string) bool {
	if c.sess.Operation == op {
		return true
	}
	c.fail(statusForbidden, "%s needs a git-lfs-transfer %s session", what, op)
	return false
}

// ref reads the ref argument named key: git-lfs 3.3 sends a branch's
// short name ("main") when it unlocks, the full name elsewhere, so a
// name outside refs/ is a branch. It refuses (400) a name git would not
// take; ok is false then.
func (c *conn) ref(req *request, key string) (name string, ok bool) {
	name = req.args[key]
	if name == "" {
		return "", true
	}
	if !strings.HasPrefix(name, "refs/") {
		name = "refs/heads/" + name
	}
	if refs.CheckName(name) != nil {
		c.fail(statusBadRequest, "invalid ref name %q", pktline.Clip(req.args[key]))
		return "", false
	}
	return name, true
}

// parseSize reads a size argument.
func parseSize(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0 && s == strconv.FormatInt(n, 10)
}

// record tells the session's recorder of a change.
func (c *conn) record(ctx context.Context, kind, detail string) {
	if c.sess.Record != nil {
		c.sess.Record(ctx, kind, detail)
	}
}
