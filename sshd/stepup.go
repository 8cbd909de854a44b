package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"gatehouse"
)

// StepUpService is the use-case layer (package backend) behind
// two-factor step-up over SSH: the `2fa-verify CODE` command, and the
// check that an operation has the window its policy asks for, made next
// to RepoService.Authorize (which stays the one access decision).
type StepUpService interface {
	VerifyStepUp(ctx context.Context, code string) (*gatehouse.StepUpWindow, error)
	CheckStepUp(ctx context.Context, owner string, op gatehouse.Operation) (gatehouse.StepUpCheck, error)
}

// cmdStepUpVerify is the command that opens a step-up window.
const cmdStepUpVerify = "2fa-verify"

// parseStepUpVerify reads `2fa-verify CODE [--json]`.
func parseStepUpVerify(words []string) (Command, error) {
	var args []string
	json := false
	for _, w := range words[1:] {
		if w == "--json" && !json {
			json = true
			continue
		}
		args = append(args, w)
	}
	if len(args) != 1 || args[0] == "" || len(args[0]) > 64 {
		return Command{}, fmt.Errorf("usage: %s CODE [--json]", cmdStepUpVerify)
	}
	if json {
		args = append(args, "--json")
	}
	return Command{Name: cmdStepUpVerify, Args: args}, nil
}

// stepUpVerify answers `2fa-verify CODE`: a window opens for the user
// and their address. The use-case layer audits every outcome.
func (s *Server) stepUpVerify(ctx context.Context, se *session) int {
	if s.StepUp == nil {
		fmt.Fprintln(se.Stderr(), "ERROR: two-factor step-up is not enabled on this server")
		return exitError
	}
	if !mayRunSelf(se.actor) {
		s.audit(ctx, &gatehouse.AuditEvent{Actor: se.name(), Action: gatehouse.AuditRefused, Detail: cmdStepUpVerify + ": no user behind the key", Address: se.RemoteAddr().String()})
		fmt.Fprintf(se.Stderr(), "ERROR: %s needs a user's key (deploy keys need no second factor)\n", cmdStepUpVerify)
		return exitError
	}
	w, err := s.StepUp.VerifyStepUp(ctx, se.cmd.Args[0])
	if err != nil {
		msg := err.Error()
		switch {
		case errors.Is(err, gatehouse.ErrInvalid):
			msg = "wrong, used or expired code"
		case errors.Is(err, gatehouse.ErrNotFound):
			msg = "you have no second factor enrolled; enrol on the Two-factor page of the web panel" + s.panelHint()
		case errors.Is(err, gatehouse.ErrLimit):
		default:
			logFailure(ctx, se.log, "2fa-verify failed", err)
			msg = "internal error"
		}
		se.log.Info("2fa-verify refused", logErr, err)
		fmt.Fprintf(se.Stderr(), "ERROR: %s\n", msg)
		return exitError
	}
	c := &selfCall{se: se, json: len(se.cmd.Args) > 1}
	if err := c.output(w, func(out io.Writer) {
		fmt.Fprintf(out, "Second factor verified: operations from %s are allowed until %s (%s).\n",
			w.Address, w.ExpiresAt.UTC().Format("15:04:05 UTC"), time.Until(w.ExpiresAt).Round(time.Second))
	}); err != nil {
		se.log.Info("2fa-verify output failed", logErr, err)
		return exitError
	}
	return exitOK
}

// requireStepUp checks that the session may do op in namespace owner (on
// repo, "" for none; what says it for the client) as far as two-factor
// step-up goes. When refused, it has told the client
// what to run and recorded the refusal; ok is false. Under a policy that
// covers pushes to protected branches only, ctx comes back marked so
// that the push refuses those refs (gatehouse.NewContextWithStepUpHint).
func (s *Server) requireStepUp(ctx context.Context, se *session, owner, repo, what string, op gatehouse.Operation) (_ context.Context, ok bool) {
	if s.StepUp == nil {
		return ctx, true
	}
	c, err := s.StepUp.CheckStepUp(ctx, owner, op)
	if err != nil {
		logFailure(ctx, se.log, "step-up check failed", err)
		s.audit(ctx, &gatehouse.AuditEvent{Actor: se.name(), Action: gatehouse.AuditRefused, Detail: se.cmd.Name + ": step-up check failed", Address: se.RemoteAddr().String()})
		fmt.Fprintln(se.Stderr(), "ERROR: internal error")
		return ctx, false
	}
	switch c.Demand {
	case gatehouse.StepUpNone:
		return ctx, true
	case gatehouse.StepUpNeededForProtected:
		return gatehouse.NewContextWithStepUpHint(ctx, "protected branch: second factor required, run "+s.verifyHint(se)), true
	}
	s.audit(ctx, &gatehouse.AuditEvent{Actor: se.name(), Action: gatehouse.AuditRefused, Repo: repo, Address: se.RemoteAddr().String(),
		Detail: se.cmd.Name + ": second factor required (step-up policy " + c.Policy.String() + ")"})
	se.log.Info("refused: step-up window required", "policy", c.Policy.String(), "enrolled", c.Enrolled)
	if !c.Enrolled {
		fmt.Fprintf(se.Stderr(), "ERROR: %s needs a second factor, and you have none enrolled: enrol on the Two-factor page of the web panel%s, then run %s\n",
			what, s.panelHint(), s.verifyHint(se))
		return ctx, false
	}
	fmt.Fprintf(se.Stderr(), "ERROR: %s needs a second factor: run %s with a code from your authenticator app, then try again\n", what, s.verifyHint(se))
	return ctx, false
}

// gitStepUp is requireStepUp for the Git command of se on its repository
// path. A path that does not parse passes here: authorizeRepo refuses it.
func (s *Server) gitStepUp(ctx context.Context, se *session, op gatehouse.Operation) (context.Context, bool) {
	owner, name, err := gatehouse.ParseRepoPath(se.cmd.Path)
	if err != nil {
		return ctx, true
	}
	full := owner + "/" + name
	what := "reading " + full
	if op == gatehouse.OpWrite {
		what = "pushing to " + full
	}
	return s.requireStepUp(ctx, se, owner, full, what, op)
}

// verifyHint is the command that opens a window, as the client reaches
// this server.
func (s *Server) verifyHint(se *session) string {
	host := s.PublicHost
	if host == "" {
		host, _, _ = net.SplitHostPort(se.LocalAddr().String())
	}
	_, port, _ := net.SplitHostPort(s.ListenAddr().String())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("ssh -p %s git@%s %s <code>", port, host, cmdStepUpVerify)
}

func (s *Server) panelHint() string {
	if s.PanelURL == "" {
		return ""
	}
	return " (" + strings.TrimSuffix(s.PanelURL, "/") + "/2fa)"
}

// stepUpAdminCommands are the self-service commands that change
// something: under a write policy they need a window, like a push.
var stepUpAdminCommands = map[string]bool{
	"keys add": true, "keys rm": true, "repo create": true, "repo set": true, "repo rm": true,
	"repo collab": true, "token create": true, "token rm": true,
}

// requireSelfStepUp is requireStepUp for a self-service command: the
// ones that change something count as admin commands, the rest as
// reads; a command on a repository is judged by its owner's policy too.
func (s *Server) requireSelfStepUp(ctx context.Context, se *session) bool {
	op, what := gatehouse.OpRead, "`"+se.cmd.Name+"`"
	if stepUpAdminCommands[se.cmd.Name] && !(se.cmd.Name == "repo collab" && len(se.cmd.Args) > 0 && se.cmd.Args[0] == "list") {
		op = gatehouse.OpAdmin
	}
	owner := ""
	for _, a := range se.cmd.Args {
		if o, _, err := gatehouse.ParseRepoPath(a); err == nil && strings.Contains(a, "/") {
			owner = o
			break
		}
	}
	_, ok := s.requireStepUp(ctx, se, owner, "", what, op)
	return ok
}

// stepUpReadable leaves out of a listing the repositories whose owner's
// policy asks the actor for a window to read them (an organization under
// all): `repo info` and a clone of them are refused, so the listing must
// not show their names and descriptions either. One check per owner.
func (s *Server) stepUpReadable(ctx context.Context, rs []*gatehouse.Repo) ([]*gatehouse.Repo, error) {
	if s.StepUp == nil {
		return rs, nil
	}
	needs := map[string]bool{}
	out := rs[:0]
	for _, r := range rs {
		need, seen := needs[r.Owner]
		if !seen {
			c, err := s.StepUp.CheckStepUp(ctx, r.Owner, gatehouse.OpRead)
			if err != nil {
				return nil, err
			}
			need = c.Demand != gatehouse.StepUpNone
			needs[r.Owner] = need
		}
		if !need {
			out = append(out, r)
		}
	}
	return out, nil
}
