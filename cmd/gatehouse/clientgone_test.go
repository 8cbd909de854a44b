package main_test

import (
	"net"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// A client that hangs up while its request is being served is no server
// fault: the log says so at INFO, never at ERROR. The client asks and
// drops the connection at once, so the server's work (finding the key's
// user, authorizing the repository) runs with the client gone; a few
// rounds make sure some land mid-request.
func TestClientGoneIsNotAnError(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/r")
	cfg := &gossh.ClientConfig{User: "git", Auth: []gossh.AuthMethod{gossh.PublicKeys(alice.Signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second}
	const rounds = 20
	for i := range rounds {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+s.Port, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c, chans, reqs, err := gossh.NewClientConn(conn, "127.0.0.1:"+s.Port, cfg)
		if err != nil {
			t.Fatal(err)
		}
		client := gossh.NewClient(c, chans, reqs)
		ch, in, err := client.OpenChannel("session", nil)
		if err != nil {
			t.Fatal(err)
		}
		go gossh.DiscardRequests(in)
		cmd := []string{"git-upload-pack 'alice/r'", "git-receive-pack 'alice/new'", "repo list"}[i%3]
		if _, err := ch.SendRequest("exec", false, gossh.Marshal(struct{ Command string }{cmd})); err != nil {
			t.Fatal(err)
		}
		conn.Close()
		client.Close()
	}
	// Each session ends with "session done", or "session refused" when
	// the client was gone before it was known who it is.
	waitFor(t, func() bool {
		log := s.Log.String()
		return strings.Count(log, `msg="session done"`)+strings.Count(log, `msg="session refused`) >= rounds
	}, "sessions did not end")
	if log := s.Log.String(); strings.Contains(log, "level=ERROR") {
		t.Fatalf("a client hanging up was logged as an error:\n%s", log)
	}
}
