package gatehouse

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Git LFS over SSH: the git-lfs-transfer command (git-lfs's pure SSH
// protocol) stores large files beside a repository and keeps its file
// locks. Package lfs speaks the protocol and keeps the objects; the store
// keeps the locks; backend raises the events.

// Audit actions of Git LFS.
const (
	AuditLFSUpload = "lfs.upload"
	AuditLFSLock   = "lfs.lock"
	AuditLFSUnlock = "lfs.unlock"
)

// LFSOperation is what a git-lfs-transfer session was opened for.
type LFSOperation string

const (
	// LFSDownload fetches objects and lists locks; it needs read.
	LFSDownload LFSOperation = "download"
	// LFSUpload stores objects and takes and releases locks; it needs
	// write.
	LFSUpload LFSOperation = "upload"
)

// ParseLFSOperation reads "upload" or "download"; anything else is
// ErrInvalid, never a default.
func ParseLFSOperation(s string) (LFSOperation, error) {
	switch op := LFSOperation(s); op {
	case LFSDownload, LFSUpload:
		return op, nil
	}
	return "", fmt.Errorf("git-lfs-transfer operation %q must be upload or download: %w", s, ErrInvalid)
}

// Operation is the access the session needs.
func (op LFSOperation) Operation() Operation {
	if op == LFSUpload {
		return OpWrite
	}
	return OpRead
}

// LFSLock is a file locked in a repository.
type LFSLock struct {
	ID     int64
	RepoID int64
	// Path is the locked file, relative to the repository's top.
	Path string
	// Ref is the ref the client named when it locked ("" for none).
	Ref string
	// Owner is who locked it, as Actor.Name gives it.
	Owner    string
	LockedAt time.Time
}

// LFSLockFilter narrows FindLFSLocks; zero fields match everything.
type LFSLockFilter struct {
	Path string
	ID   int64
	// Ref, when set, keeps the locks taken on that ref or on none.
	Ref string
	// After keeps locks whose ID is at least After (a listing's cursor).
	After int64
	// Limit bounds the number returned; the store applies its own bound
	// as well.
	Limit int
}

// LFSLockStore keeps the file locks of repositories, by repository id
// (so they follow a rename, and go with the repository).
type LFSLockStore interface {
	// CreateLFSLock stores l, filling ID and LockedAt. If the path is
	// locked already, it returns the existing lock and ErrConflict.
	CreateLFSLock(ctx context.Context, l *LFSLock) (*LFSLock, error)
	// FindLFSLocks lists a repository's locks in ID order.
	FindLFSLocks(ctx context.Context, repoID int64, f LFSLockFilter) ([]*LFSLock, error)
	// DeleteLFSLock removes a lock; ErrNotFound if there is none.
	DeleteLFSLock(ctx context.Context, repoID, id int64) error
}

// LFSSession is one git-lfs-transfer command on a repository the
// front end has authorized for Operation.
type LFSSession struct {
	Repo      *Repo
	Operation LFSOperation
	Stdin     io.Reader
	Stdout    io.Writer
	// Authorize asks the access decision again during the session, for
	// what needs more than Operation did (breaking another's lock needs
	// OpAdmin). Nil denies.
	Authorize func(ctx context.Context, op Operation) error
	// Record is told of each change once it has happened (an object
	// stored, a lock taken or released): kind is an Audit action. Nil
	// records nothing.
	Record func(ctx context.Context, kind, detail string)
}

// LFSService serves Git LFS for repositories the caller has authorized.
type LFSService interface {
	// ServeLFS runs one git-lfs-transfer session to its end. The actor
	// is in ctx.
	ServeLFS(ctx context.Context, s LFSSession) error
	// LFSUsage is the size in bytes of the LFS objects stored for
	// owner/name.
	LFSUsage(ctx context.Context, owner, name string) (int64, error)
}
