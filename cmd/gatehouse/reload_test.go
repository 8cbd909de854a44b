package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// buildBinary builds the gatehouse command into a temporary folder.
func buildBinary(t *testing.T, ldflags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatehouse")
	args := []string{"build", "-o", bin}
	if len(ldflags) > 0 {
		args = append(args, "-ldflags", strings.Join(ldflags, " "))
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// dialAs logs in over SSH with k.
func dialAs(port string, k *Key) (*gossh.Client, error) {
	return gossh.Dial("tcp", "127.0.0.1:"+port, &gossh.ClientConfig{
		User: "git", Auth: []gossh.AuthMethod{gossh.PublicKeys(k.Signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
}

// command runs one SSH command on c.
func command(t *testing.T, c *gossh.Client, cmd string) string {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatalf("new session on a held connection: %v", err)
	}
	defer sess.Close()
	out, err := sess.CombinedOutput(cmd)
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return string(out)
}

// A server configured by --config reloads on SIGHUP: the key blocklist
// (even an edit that kept its size and time), and the log level from
// the file, while a connection open across it goes on.
func TestReloadOnHangup(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	admin, bob, other := NewKey(t), NewKey(t), NewKey(t)
	adminFile := filepath.Join(dir, "admin.pub")
	os.WriteFile(adminFile, []byte(admin.Public+"\n"), 0o644)
	bobFile := filepath.Join(dir, "bob.pub")
	os.WriteFile(bobFile, []byte(bob.Public+"\n"), 0o644)
	blocklist := filepath.Join(dir, "blocklist")
	fp := func(k *Key) string { return gossh.FingerprintSHA256(k.Signer.PublicKey()) + "\n" }
	os.WriteFile(blocklist, []byte(fp(other)), 0o644)
	config := filepath.Join(dir, "gatehouse.conf")
	writeConfig := func(level string) {
		os.WriteFile(config, []byte(`data = `+filepath.Join(dir, "data")+`
ssh-addr = "127.0.0.1:0"
http-addr = ""
admin-key = `+adminFile+`
key-blocklist = `+blocklist+`
log-level = `+level+`
`), 0o644)
	}
	writeConfig("info")

	var logs syncBuffer
	srv, port := startBinaryArgs(t, bin, &logs, "--config", config)
	for _, args := range [][]string{{"user", "add", "bob"}, {"key", "add", "bob", bobFile}} {
		if out, err := exec.Command(bin, append(args, "--config", config)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", args, err, out)
		}
	}
	held, err := dialAs(port, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	command(t, held, "repo list")
	c, err := dialAs(port, bob)
	if err != nil {
		t.Fatalf("bob, not blocked yet: %v", err)
	}
	c.Close()

	// bob's key replaces the other on the list, the file's size and time
	// kept: only a reload reads it.
	st, _ := os.Stat(blocklist)
	os.WriteFile(blocklist, []byte(fp(bob)), 0o644)
	os.Chtimes(blocklist, st.ModTime(), st.ModTime())
	if c, err := dialAs(port, bob); err != nil {
		t.Fatalf("the blocklist was read again without SIGHUP: %v", err)
	} else {
		c.Close()
	}
	if strings.Contains(logs.String(), "level=DEBUG") {
		t.Fatalf("debug lines at log-level info:\n%s", logs.String())
	}

	writeConfig("debug")
	srv.Process.Signal(syscall.SIGHUP)
	waitMinute(t, "the reload", func() bool { return strings.Contains(logs.String(), "msg=reloaded log_level=DEBUG") })
	if c, err := dialAs(port, bob); err == nil {
		c.Close()
		t.Fatal("bob's key, blocked, still logs in after SIGHUP")
	}
	waitMinute(t, "debug lines", func() bool { return strings.Contains(logs.String(), "level=DEBUG") })
	command(t, held, "repo list") // the connection held across the reload
	if err := srv.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the server is gone after SIGHUP: %v", err)
	}
}
