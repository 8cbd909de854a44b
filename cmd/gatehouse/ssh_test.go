package main_test

import (
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	main "gatehouse/cmd/gatehouse"
)

func TestSSHSurface(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/one")
	s.MustCLI("repo", "create", "alice/two", "--public", "--description", "second")

	t.Run("greeting", func(t *testing.T) {
		out, errOut, code := s.SSH(alice, []string{"-T"}, "")
		want := "Hi alice! You've successfully authenticated, but gatehouse does not provide shell access."
		if code != 1 || !strings.Contains(errOut, want) || out != "" {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, errOut)
		}
	})
	t.Run("pty refused", func(t *testing.T) {
		// A forced pty that is refused ends OpenSSH's session (exit 255).
		out, errOut, code := s.SSH(alice, []string{"-tt"}, "")
		if code == 0 || !strings.Contains(errOut+out, "PTY allocation request failed") || strings.Contains(out, "Hi alice") {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, errOut)
		}
	})
	t.Run("whoami", func(t *testing.T) {
		out, _, code := s.SSH(alice, nil, "whoami")
		if code != 0 || out != "alice\n" {
			t.Fatalf("exit %d stdout %q", code, out)
		}
	})
	t.Run("help", func(t *testing.T) {
		out, _, code := s.SSH(alice, nil, "help")
		if code != 0 || !strings.Contains(out, "repo list") {
			t.Fatalf("exit %d stdout %q", code, out)
		}
	})
	t.Run("repo list", func(t *testing.T) {
		out, _, code := s.SSH(alice, nil, "repo list")
		if code != 0 || !strings.Contains(out, "alice/one\tprivate") || !strings.Contains(out, "alice/two\tpublic\tsecond") {
			t.Fatalf("exit %d stdout %q", code, out)
		}
		bob := s.User("bob")
		out, _, _ = s.SSH(bob, nil, "repo list")
		if strings.Contains(out, "alice/one") || !strings.Contains(out, "alice/two") {
			t.Fatalf("bob's list %q", out)
		}
	})
	t.Run("other commands", func(t *testing.T) {
		for _, c := range []string{"ls", "sh -c id", "git-upload-pack", "scp -t /tmp", "rm -rf /", "repo rm alice/one"} {
			out, errOut, code := s.SSH(alice, nil, c)
			if code == 0 || out != "" || !strings.Contains(errOut, "ERROR") {
				t.Errorf("%q: exit %d stdout %q stderr %q", c, code, out, errOut)
			}
		}
	})
	t.Run("sftp refused", func(t *testing.T) {
		_, errOut, code := s.SSH(alice, []string{"-s"}, "sftp")
		if code == 0 {
			t.Fatalf("sftp subsystem granted: %q", errOut)
		}
	})
}

// dial opens an SSH connection with the Go client as key k.
func (s *Server) dial(tb testing.TB, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	tb.Helper()
	cfg := &gossh.ClientConfig{
		User:            "git",
		Auth:            auth,
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	}
	return gossh.Dial("tcp", "127.0.0.1:"+s.Port, cfg)
}

func TestForwardingAndEnvRefused(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	c, err := s.dial(t, gossh.PublicKeys(alice.Signer))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Local forwarding: direct-tcpip channels are refused.
	if conn, err := c.Dial("tcp", "127.0.0.1:"+s.Port); err == nil {
		conn.Close()
		t.Fatal("direct-tcpip channel opened")
	}
	// Remote forwarding: tcpip-forward is refused.
	if ln, err := c.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
		t.Fatal("remote forward granted")
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.Setenv("LD_PRELOAD", "/tmp/x.so"); err == nil {
		t.Fatal("env LD_PRELOAD accepted")
	}
	if err := sess.Setenv("GIT_PROTOCOL", "version=2"); err != nil {
		t.Fatalf("env GIT_PROTOCOL refused: %v", err)
	}
	for _, req := range []string{"auth-agent-req@openssh.com", "x11-req"} {
		if ok, _ := sess.SendRequest(req, true, nil); ok {
			t.Fatalf("%s granted", req)
		}
	}
	if err := sess.RequestPty("xterm", 24, 80, nil); err == nil {
		t.Fatal("pty granted")
	}
	if err := sess.RequestSubsystem("sftp"); err == nil {
		t.Fatal("sftp granted")
	}
}

// A client that offers alice's public key (whose private half it cannot
// use) and then signs with bob's is bob, never alice. OpenSSH does exactly
// this with a passphrase-protected identity in batch mode: it offers the
// key, the server accepts the offer, the key cannot be unlocked, and the
// next identity signs.
func TestSessionActsAsTheSigner(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	bob := s.User("bob")
	pubOnly := filepath.Join(t.TempDir(), "alice")
	b, err := os.ReadFile(alice.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubOnly, b, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "", "ssh-keygen", "-q", "-p", "-N", "not-known-to-ssh", "-f", pubOnly)
	out, errOut, code := s.SSH(&Key{Path: pubOnly}, []string{"-v", "-i", bob.Path}, "whoami")
	if code != 0 || out != "bob\n" {
		t.Fatalf("exit %d, whoami %q\n%s", code, out, errOut)
	}
	aliceFP := gossh.FingerprintSHA256(alice.Signer.PublicKey())
	if !strings.Contains(errOut, "Server accepts key: "+pubOnly+" ED25519 "+aliceFP) {
		t.Fatalf("alice's key was not offered and accepted first:\n%s", errOut)
	}
}

func TestAllowCIDR(t *testing.T) {
	s := MustRunMain(t, func(c *main.Config) { c.AllowCIDR = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+s.Port, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	if n, err := conn.Read(buf); err == nil {
		t.Fatalf("server from outside --allow-cidr sent %q", buf[:n])
	}
}

// A finished Git conversation waits for the client to close its input
// before the session ends, so a client closing its side never finds the
// channel gone (go-git then fails a fetch that worked); a client that
// never closes is let go after a bound.
func TestGitSessionAwaitsClientEOF(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/r")
	c, err := s.dial(t, gossh.PublicKeys(alice.Signer))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, closeInput := range []bool{true, false} {
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		stdin, _ := sess.StdinPipe()
		stdout, _ := sess.StdoutPipe()
		if err := sess.Start("git-upload-pack 'alice/r'"); err != nil {
			t.Fatal(err)
		}
		// The advertisement of an empty repository ends with a flush;
		// a flush back ends the conversation (nothing wanted).
		adv := make([]byte, 0, 512)
		buf := make([]byte, 512)
		for !strings.HasSuffix(string(adv), "0000") {
			n, err := stdout.Read(buf)
			if err != nil {
				t.Fatalf("advertisement %q: %v", adv, err)
			}
			adv = append(adv, buf[:n]...)
		}
		io.WriteString(stdin, "0000")
		ended := make(chan error, 1)
		start := time.Now()
		go func() { ended <- sess.Wait() }()
		select {
		case err := <-ended:
			t.Fatalf("session ended before the client closed its input: %v", err)
		case <-time.After(300 * time.Millisecond):
		}
		if closeInput {
			if err := stdin.Close(); err != nil {
				t.Fatalf("closing input: %v", err)
			}
		}
		select {
		case err := <-ended:
			if err != nil {
				t.Fatalf("exit: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("session never ended")
		}
		if !closeInput && time.Since(start) > 5*time.Second {
			t.Errorf("a client that never closes was held %v", time.Since(start))
		}
		sess.Close()
	}
}
