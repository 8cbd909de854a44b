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
// variable but GIT_PROTOCOL. Each refusal is logged and audited.
func (s *Server) filteredSession(srv *ssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	ssh.DefaultSessionHandler(srv, conn, filteringChannel{nc, func(what string) { s.refuseRequest(ctx, what) }}, ctx)
}

// refuseChannel rejects any channel but "session" (port forwarding:
// direct-tcpip, forwarded-tcpip; anything new).
func (s *Server) refuseChannel(srv *ssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	s.refuseRequest(ctx, "channel "+nc.ChannelType())
	nc.Reject(gossh.Prohibited, "gatehouse serves Git only")
}

// refuseGlobal refuses global requests (tcpip-forward and the like).
func (s *Server) refuseGlobal(ctx ssh.Context, srv *ssh.Server, req *gossh.Request) (bool, []byte) {
	// keepalive@openssh.com is the client checking we are alive: answering
	// "no" is the expected answer and no refusal worth recording.
	if req.Type != "keepalive@openssh.com" {
		s.refuseRequest(ctx, "global request "+req.Type)
	}
	return false, nil
}

// refuseRequest logs a refused request and audits it once per connection
// and kind, so a client repeating it cannot flood the audit log.
func (s *Server) refuseRequest(ctx ssh.Context, what string) {
	addr := ctx.RemoteAddr().String()
	id, _ := ctx.Value(keyConnID).(string)
	s.Logger.Info("ssh request refused", logConn, id, logAddr, addr, "request", what)
	if !s.limits.noteOnce(id + " " + what) {
		return
	}
	// No actor: the SSH user name says nothing (the key does, and the
	// login entry just before names it).
	s.audit(ctx, &gatehouse.AuditEvent{Action: gatehouse.AuditRefused, Address: addr,
		Detail: fmt.Sprintf("ssh %s: not allowed", truncate(what, 100))})
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
		for r := range reqs {
			if allowedRequest(r) {
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
