package main_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	main "gatehouse/cmd/gatehouse"
)

// gitFrom runs git as k with ssh bound to the local address from, so
// that the server sees another client address than 127.0.0.1.
func (s *Server) gitFrom(k *Key, from, dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	sshCmd := append(s.SSHCommand(k), "-o", "BindAddress="+from)
	cmd.Env = append(s.gitEnv(nil), "GIT_SSH_COMMAND="+shellJoin(sshCmd))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// dialFrom is dial from a given local address, with a short timeout.
func (s *Server) dialFrom(from string, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.Dial("tcp", "127.0.0.1:"+s.Port)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	cfg := &gossh.ClientConfig{User: "git", Auth: auth, HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second}
	c, chans, reqs, err := gossh.NewClientConn(conn, "127.0.0.1:"+s.Port, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return gossh.NewClient(c, chans, reqs), nil
}

// A few thousand bad logins from one address: after the budget the
// address is refused before the handshake, its refusals do not flood the
// audit log, and a user at another address keeps cloning throughout.
func TestLimitBruteForce(t *testing.T) {
	s := MustRunMain(t) // the default limits
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/r")
	work := Work(t, "main", 3)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")

	const attempts, workers = 3000, 8
	var authFailed, refused, other atomic.Int64
	var next atomic.Int64
	deadline := time.Now().Add(2 * time.Minute)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		signer, _ := gossh.NewSignerFromKey(priv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= attempts && time.Now().Before(deadline) {
				c, err := s.dialFrom("127.0.0.1", gossh.PublicKeys(signer))
				switch {
				case err == nil:
					c.Close()
					other.Add(1)
				case strings.Contains(err.Error(), "unable to authenticate"):
					authFailed.Add(1)
				case strings.Contains(err.Error(), "handshake failed"), strings.Contains(err.Error(), "connection reset"):
					refused.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	// Meanwhile alice clones from 127.0.0.2, again and again.
	clones := 0
	for attacking := true; attacking || clones < 3; {
		if out, err := s.gitFrom(alice, "127.0.0.2", "", "clone", "-q", s.URL("alice/r"), filepath.Join(t.TempDir(), "c")); err != nil {
			t.Fatalf("clone %d during the attack: %v\n%s", clones, err, out)
		}
		if clones++; clones > 200 {
			t.Fatal("the attack did not end")
		}
		select {
		case <-done:
			attacking = false
		default:
		}
	}
	<-done
	t.Logf("%d auth failures, %d refused before auth, %d other; %d clones", authFailed.Load(), refused.Load(), other.Load(), clones)
	if n := authFailed.Load(); n > 20+workers {
		t.Errorf("%d logins reached authentication; the budget is 20 a minute", n)
	}
	if refused.Load() < attempts/2 {
		t.Errorf("only %d of %d attempts refused before authentication", refused.Load(), attempts)
	}
	if other.Load() != 0 {
		t.Errorf("%d attempts ended otherwise", other.Load())
	}
	if clones < 3 {
		t.Errorf("only %d clones", clones)
	}
	// The banned address is refused, with a message, even with a good key.
	if _, err := s.dialFrom("127.0.0.1", gossh.PublicKeys(alice.Signer)); err == nil {
		t.Error("banned address logged in")
	}
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+s.Port, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(conn)
	conn.Close()
	if !strings.Contains(string(b), "too many failed logins from your address") {
		t.Errorf("banned address was told %q", b)
	}
	audit := s.MustCLI("audit", "--limit", "100000")
	if !strings.Contains(audit, "auth-ban: 21 failed logins in a minute") {
		t.Errorf("no ban in the audit log")
	}
	if n := strings.Count(audit, "127.0.0.1"); n > 60 {
		t.Errorf("%d audit entries for the attacking address", n)
	}
}

func TestLimitConnsPerAddr(t *testing.T) {
	s := MustRunMain(t, func(c *main.Config) { c.MaxConnsPerAddr = 2 })
	alice := s.User("alice")
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+s.Port, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
		// Wait for the banner, so the server has counted the connection.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 64)); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+s.Port, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(conn)
	conn.Close()
	if !strings.Contains(string(b), "too many connections from your address (at most 2)") {
		t.Fatalf("third connection was told %q", b)
	}
	// Another address is not affected; a freed slot is usable again.
	c, err := s.dialFrom("127.0.0.2", gossh.PublicKeys(alice.Signer))
	if err != nil {
		t.Fatalf("other address: %v", err)
	}
	c.Close()
	held[0].Close()
	waitFor(t, func() bool {
		c, err := s.dialFrom("127.0.0.1", gossh.PublicKeys(alice.Signer))
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "freed connection slot")
	if audit := s.MustCLI("audit"); !strings.Contains(audit, "conns-per-addr") {
		t.Fatalf("audit:\n%s", audit)
	}
}

func TestLimitSessions(t *testing.T) {
	s := MustRunMain(t, func(c *main.Config) { c.MaxSessionsPerUser = 1; c.MaxSessions = 2 })
	alice := s.User("alice")
	bob := s.User("bob")
	carol := s.User("carol")
	s.MustCLI("repo", "create", "alice/r", "--public")
	// hold keeps one upload-pack session of k open until the test ends.
	hold := func(k *Key) {
		c, err := s.dial(t, gossh.PublicKeys(k.Signer))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		out, _ := sess.StdoutPipe()
		sess.StdinPipe()
		if err := sess.Start("git-upload-pack 'alice/r'"); err != nil {
			t.Fatal(err)
		}
		// The advertisement's first bytes: the session is counted.
		if _, err := io.ReadFull(out, make([]byte, 4)); err != nil {
			t.Fatal(err)
		}
	}
	hold(alice)
	_, errOut, code := s.SSH(alice, nil, "whoami")
	if code != 1 || !strings.Contains(errOut, "ERROR: too many sessions per user; try again later") {
		t.Fatalf("second session of alice: exit %d %q", code, errOut)
	}
	hold(bob)
	_, errOut, code = s.SSH(carol, nil, "whoami")
	if code != 1 || !strings.Contains(errOut, "ERROR: too many sessions in all") {
		t.Fatalf("third session in all: exit %d %q", code, errOut)
	}
	if audit := s.MustCLI("audit"); !strings.Contains(audit, "sessions: too many sessions per user") {
		t.Fatalf("audit:\n%s", audit)
	}
}

// An idle connection is closed after --idle-timeout; one whose client
// keeps sending, however slowly, is not.
func TestLimitIdleTimeout(t *testing.T) {
	s := MustRunMain(t, func(c *main.Config) { c.IdleTimeout = time.Second })
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/r")
	s.MustGit(alice, Work(t, "main", 1), "push", s.URL("alice/r"), "main")

	c, err := s.dial(t, gossh.PublicKeys(alice.Signer))
	if err != nil {
		t.Fatal(err)
	}
	idle := make(chan error, 1)
	go func() { idle <- c.Wait() }()
	select {
	case <-idle:
	case <-time.After(10 * time.Second):
		t.Fatal("idle connection still open after 10s")
	}

	c, err = s.dial(t, gossh.PublicKeys(alice.Signer))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := sess.StdinPipe()
	var out strings.Builder
	sess.Stdout = &out
	if err := sess.Start("git-upload-pack 'alice/r'"); err != nil {
		t.Fatal(err)
	}
	// The flush that ends the request, one byte every 700ms: 2.8s of a
	// connection never idle for a whole second.
	for _, b := range []byte("0000") {
		time.Sleep(700 * time.Millisecond)
		if _, err := in.Write([]byte{b}); err != nil {
			t.Fatalf("connection cut while data moved: %v", err)
		}
	}
	if err := sess.Wait(); err != nil {
		t.Fatalf("upload-pack: %v", err)
	}
	if !strings.Contains(out.String(), "refs/heads/main") {
		t.Fatalf("advertisement: %q", out.String())
	}
}
