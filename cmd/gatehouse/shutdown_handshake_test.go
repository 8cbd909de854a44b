package main_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	main "gatehouse/cmd/gatehouse"
)

// heldSigner is a client key whose signature waits for release: the
// connection stands mid-login (the server has accepted the key and waits
// for the signature) for as long as the test wants.
type heldSigner struct {
	gossh.Signer
	signing chan struct{}
	release chan struct{}
}

func (h *heldSigner) Sign(rand io.Reader, data []byte) (*gossh.Signature, error) {
	close(h.signing)
	<-h.release
	return h.Signer.Sign(rand, data)
}

// lsRemote is `git ls-remote` by hand on a client that logs in with
// signer: the advertisement of owner/name, its refs listed.
func lsRemote(port string, signer gossh.Signer, repo string) (string, error) {
	cfg := &gossh.ClientConfig{User: "git", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: time.Minute}
	c, err := gossh.Dial("tcp", "127.0.0.1:"+port, cfg)
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		return "", fmt.Errorf("session: %w", err)
	}
	var stderr strings.Builder
	sess.Stderr = &stderr
	in, _ := sess.StdinPipe()
	out, _ := sess.StdoutPipe()
	if err := sess.Start("git-upload-pack '" + repo + "'"); err != nil {
		return "", fmt.Errorf("exec: %w", err)
	}
	var refs strings.Builder
	r := bufio.NewReader(out)
	for {
		var n int
		hdr := make([]byte, 4)
		if _, err := io.ReadFull(r, hdr); err != nil {
			return refs.String(), fmt.Errorf("advertisement: %w (stderr %q)", err, stderr.String())
		}
		if _, err := fmt.Sscanf(string(hdr), "%04x", &n); err != nil || (n > 0 && n < 4) {
			return refs.String(), fmt.Errorf("bad pkt-line %q", hdr)
		}
		if n == 0 {
			break
		}
		line := make([]byte, n-4)
		if _, err := io.ReadFull(r, line); err != nil {
			return refs.String(), err
		}
		refs.Write(line)
	}
	io.WriteString(in, "0000") // nothing wanted: ls-remote's goodbye
	in.Close()
	if err := sess.Wait(); err != nil {
		return refs.String(), fmt.Errorf("upload-pack: %w (stderr %q)", err, stderr.String())
	}
	return refs.String(), nil
}

// A connection still logging in when shutdown starts is served to the
// end: it finishes its login and its ls-remote within the grace period,
// nothing is logged as an error (no closed database under it), and
// shutdown returns once it is done.
func TestShutdownWaitsForLogins(t *testing.T) {
	s := MustRunMain(t, func(c *main.Config) { c.ShutdownGrace = time.Minute })
	alice := s.User("alice")
	s.MustGit(alice, Work(t, "main", 1), "push", s.URL("alice/r"), "main")

	held := &heldSigner{Signer: alice.Signer, signing: make(chan struct{}), release: make(chan struct{})}
	listed := make(chan error, 1)
	var refs string
	go func() {
		var err error
		refs, err = lsRemote(s.Port, held, "alice/r")
		listed <- err
	}()
	<-held.signing // mid-login now
	shut := make(chan error, 1)
	go func() { shut <- s.Main.Shutdown() }()
	// Shutdown has begun once the server accepts no connection.
	waitFor(t, func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+s.Port, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, "the server still accepts connections")
	select {
	case err := <-shut:
		t.Fatalf("shutdown returned (%v) with a login in progress", err)
	default:
	}
	close(held.release)
	select {
	case err := <-listed:
		if err != nil || !strings.Contains(refs, "refs/heads/main") {
			t.Fatalf("ls-remote across shutdown: %v, refs %q", err, refs)
		}
	case <-time.After(time.Minute):
		t.Fatal("ls-remote did not end")
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(time.Minute): // the grace period
		t.Fatal("shutdown did not return within its grace period")
	}
	if log := s.Log.String(); strings.Contains(log, "level=ERROR") {
		t.Fatalf("errors logged:\n%s", log)
	}
}

// A login held past the grace period is cut; shutdown returns shortly
// after the grace, with nothing logged as an error.
func TestShutdownCutsLoginsPastGrace(t *testing.T) {
	s := MustRunMain(t, func(c *main.Config) { c.ShutdownGrace = 500 * time.Millisecond })
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/r")
	held := &heldSigner{Signer: alice.Signer, signing: make(chan struct{}), release: make(chan struct{})}
	listed := make(chan error, 1)
	go func() {
		_, err := lsRemote(s.Port, held, "alice/r")
		listed <- err
	}()
	<-held.signing
	shut := make(chan error, 1)
	go func() { shut <- s.Main.Shutdown() }()
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("shutdown did not return after its grace period")
	}
	close(held.release)
	if err := <-listed; err == nil {
		t.Fatal("a login cut by the grace period went on")
	}
	if log := s.Log.String(); strings.Contains(log, "level=ERROR") {
		t.Fatalf("errors logged:\n%s", log)
	}
}
