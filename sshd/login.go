package sshd

import (
	"context"
	"fmt"
	"strings"
)

// loginLink answers `login`: a one-time web panel link for the user
// behind the key. Anonymous visitors and deploy keys have no panel
// account, so they are told no without detail.
func (s *Server) loginLink(ctx context.Context, se *session) int {
	if s.Logins == nil || s.PanelURL == "" {
		fmt.Fprintln(se.Stderr(), "ERROR: the web panel is not enabled on this server")
		return exitError
	}
	if se.actor.User == nil || se.actor.DeployKey != nil {
		fmt.Fprintln(se.Stderr(), "ERROR: login needs a user's key")
		return exitError
	}
	l, err := s.Logins.CreateLoginLink(ctx, se.actor.User.Name)
	if err != nil {
		logFailure(ctx, se.log, "login link failed", err)
		fmt.Fprintln(se.Stderr(), "ERROR: internal error")
		return exitError
	}
	se.log.Info("login link issued")
	fmt.Fprintf(se, "%s%s\n", strings.TrimSuffix(s.PanelURL, "/"), l.Path)
	fmt.Fprintf(se.Stderr(), "This link logs you in once and expires at %s.\n", l.ExpiresAt.UTC().Format("15:04 UTC"))
	return exitOK
}
