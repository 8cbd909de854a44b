package main_test

import (
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// Every refusal reaches the audit log with its reason.
func TestAuditRefusals(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	c, err := s.dial(t, gossh.PublicKeys(alice.Signer))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if conn, err := c.Dial("tcp", "127.0.0.1:"+s.Port); err == nil {
		conn.Close()
	}
	if ln, err := c.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	sess.Setenv("LD_PRELOAD", "/tmp/x.so")
	sess.RequestPty("xterm", 24, 80, nil)
	sess.RequestSubsystem("sftp")
	sess.Close()
	s.SSH(alice, nil, "rm -rf /")
	s.SSH(alice, nil, "git-upload-pack '../../etc'")
	s.SSH(alice, nil, "git-upload-pack 'bob/secret'")
	stranger := NewKey(t)
	s.SSH(stranger, nil, "whoami")

	audit := s.MustCLI("audit", "--limit", "1000")
	for _, want := range []string{
		"ssh channel direct-tcpip: not allowed", "ssh global request tcpip-forward: not allowed",
		`ssh env "LD_PRELOAD": not allowed`, "ssh pty-req: not allowed", `ssh subsystem "sftp": not allowed`,
		`command "rm -rf /": unknown command`, "git-upload-pack: invalid repository path",
		"git-upload-pack: not found or access denied", "login.refused", "unknown key",
	} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("audit:\n%s", audit)
	}
}
