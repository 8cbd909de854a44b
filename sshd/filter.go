package sshd

import (
	"fmt"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"

	"gatehouse"
)

// filteredSession serves a session channel through gliderlabs' handler,
// but refuses the requests Gatehouse never grants before it sees them:
// pty, X11 and agent forwarding, subsystems (sftp) and every environment
// variable but GIT_PROTOCOL. Each refusal is logged and audited. A
// channel counts against MaxChannelsPerConn from its opening, so that
// channels opened and left without a command cannot pile up.
func (s *Server) filteredSession(srv *ssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	cc := ctx.Value(keyConnCounts).(*connCounts)
	if !cc.openChannel() {
		s.refuse(ctx, "channel session", fmt.Sprintf("more than %d open on one connection", s.MaxChannelsPerConn))
		nc.Reject(gossh.ResourceShortage, fmt.Sprintf("at most %d channels per connection", s.MaxChannelsPerConn))
		return
	}
	defer cc.closeChannel()
	ssh.DefaultSessionHandler(srv, conn, filteringChannel{nc, func(what string) { s.refuse(ctx, what, "not allowed") }}, ctx)
}

// refuseChannel rejects any channel but "session" (port forwarding:
// direct-tcpip, forwarded-tcpip; anything new).
func (s *Server) refuseChannel(srv *ssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	s.refuse(ctx, "channel "+nc.ChannelType(), "not allowed")
	nc.Reject(gossh.Prohibited, "gatehouse serves Git only")
}

// refuseGlobal refuses global requests (tcpip-forward and the like).
func (s *Server) refuseGlobal(ctx ssh.Context, srv *ssh.Server, req *gossh.Request) (bool, []byte) {
	// keepalive@openssh.com is the client checking we are alive: answering
	// "no" is the expected answer and no refusal worth recording.
	if req.Type != "keepalive@openssh.com" {
		s.refuse(ctx, "global request "+req.Type, "not allowed")
	}
	return false, nil
}

// refuse logs a refused request and audits it, but the client picks the
// names, so not every one: the first few names of a connection, and at
// most maxAuditedRefusals an address a minute. A connection past
// MaxRefusalsPerConn is closed, which is audited once a minute per
// address.
func (s *Server) refuse(ctx ssh.Context, what, why string) {
	addr := ctx.RemoteAddr().String()
	id, _ := ctx.Value(keyConnID).(string)
	first, over, crossed := ctx.Value(keyConnCounts).(*connCounts).refuse(what)
	if over {
		if !crossed {
			return
		}
		s.Logger.Warn("ssh connection closed: too many refused requests", logConn, id, logAddr, addr, "limit", s.MaxRefusalsPerConn)
		s.Observer.LimitRefused("refusals-per-conn")
		if s.limits.noteOnce("refusals-per-conn " + addrKey(ctx.RemoteAddr()).String()) {
			s.audit(ctx, &gatehouse.AuditEvent{Action: gatehouse.AuditLimit, Address: addr,
				Detail: fmt.Sprintf("refusals-per-conn: more than %d refused requests; connection closed", s.MaxRefusalsPerConn)})
		}
		if c, ok := ctx.Value(ssh.ContextKeyConn).(gossh.Conn); ok {
			c.Close()
		}
		return
	}
	s.Logger.Info("ssh request refused", logConn, id, logAddr, addr, "request", what, "reason", why)
	if !first || !s.limits.auditRefusal(addrKey(ctx.RemoteAddr())) {
		return
	}
	// No actor: the SSH user name says nothing (the key does, and the
	// login entry just before names it).
	s.audit(ctx, &gatehouse.AuditEvent{Action: gatehouse.AuditRefused, Address: addr,
		Detail: fmt.Sprintf("ssh %s: %s", truncate(what, 100), why)})
}

type filteringChannel struct {
	gossh.NewChannel
	refused func(what string)
}

func (f filteringChannel) Accept() (gossh.Channel, <-chan *gossh.Request, error) {
	ch, reqs, err := f.NewChannel.Accept()
	if err != nil {
		return ch, reqs, err
	}
	out := make(chan *gossh.Request)
	go func() {
		defer close(out)
		protocolSet := false
		for r := range reqs {
			ok := allowedRequest(r)
			if ok && r.Type == "env" {
				// Git sends GIT_PROTOCOL once; gliderlabs keeps every
				// env request until the command, so more are refused.
				ok, protocolSet = !protocolSet, true
			}
			if ok {
				out <- r
				continue
			}
			// window-change and signal come with a pty or a shell the
			// client hoped for; only the first refusal says something.
			if r.Type != "window-change" {
				f.refused(requestName(r))
			}
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}()
	return ch, out, nil
}

// requestName names a refused session request for the log: the variable
// for env, the subsystem for subsystem.
func requestName(r *gossh.Request) string {
	switch r.Type {
	case "env":
		var kv struct{ Key, Value string }
		if gossh.Unmarshal(r.Payload, &kv) == nil {
			return fmt.Sprintf("env %q", truncate(kv.Key, 64))
		}
	case "subsystem":
		var sub struct{ Name string }
		if gossh.Unmarshal(r.Payload, &sub) == nil {
			return fmt.Sprintf("subsystem %q", truncate(sub.Name, 64))
		}
	}
	return r.Type
}

func allowedRequest(r *gossh.Request) bool {
	switch r.Type {
	case "exec", "shell":
		return true
	case "env":
		var kv struct{ Key, Value string }
		return gossh.Unmarshal(r.Payload, &kv) == nil && kv.Key == "GIT_PROTOCOL" && len(kv.Value) < 256
	}
	// pty-req, x11-req, auth-agent-req@openssh.com, subsystem, signal,
	// window-change, break and anything new.
	return false
}
