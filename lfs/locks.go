package lfs

// The locking commands: lock, list-lock, unlock.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gatehouse"
	"gatehouse/repos/pktline"
)

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
