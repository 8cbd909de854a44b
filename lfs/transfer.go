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
	"time"

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

// batch answers which objects to transfer: for an upload those the
// repository lacks, for a download those it has. It refuses the whole
// batch when one object is over the size limit, or the objects would take
// the repository over its quota.
func (c *conn) batch(ctx context.Context, req *request) error {
	lines, fits, err := c.bodyLines(req, maxBatchObjects)
	if err != nil {
		return fmt.Errorf("lfs: read batch: %w", err)
	}
	if !c.allowed(req, "transfer", "hash-algo", "refname") {
		return nil
	}
	if t, ok := req.args["transfer"]; ok && t != "ssh" && t != "basic" {
		c.fail(statusBadRequest, "unsupported transfer %q", pktline.Clip(t))
		return nil
	}
	if h, ok := req.args["hash-algo"]; ok && h != "sha256" {
		c.fail(statusConflict, "unsupported hash algorithm %q; this server uses sha256", pktline.Clip(h))
		return nil
	}
	if _, ok := c.ref(req, "refname"); !ok {
		return nil
	}
	if req.param != "" {
		c.fail(statusBadRequest, "batch takes no parameter")
		return nil
	}
	if !fits {
		c.fail(statusTooLarge, "more than %d objects in one batch", maxBatchObjects)
		return nil
	}
	type object struct {
		oid  string
		size int64
	}
	objs := make([]object, 0, len(lines))
	for _, l := range lines {
		f := strings.Split(l, " ")
		if len(f) != 2 {
			c.fail(statusBadRequest, "malformed object line %q: want \"OID SIZE\"", pktline.Clip(l))
			return nil
		}
		size, ok := parseSize(f[1])
		if !ValidOID(f[0]) || !ok {
			c.fail(statusBadRequest, "malformed object line %q: want a SHA-256 and a size", pktline.Clip(l))
			return nil
		}
		objs = append(objs, object{f[0], size})
	}
	repo := c.sess.Repo
	out := make([]string, 0, len(objs))
	var adding int64
	for _, o := range objs {
		stored, err := c.srv.Store.Size(repo.Owner, repo.Name, o.oid)
		if err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
			c.log.Error("lfs stat failed", "oid", o.oid, "err", err)
			c.fail(statusInternal, "internal error")
			return nil
		}
		have := err == nil
		switch {
		case c.sess.Operation == gatehouse.LFSDownload && have:
			out = append(out, fmt.Sprintf("%s %d download", o.oid, stored))
		case c.sess.Operation == gatehouse.LFSDownload:
			// No action: the object is not here (or was uploaded to
			// another repository, which is the same thing).
			out = append(out, fmt.Sprintf("%s %d noop", o.oid, o.size))
		case have && stored == o.size:
			out = append(out, fmt.Sprintf("%s %d noop", o.oid, o.size))
		case o.size > c.srv.maxObjectSize():
			c.fail(statusTooLarge, "object %s is %d bytes; this server takes objects of at most %d bytes", o.oid, o.size, c.srv.maxObjectSize())
			return nil
		default:
			adding += o.size
			out = append(out, fmt.Sprintf("%s %d upload", o.oid, o.size))
		}
	}
	if adding > 0 && !c.withinQuota(ctx, adding) {
		return nil
	}
	c.replyLines(statusOK, []string{"hash-algo=sha256"}, out)
	return nil
}

// withinQuota refuses (507) adding bytes to a repository that would then
// hold more than the quota.
func (c *conn) withinQuota(ctx context.Context, adding int64) bool {
	q := c.srv.Quota
	if q <= 0 {
		return true
	}
	used, err := c.srv.Store.Usage(ctx, c.sess.Repo.Owner, c.sess.Repo.Name)
	if err != nil {
		c.log.Error("lfs usage failed", "err", err)
		c.fail(statusInternal, "internal error")
		return false
	}
	if used+adding > q {
		c.fail(statusInsufficient, "over the repository's LFS quota: %d bytes stored, %d more asked for, quota %d bytes", used, adding, q)
		return false
	}
	return true
}

// getObject sends an object's data.
func (c *conn) getObject(ctx context.Context, req *request) error {
	if !c.allowed(req, "size") || !c.needs(gatehouse.LFSDownload, "get-object") {
		return nil
	}
	if _, ok := parseSize(req.args["size"]); !ok && req.args["size"] != "" {
		c.fail(statusBadRequest, "invalid size %q", pktline.Clip(req.args["size"]))
		return nil
	}
	if !ValidOID(req.param) {
		c.fail(statusBadRequest, "invalid oid %q", pktline.Clip(req.param))
		return nil
	}
	repo := c.sess.Repo
	f, size, err := c.srv.Store.Open(repo.Owner, repo.Name, req.param)
	if errors.Is(err, gatehouse.ErrNotFound) {
		c.fail(statusNotFound, "object %s not found", req.param)
		return nil
	}
	if err != nil {
		c.log.Error("lfs open failed", "oid", req.param, "err", err)
		c.fail(statusInternal, "internal error")
		return nil
	}
	defer f.Close()
	c.w.Linef("status %d", statusOK)
	c.w.Linef("size=%d", size)
	c.w.Delim()
	// The object streams through one packet-sized buffer; a file that
	// changed size since it was opened (it cannot: objects are renamed
	// into place whole) would end the session rather than mislead.
	buf := make([]byte, pktline.MaxPayload)
	var sent int64
	for sent < size {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := io.ReadFull(f, buf[:min(int64(len(buf)), size-sent)])
		if err != nil {
			return fmt.Errorf("lfs: read object %s: %w", req.param, err)
		}
		if _, err := c.w.Write(buf[:n]); err != nil {
			return fmt.Errorf("lfs: write: %w", err)
		}
		sent += int64(n)
	}
	c.w.Flush()
	return nil
}

// putObject stores an object's data, verified while it streams.
func (c *conn) putObject(ctx context.Context, req *request) error {
	if !c.allowed(req, "size") || !c.needs(gatehouse.LFSUpload, "put-object") {
		return nil
	}
	oid := req.param
	size, ok := parseSize(req.args["size"])
	switch {
	case !ValidOID(oid):
		c.fail(statusBadRequest, "invalid oid %q", pktline.Clip(oid))
		return nil
	case !ok:
		c.fail(statusBadRequest, "put-object needs a valid size argument")
		return nil
	case !req.body:
		c.fail(statusBadRequest, "put-object needs the object's data after a delimiter")
		return nil
	case size > c.srv.maxObjectSize():
		c.fail(statusTooLarge, "object %s is %d bytes; this server takes objects of at most %d bytes", oid, size, c.srv.maxObjectSize())
		return nil
	}
	repo := c.sess.Repo
	if stored, err := c.srv.Store.Size(repo.Owner, repo.Name, oid); err == nil && stored == size {
		c.reply(statusOK) // stored already; the data is dropped
		return nil
	}
	if !c.withinQuota(ctx, size) {
		return nil
	}
	body := &bodyReader{c: c, req: req}
	start := time.Now()
	err := c.srv.Store.Put(ctx, repo.Owner, repo.Name, oid, size, body)
	if body.err != nil {
		// The stream broke (or the client left): nothing to answer.
		return fmt.Errorf("lfs: receive object %s: %w", oid, body.err)
	}
	if err != nil && !body.done {
		// What Put did not read (past a mismatch, or after a failure)
		// is read and dropped before the answer.
		if err := c.discardBody(); err != nil {
			return fmt.Errorf("lfs: read object %s: %w", oid, err)
		}
	}
	req.bodyDone = true
	switch {
	case errors.Is(err, ErrMismatch):
		c.fail(statusBadRequest, "object %s: the data does not match its oid and size; nothing was stored", oid)
		return nil
	case err != nil:
		c.log.Error("lfs store failed", "oid", oid, "err", err)
		c.fail(statusInternal, "internal error storing object %s", oid)
		return nil
	}
	c.log.Info("lfs object stored", "oid", oid, "size", size, "duration", time.Since(start))
	c.record(ctx, gatehouse.AuditLFSUpload, fmt.Sprintf("%s %d", oid, size))
	c.replyLines(statusOK, nil, nil)
	return nil
}

// verifyObject confirms that an upload arrived whole.
func (c *conn) verifyObject(req *request) {
	if !c.allowed(req, "size") || !c.needs(gatehouse.LFSUpload, "verify-object") {
		return
	}
	size, ok := parseSize(req.args["size"])
	if !ValidOID(req.param) || !ok {
		c.fail(statusBadRequest, "verify-object needs an oid and a valid size argument")
		return
	}
	repo := c.sess.Repo
	stored, err := c.srv.Store.Size(repo.Owner, repo.Name, req.param)
	switch {
	case errors.Is(err, gatehouse.ErrNotFound):
		c.fail(statusNotFound, "object %s not found", req.param)
	case err != nil:
		c.log.Error("lfs stat failed", "oid", req.param, "err", err)
		c.fail(statusInternal, "internal error")
	case stored != size:
		c.fail(statusConflict, "object %s is %d bytes, not %d", req.param, stored, size)
	default:
		c.reply(statusOK)
	}
}

// record tells the session's recorder of a change.
func (c *conn) record(ctx context.Context, kind, detail string) {
	if c.sess.Record != nil {
		c.sess.Record(ctx, kind, detail)
	}
}

// lockArgs are the arguments that describe a lock.
func lockArgs(l *gatehouse.LFSLock) []string {
	return []string{
		fmt.Sprintf("id=%d", l.ID),
		"path=" + l.Path,
		"locked-at=" + l.LockedAt.UTC().Format(time.RFC3339),
		"ownername=" + l.Owner,
	}
}

// validPath reports whether a lock path can be stored and sent back in
// a pkt-line: not empty, bounded, and free of control characters.
func validPath(p string) bool {
	if p == "" || len(p) > maxPathLen {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return false
		}
	}
	return true
}

// lock locks a path for the actor.
func (c *conn) lock(ctx context.Context, req *request) {
	if !c.allowed(req, "path", "refname") || !c.needs(gatehouse.LFSUpload, "lock") {
		return
	}
	ref, ok := c.ref(req, "refname")
	if !ok {
		return
	}
	path := req.args["path"]
	if req.param != "" || !validPath(path) {
		c.fail(statusBadRequest, "lock needs a path argument")
		return
	}
	l, err := c.srv.Locks.CreateLFSLock(ctx, &gatehouse.LFSLock{RepoID: c.sess.Repo.ID, Path: path, Ref: ref, Owner: c.actor.Name()})
	switch {
	case errors.Is(err, gatehouse.ErrConflict) && l != nil:
		c.replyLines(statusConflict, lockArgs(l), []string{"lock exists"})
	case err != nil:
		c.log.Error("lfs lock failed", "err", err)
		c.fail(statusInternal, "internal error")
	default:
		c.record(ctx, gatehouse.AuditLFSLock, fmt.Sprintf("%s (lock %d)", l.Path, l.ID))
		c.reply(statusCreated, lockArgs(l)...)
	}
}

// parseID reads a lock id or cursor.
func parseID(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0 && s == strconv.FormatInt(n, 10)
}

// listLocks lists locks, a page at a time.
func (c *conn) listLocks(ctx context.Context, req *request) {
	if !c.allowed(req, "path", "id", "cursor", "limit", "refspec", "refname") {
		return
	}
	// A listing names its ref "refspec"; the one verifying locks before
	// a push names it "refname". Both filter alike.
	ref, ok := c.ref(req, "refspec")
	if !ok {
		return
	}
	if req.args["refname"] != "" {
		var byName string
		if byName, ok = c.ref(req, "refname"); !ok {
			return
		}
		if ref != "" && ref != byName {
			c.fail(statusBadRequest, "refspec and refname differ")
			return
		}
		ref = byName
	}
	f := gatehouse.LFSLockFilter{Path: req.args["path"], Ref: ref, Limit: defaultLocks}
	if v, set := req.args["id"]; set {
		if f.ID, ok = parseID(v); !ok {
			c.fail(statusBadRequest, "invalid lock id %q", pktline.Clip(v))
			return
		}
	}
	if v, set := req.args["cursor"]; set {
		if f.After, ok = parseID(v); !ok {
			c.fail(statusBadRequest, "invalid cursor %q", pktline.Clip(v))
			return
		}
	}
	if v, set := req.args["limit"]; set {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			c.fail(statusBadRequest, "invalid limit %q", pktline.Clip(v))
			return
		}
		f.Limit = min(n, maxLocks)
	}
	page := f.Limit
	f.Limit++ // one more tells whether there is a next page
	ls, err := c.srv.Locks.FindLFSLocks(ctx, c.sess.Repo.ID, f)
	if err != nil {
		c.log.Error("lfs list locks failed", "err", err)
		c.fail(statusInternal, "internal error")
		return
	}
	var args []string
	if len(ls) > page {
		args = append(args, fmt.Sprintf("next-cursor=%d", ls[page].ID))
		ls = ls[:page]
	}
	me := c.actor.Name()
	lines := make([]string, 0, 5*len(ls))
	for _, l := range ls {
		who := "theirs"
		if l.Owner == me {
			who = "ours"
		}
		lines = append(lines,
			fmt.Sprintf("lock %d", l.ID),
			fmt.Sprintf("path %d %s", l.ID, l.Path),
			fmt.Sprintf("locked-at %d %s", l.ID, l.LockedAt.UTC().Format(time.RFC3339)),
			fmt.Sprintf("ownername %d %s", l.ID, l.Owner),
			fmt.Sprintf("owner %d %s", l.ID, who))
	}
	c.replyLines(statusOK, args, lines)
}

// unlock releases a lock: the actor's own, or with admin on the
// repository anyone's. git-lfs 3.x sends no force argument over SSH even
// for `git lfs unlock --force`, so breaking another's lock is decided by
// the access level alone; force=true is accepted and changes nothing.
func (c *conn) unlock(ctx context.Context, req *request) {
	if !c.allowed(req, "refname", "force") || !c.needs(gatehouse.LFSUpload, "unlock") {
		return
	}
	if _, ok := c.ref(req, "refname"); !ok {
		return
	}
	if v, set := req.args["force"]; set && v != "true" && v != "false" {
		c.fail(statusBadRequest, "force must be true or false")
		return
	}
	id, ok := parseID(req.param)
	if !ok {
		c.fail(statusBadRequest, "unlock needs a lock id")
		return
	}
	repo := c.sess.Repo
	ls, err := c.srv.Locks.FindLFSLocks(ctx, repo.ID, gatehouse.LFSLockFilter{ID: id, Limit: 1})
	if err != nil {
		c.log.Error("lfs find lock failed", "err", err)
		c.fail(statusInternal, "internal error")
		return
	}
	if len(ls) == 0 {
		c.fail(statusNotFound, "no lock %d", id)
		return
	}
	l := ls[0]
	forced := l.Owner != c.actor.Name()
	if forced {
		if c.sess.Authorize == nil || c.sess.Authorize(ctx, gatehouse.OpAdmin) != nil {
			c.fail(statusForbidden, "lock %d on %s is held by %s; only a repository admin may break it", id, l.Path, l.Owner)
			return
		}
	}
	if err := c.srv.Locks.DeleteLFSLock(ctx, repo.ID, id); errors.Is(err, gatehouse.ErrNotFound) {
		c.fail(statusNotFound, "no lock %d", id)
		return
	} else if err != nil {
		c.log.Error("lfs unlock failed", "err", err)
		c.fail(statusInternal, "internal error")
		return
	}
	detail := fmt.Sprintf("%s (lock %d)", l.Path, l.ID)
	if forced {
		detail += " forced, held by " + l.Owner
	}
	c.record(ctx, gatehouse.AuditLFSUnlock, detail)
	c.reply(statusOK, lockArgs(l)...)
}
