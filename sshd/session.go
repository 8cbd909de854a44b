package sshd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"

	"gatehouse"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1
)

// session is one exec or shell request with the actor behind it. The
// middleware fill it in as the session goes through them.
type session struct {
	ssh.Session
	log   *slog.Logger    // set by logSession, narrowed by those after it
	actor gatehouse.Actor // set by identifySession
	cmd   Command         // set by parseCommand
	// refused is set by the middleware that refused the session, having
	// logged why; such a session does not log "session done".
	refused bool
}

// name is how the actor is shown in audit entries and messages.
func (se *session) name() string { return se.actor.Name() }

// handler serves one session and returns its exit status. Nothing but
// protocol data (or the answer of a text command) goes to stdout;
// messages go to stderr.
type handler func(ctx context.Context, se *session) int

// middleware wraps a handler with one step of session handling.
type middleware func(next handler) handler

// sessionHandler stacks the session middleware, the first outermost. A
// session goes through them in this order:
//
//  1. logSession: the connection's logger; "session done" at the end
//  2. trackSession: refused once the server is closed, else counted as
//     in-flight work until it ends
//  3. identifySession: the actor, from the key that signed (compared
//     with the offered one by ssh.KeysEqual)
//  4. limitSessions: counted against the session limits
//  5. parseCommand: the command parsed; text commands answered
//  6. serveGit: Git commands authorized and served
//
// and what none of them answers ends in unsupported.
func (s *Server) sessionHandler() handler {
	mws := []middleware{s.logSession, s.trackSession, s.identifySession, s.limitSessions, s.parseCommand, s.serveGit}
	h := handler(unsupported)
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// handleSession is the gliderlabs handler: it runs a session through the
// middleware (see sessionHandler) to its exit status.
func (s *Server) handleSession(sess ssh.Session) {
	sess.Exit(s.handler(sess.Context(), &session{Session: sess}))
}

// logSession gives the session the connection's logger and logs how it
// ended.
func (s *Server) logSession(next handler) handler {
	return func(ctx context.Context, se *session) int {
		se.log = s.Logger.With(logConn, ctx.Value(keyConnID), logAddr, se.RemoteAddr().String())
		code := next(ctx, se)
		if !se.refused {
			se.log.Info("session done", logStatus, code)
		}
		return code
	}
}

// trackSession counts the session as in-flight work. A session can start
// after its connection has ended; once the server is closed, it is
// refused before it touches anything.
func (s *Server) trackSession(next handler) handler {
	return func(ctx context.Context, se *session) int {
		if !s.inflight.start() {
			se.log.Info("session refused: server closed")
			fmt.Fprintln(se.Stderr(), "ERROR: the server is shutting down; try again")
			se.refused = true
			return exitError
		}
		defer s.inflight.done()
		return next(ctx, se)
	}
}

// identifySession finds who the session acts for, and refuses it when
// that fails.
func (s *Server) identifySession(next handler) handler {
	return func(ctx context.Context, se *session) int {
		if err := s.identify(ctx, se); err != nil {
			logFailure(ctx, se.log, "session refused", err)
			fmt.Fprintln(se.Stderr(), "ERROR: authentication failed")
			se.refused = true
			return exitError
		}
		// What runs next acts for this actor (the use-case layer and
		// the repository service take it from the context).
		return next(gatehouse.NewContextWithActor(ctx, se.actor), se)
	}
}

// identify sets the session's actor from the key that signed, never from
// the last key the client offered: a client may offer one user's key and
// sign with another's.
func (s *Server) identify(ctx context.Context, se *session) error {
	vk, _ := ctx.Value(keyVerified).(gossh.PublicKey)
	if vk == nil {
		return errors.New("no verified key")
	}
	if pk := se.PublicKey(); pk == nil || !ssh.KeysEqual(pk, vk) {
		se.log.Warn("offered key differs from the signing key; acting as the signer")
	}
	fp := gossh.FingerprintSHA256(vk)
	k, u, err := s.Keys.FindKeyByFingerprint(ctx, fp)
	switch {
	case err == nil && u.Disabled:
		return fmt.Errorf("user %s is disabled", u.Name)
	case err == nil && k.Expired(time.Now()):
		return fmt.Errorf("key %s expired", fp)
	case err == nil:
		t := k.Traits()
		se.actor.User, se.actor.Key = u, &t
	case errors.Is(err, gatehouse.ErrNotFound):
		// Not a user's key: a deploy key, or anonymous (see identifyOther).
		if se.actor, err = s.identifyOther(se.Context(), vk, fp); err != nil {
			return err
		}
	default:
		return fmt.Errorf("key %s: %w", fp, err)
	}
	se.actor.Address = se.RemoteAddr().String()
	se.actor.KeyFingerprint = fp
	se.log = se.log.With(logUser, se.name(), logFP, fp)
	if _, cert := vk.(*gossh.Certificate); se.actor.User != nil && !cert {
		if err := s.Keys.TouchKey(context.WithoutCancel(ctx), fp); err != nil {
			se.log.Warn("record key use failed", logErr, err)
		}
	}
	if se.actor.DeployKey != nil && s.DeployKeys != nil {
		if err := s.DeployKeys.TouchDeployKey(context.WithoutCancel(ctx), fp); err != nil {
			se.log.Warn("record deploy key use failed", logErr, err)
		}
	}
	s.Observer.LoginAccepted()
	s.audit(ctx, &gatehouse.AuditEvent{Actor: se.name(), Action: gatehouse.AuditLogin, Detail: fp, Address: se.RemoteAddr().String()})
	return nil
}

// limitSessions counts the session against the session limits while it
// runs, or refuses it with a message for the client.
func (s *Server) limitSessions(next handler) handler {
	return func(ctx context.Context, se *session) int {
		who := se.name()
		if who == "" {
			who = "anonymous@" + addrKey(se.RemoteAddr()).String()
		}
		if limit := s.limits.openSession(who); limit != "" {
			se.log.Warn("session refused", "limit", limit)
			s.Observer.LimitRefused(limit)
			s.audit(ctx, &gatehouse.AuditEvent{Actor: se.name(), Action: gatehouse.AuditLimit, Address: se.RemoteAddr().String(),
				Detail: "sessions: too many " + limit})
			fmt.Fprintf(se.Stderr(), "ERROR: too many %s; try again later\n", limit)
			se.refused = true
			return exitError
		}
		defer s.limits.closeSession(who)
		return next(ctx, se)
	}
}

// parseCommand parses the session's command and answers the text
// commands; the rest go on to next.
func (s *Server) parseCommand(next handler) handler {
	return func(ctx context.Context, se *session) int {
		raw := se.RawCommand()
		if raw == "" {
			who := se.name()
			if who == "" {
				who = "anonymous"
			}
			fmt.Fprintf(se.Stderr(), "Hi %s! You've successfully authenticated, but gatehouse does not provide shell access.\n", who)
			return exitError
		}
		cmd, err := ParseCommand(raw)
		if err != nil {
			se.log.Info("command refused", logCmd, truncate(raw, 200), logErr, err)
			s.audit(ctx, &gatehouse.AuditEvent{Actor: se.name(), Action: gatehouse.AuditRefused, Detail: "command " + truncate(fmt.Sprintf("%q", raw), 200) + ": " + err.Error(), Address: se.RemoteAddr().String()})
			fmt.Fprintf(se.Stderr(), "ERROR: %v (try \"help\")\n", err)
			return exitError
		}
		se.cmd = cmd
		se.log = se.log.With(logCmd, cmd.Name)
		switch cmd.Name {
		case "whoami":
			if se.actor.Anonymous() {
				fmt.Fprintln(se, "anonymous")
			} else {
				fmt.Fprintln(se, se.name())
			}
			return exitOK
		case "help":
			io.WriteString(se, help(se.actor))
			return exitOK
		case "repo list":
			return s.repoList(ctx, se)
		case "login":
			return s.loginLink(ctx, se)
		case cmdStepUpVerify:
			return s.stepUpVerify(ctx, se)
		}
		if _, ok := findSelfCommand(cmd.Name); ok {
			return s.selfService(ctx, se)
		}
		return next(ctx, se)
	}
}

// unsupported ends a session whose command no middleware answered.
func unsupported(ctx context.Context, se *session) int {
	fmt.Fprintf(se.Stderr(), "ERROR: %s is not supported yet\n", se.cmd.Name)
	return exitError
}

// help lists the commands the actor may run: the self-service ones and
// login only for a user's key.
func help(a gatehouse.Actor) string {
	var b strings.Builder
	b.WriteString("Gatehouse answers these commands over SSH:\n")
	line := func(usage, what string) { fmt.Fprintf(&b, "  %-30s %s\n", usage, what) }
	line("whoami", "who your key says you are")
	line("repo list [--json]", "the repositories you can read")
	if mayRunSelf(a) {
		line("login", "a one-time link to the web panel")
		line(cmdStepUpVerify+" CODE", "verify a second factor (TOTP) for your address")
		for _, c := range selfCommands {
			line(c.usage, c.help)
		}
		b.WriteString("Each of these also takes --json.\n")
	}
	line("help", "this text")
	b.WriteString(`Git uses git-upload-pack and git-receive-pack for you: clone with
  git clone ssh://git@HOST:PORT/OWNER/NAME.git
Git LFS 3.x uses git-lfs-transfer (LFS over SSH only, with locks).
`)
	return b.String()
}

func (s *Server) repoList(ctx context.Context, se *session) int {
	actor := se.actor
	if mayRunSelf(actor) && !s.requireSelfStepUp(ctx, se) {
		return exitError
	}
	rs, err := s.Repos.FindRepos(ctx, gatehouse.RepoFilter{ReadableBy: &actor})
	if err == nil {
		rs, err = s.stepUpReadable(ctx, rs)
	}
	if err != nil {
		logFailure(ctx, se.log, "repo list failed", err)
		fmt.Fprintln(se.Stderr(), "ERROR: internal error")
		return exitError
	}
	if len(se.cmd.Args) > 0 { // --json
		enc := json.NewEncoder(se)
		enc.SetIndent("", "  ")
		if err := enc.Encode(nonNil(rs)); err != nil {
			se.log.Info("repo list failed", logErr, err)
			return exitError
		}
		return exitOK
	}
	for _, r := range rs {
		fmt.Fprintf(se, "%s\t%s\t%s\n", r.FullName(), r.Visibility(), plain(r.Description))
	}
	return exitOK
}

// serveGit authorizes and serves the Git commands; the rest go on to
// next.
func (s *Server) serveGit(next handler) handler {
	return func(ctx context.Context, se *session) int {
		switch se.cmd.Name {
		case CmdUploadPack, CmdReceivePack, CmdUploadArchive:
			return s.git(ctx, se)
		case CmdLFSTransfer:
			return s.lfsTransfer(ctx, se)
		case CmdLFSAuthenticate:
			return s.lfsAuthenticate(ctx, se)
		}
		return next(ctx, se)
	}
}

// git authorizes and serves one Git command.
func (s *Server) git(ctx context.Context, se *session) int {
	cmd := se.cmd
	op := gatehouse.OpRead
	if cmd.Name == CmdReceivePack {
		op = gatehouse.OpWrite
	}
	// A push may create its repository inside Authorize, so its step-up
	// check comes first; a read's comes after, so that a repository the
	// actor may not see answers "not found" whatever the policy.
	var ok bool
	if op == gatehouse.OpWrite {
		if ctx, ok = s.gitStepUp(ctx, se, op); !ok {
			return exitError
		}
	}
	repo, ok := s.authorizeRepo(ctx, se, op)
	if !ok {
		return exitError
	}
	if op == gatehouse.OpRead {
		if ctx, ok = s.gitStepUp(ctx, se, op); !ok {
			return exitError
		}
	}
	gs := gatehouse.GitSession{Stdin: se, Stdout: se, Stderr: se.Stderr(), Protocol: gitProtocol(se.Environ())}
	if cmd.Name == CmdUploadPack {
		if err := s.Git.UploadPack(ctx, repo, gs); err != nil {
			se.log.Info("upload-pack failed", logErr, err)
			return exitError
		}
		s.awaitClientEOF(se)
		return exitOK
	}
	if cmd.Name == CmdUploadArchive {
		if err := s.Git.UploadArchive(ctx, repo, gs); err != nil {
			se.log.Info("upload-archive failed", logErr, err)
			return exitError
		}
		s.awaitClientEOF(se)
		return exitOK
	}
	// The Git service records the refs a push moved (the use-case layer
	// raises an event for each).
	if _, err := s.Git.ReceivePack(ctx, repo, gs); err != nil {
		se.log.Info("receive-pack failed", logErr, err)
		return exitError
	}
	s.awaitClientEOF(se)
	return exitOK
}

// authorizeRepo resolves the session's repository path and asks
// RepoService.Authorize for op. When refused, it has told the client
// why (a repository the actor may not read is "not found") and recorded
// the refusal; ok is false.
func (s *Server) authorizeRepo(ctx context.Context, se *session, op gatehouse.Operation) (repo *gatehouse.Repo, ok bool) {
	cmd := se.cmd
	addr := se.RemoteAddr().String()
	owner, name, err := gatehouse.ParseRepoPath(cmd.Path)
	if err != nil {
		se.log.Info("bad repository path", logRepo, truncate(cmd.Path, 200))
		s.audit(ctx, &gatehouse.AuditEvent{Actor: se.name(), Action: gatehouse.AuditRefused, Detail: cmd.Name + ": invalid repository path " + truncate(fmt.Sprintf("%q", cmd.Path), 200), Address: addr})
		fmt.Fprintln(se.Stderr(), "ERROR: invalid repository path: use OWNER/NAME")
		return nil, false
	}
	full := owner + "/" + name
	se.log = se.log.With(logRepo, full)
	repo, _, err = s.Repos.Authorize(ctx, se.actor, owner, name, op)
	if err != nil {
		reason := "not found or access denied"
		msg := fmt.Sprintf("ERROR: repository %s not found or access denied", full)
		var kpe *gatehouse.KeyPolicyError
		switch {
		case errors.Is(err, gatehouse.ErrNotFound):
		case errors.As(err, &kpe):
			reason, msg = kpe.Error(), "ERROR: "+kpe.Error()
		case errors.Is(err, gatehouse.ErrLimit):
			reason = "limit: " + err.Error()
			msg = "ERROR: " + err.Error()
		case errors.Is(err, gatehouse.ErrConflict):
			// Only a create can conflict, and only in a namespace the
			// actor may create in (a folder left on disk, say).
			reason = "conflict: " + err.Error()
			msg = "ERROR: " + err.Error()
		case errors.Is(err, gatehouse.ErrForbidden):
			reason = "write access denied"
			msg = fmt.Sprintf("ERROR: you may read %s but not push to it", full)
		default:
			logFailure(ctx, se.log, "authorize failed", err)
			reason = "internal error"
			if ctx.Err() != nil {
				reason = "client gone"
			}
		}
		se.log.Info("git refused", "reason", reason)
		s.audit(ctx, &gatehouse.AuditEvent{Actor: se.name(), Action: gatehouse.AuditRefused, Repo: full, Detail: cmd.Name + ": " + reason, Address: addr})
		fmt.Fprintln(se.Stderr(), msg)
		return nil, false
	}
	return repo, true
}

// clientEOFWait bounds how long a finished Git conversation waits for the
// client to close its side; never more than half the idle timeout, so the
// wait does not end the connection instead of the session.
const clientEOFWait = time.Second

// awaitClientEOF lets the client close its input before the session
// ends. Git clients do that as soon as the conversation is over; closing
// the channel first races with them, and some (go-git) then report an
// error for a fetch or push that worked. The wait is bounded, and what
// the client still sends is discarded.
func (s *Server) awaitClientEOF(r io.Reader) {
	wait := clientEOFWait
	if s.IdleTimeout > 0 {
		wait = min(wait, s.IdleTimeout/2)
	}
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, io.LimitReader(r, 64<<10))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(wait):
		// The reader returns once the session is closed.
	}
}

// logFailure logs a failure to serve a client: at ERROR, unless the
// client has hung up (its context is done), which is no fault of the
// server and is logged at INFO. Work cut short by a vanished client fails
// with context.Canceled from wherever it stood.
func logFailure(ctx context.Context, log *slog.Logger, msg string, err error) {
	if ctx.Err() != nil {
		log.Info(msg+": client gone", logErr, err)
		return
	}
	log.Error(msg, logErr, err)
}

// gitProtocol returns GIT_PROTOCOL from the session's environment: the
// only variable the request filter lets through.
func gitProtocol(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GIT_PROTOCOL="); ok {
			return v
		}
	}
	return ""
}
