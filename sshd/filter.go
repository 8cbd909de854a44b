package sshd

import (
	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// filteredSession serves a session channel through gliderlabs' handler,
// but refuses the requests Gatehouse never grants before it sees them:
// pty, X11 and agent forwarding, subsystems (sftp) and every environment
// variable but GIT_PROTOCOL.
func filteredSession(srv *ssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	ssh.DefaultSessionHandler(srv, conn, filteringChannel{nc}, ctx)
}

type filteringChannel struct{ gossh.NewChannel }

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
			} else if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}()
	return ch, out, nil
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
