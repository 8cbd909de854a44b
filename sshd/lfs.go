package sshd

import (
	"context"
	"errors"
	"fmt"

	"gatehouse"
)

// lfsTransfer authorizes and serves git-lfs-transfer OWNER/NAME
// upload|download: download needs read, upload write (as a push does,
// and like a push it may create the repository in the actor's own
// namespace, since git-lfs uploads before git pushes). An operation the
// server does not know is refused before any access is asked for.
func (s *Server) lfsTransfer(ctx context.Context, se *session) int {
	op, err := gatehouse.ParseLFSOperation(se.cmd.Operation)
	if err != nil {
		se.log.Info("lfs refused", logErr, err)
		s.audit(ctx, &gatehouse.AuditEvent{Actor: se.name(), Action: gatehouse.AuditRefused,
			Detail: CmdLFSTransfer + ": unknown operation " + truncate(fmt.Sprintf("%q", se.cmd.Operation), 64), Address: se.RemoteAddr().String()})
		fmt.Fprintf(se.Stderr(), "ERROR: unknown git-lfs-transfer operation %q: use upload or download\n", truncate(se.cmd.Operation, 64))
		return exitError
	}
	if s.LFS == nil {
		fmt.Fprintln(se.Stderr(), "ERROR: Git LFS is not enabled on this server")
		return exitError
	}
	repo, ok := s.authorizeRepo(ctx, se, op.Operation())
	if !ok {
		return exitError
	}
	if ctx, ok = s.requireStepUp(ctx, se, repo.Owner, repo.FullName(), "Git LFS on "+repo.FullName(), op.Operation()); !ok {
		return exitError
	}
	err = s.LFS.ServeLFS(ctx, gatehouse.LFSSession{Repo: repo, Operation: op, Stdin: se, Stdout: se})
	if err != nil {
		if errors.Is(err, gatehouse.ErrForbidden) {
			fmt.Fprintln(se.Stderr(), "ERROR: access denied")
		}
		logFailure(ctx, se.log, "lfs transfer failed", err)
		return exitError
	}
	s.awaitClientEOF(se)
	return exitOK
}

// lfsAuthenticate answers git-lfs-authenticate, which asks for an HTTP
// endpoint: this server serves LFS over SSH only, which git-lfs 2.x (the
// clients that need the HTTP API) cannot use. git-lfs 3.x tries
// git-lfs-transfer first and never gets here unless that failed.
func (s *Server) lfsAuthenticate(ctx context.Context, se *session) int {
	se.log.Info("lfs authenticate refused")
	fmt.Fprintln(se.Stderr(), "ERROR: this server serves Git LFS over SSH only (git-lfs-transfer), not over HTTP: use git-lfs 3.0 or later")
	return exitError
}
