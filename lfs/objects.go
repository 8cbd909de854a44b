package lfs

// The object commands: batch, get-object, put-object, verify-object.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gatehouse"
	"gatehouse/repos/pktline"
)

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
	if !c.usedKnown {
		used, err := c.srv.Store.Usage(ctx, c.sess.Repo.Owner, c.sess.Repo.Name)
		if err != nil {
			c.log.Error("lfs usage failed", "err", err)
			c.fail(statusInternal, "internal error")
			return false
		}
		c.used, c.usedKnown = used, true
	}
	if c.used+adding > q {
		c.fail(statusInsufficient, "over the repository's LFS quota: %d bytes stored, %d more asked for, quota %d bytes", c.used, adding, q)
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
	c.used += size
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
