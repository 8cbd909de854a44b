package sshd

import (
	"context"
	"fmt"
	"strings"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"

	"gatehouse"
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

// Key policies at login (gatehouse.KeyPolicy). The site's and the
// user's apply here, the strictest winning; an organization's applies at
// each operation on its repositories (gatehouse.Decide).
//
// A refused key is refused like an unknown one, and the reason goes to
// the client in an auth banner: the one text an SSH client shows from a
// failed login (OpenSSH prints it on stderr, which git passes on).

// noTouchExtension is OpenSSH's no-touch-required, as x/crypto reads it
// from the Permissions a key's check returns: that key's signatures
// need not assert user presence.
const noTouchExtension = "no-touch-required"

var (
	// keyPreAuth holds the connection's gossh.ServerPreAuthConn, to send
	// auth banners on.
	keyPreAuth = &ctxKey{"pre-auth-conn"}
	// keyNoTouchFor holds the fingerprint of the key the connection's
	// Permissions carry noTouchExtension for ("" for none).
	keyNoTouchFor = &ctxKey{"no-touch-for"}
)

// checkKeyPolicy applies the login key policy of user ("" for a deploy
// key: the site's alone) to a key with traits k. On refusal it tells the
// client, records a refused login and returns false; a failed lookup
// refuses too.
func (s *Server) checkKeyPolicy(ctx ssh.Context, fp, user string, k gatehouse.KeyTraits) bool {
	if s.KeyPolicies == nil {
		return true
	}
	rule, err := s.KeyPolicies.LoginKeyPolicy(ctx, user)
	if err != nil {
		logFailure(ctx, s.Logger.With(logConn, ctx.Value(keyConnID)), "key policy lookup failed", err)
		return false
	}
	if err := gatehouse.CheckKeyPolicy(rule, k); err != nil {
		s.authBanner(ctx, "gatehouse: "+err.Error())
		s.refuseLogin(ctx, fp, err.Error())
		return false
	}
	return true
}

// authBanner sends msg to the client while it authenticates.
func (s *Server) authBanner(ctx ssh.Context, msg string) {
	c, _ := ctx.Value(keyPreAuth).(gossh.ServerPreAuthConn)
	if c == nil {
		return
	}
	if err := c.SendAuthBanner(msg + "\r\n"); err != nil {
		s.Logger.Debug("auth banner not sent", logConn, ctx.Value(keyConnID), logErr, err)
	}
}

// allowNoTouch sets the connection's Permissions for the key checked
// last: with noTouchExtension when it is registered no-touch-required
// (fp), without for any other (fp ""). gliderlabs hands x/crypto one
// Permissions value per connection, which x/crypto reads when it verifies
// any key's signature; noTouchMatches catches a signature verified while
// the value was set for another key.
func allowNoTouch(ctx ssh.Context, fp string) {
	perms := ctx.Permissions().Permissions
	ctx.SetValue(keyNoTouchFor, fp)
	if fp == "" {
		delete(perms.Extensions, noTouchExtension)
		return
	}
	if perms.Extensions == nil {
		perms.Extensions = map[string]string{}
	}
	perms.Extensions[noTouchExtension] = ""
}

// noTouchMatches reports whether perms, with which key's signature was
// just verified, waived user presence only if it was set for key. When
// not, the signature may lack the flag its key needs, and the login must
// be refused.
func noTouchMatches(ctx ssh.Context, key gossh.PublicKey, perms *gossh.Permissions) bool {
	if perms == nil {
		return true
	}
	if _, ok := perms.Extensions[noTouchExtension]; !ok {
		return true
	}
	fp, _ := ctx.Value(keyNoTouchFor).(string)
	return fp != "" && fp == gossh.FingerprintSHA256(key)
}

// certTraits is what a key policy looks at in a certificate: the type
// of the key it signs and its no-touch-required extension (which
// x/crypto honours). Certificates carry no verify-required here.
func certTraits(cert *gossh.Certificate) gatehouse.KeyTraits {
	_, noTouch := cert.Extensions[noTouchExtension]
	return gatehouse.KeyTraits{Type: cert.Key.Type(), NoTouchRequired: noTouch, Certificate: true}
}
