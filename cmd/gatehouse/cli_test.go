package main_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	main "gatehouse/cmd/gatehouse"
)

func rsaKey(tb testing.TB, bits int) string {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := gossh.NewPublicKey(&k.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(pub)))
}

func TestCLIErrors(t *testing.T) {
	s := MustRunMain(t)
	k := NewKey(t)
	s.MustCLI("user", "add", "alice")
	s.MustCLI("key", "add", "alice", k.Public)
	s.MustCLI("user", "add", "bob")
	s.MustCLI("repo", "create", "alice/r")
	keyFile := filepath.Join(t.TempDir(), "k.pub")
	os.WriteFile(keyFile, []byte("no-agent-forwarding,command=\"x\" "+NewKey(t).Public+"\n"), 0o644)

	tests := []struct {
		args []string
		want string // in the one-line error
	}{
		{[]string{"user", "add", "Alice"}, "must match"},
		{[]string{"user", "add", "a/b"}, "must match"},
		{[]string{"user", "add", "alice"}, "already"},
		{[]string{"user", "show", "nobody"}, "not found"},
		{[]string{"user", "disable", "nobody"}, "not found"},
		{[]string{"user", "rm", "alice"}, "still owns 1 repositories; remove or move them first"},
		{[]string{"key", "add", "alice", "ssh-ed25519 AAAAnotbase64!!"}, "invalid"},
		{[]string{"key", "add", "alice", "hello world"}, "invalid"},
		{[]string{"key", "add", "alice", rsaKey(t, 1024)}, "1024"},
		{[]string{"key", "add", "bob", k.Public}, "already"},
		{[]string{"key", "add", "nobody", NewKey(t).Public}, "not found"},
		{[]string{"key", "add", "alice", "/no/such/file"}, "neither a key nor a readable file"},
		{[]string{"key", "rm", "alice", "SHA256:nope"}, "not found"},
		{[]string{"repo", "create", "nobody/r"}, "not found"},
		{[]string{"repo", "create", "alice/r"}, "already"},
		{[]string{"repo", "create", "alice/../r"}, "invalid"},
		{[]string{"repo", "create", "alice"}, "OWNER/NAME"},
		{[]string{"repo", "show", "alice/nothing"}, "not found"},
		{[]string{"repo", "rename", "alice/r", "nobody/r"}, "not found"},
		{[]string{"collab", "add", "alice/r", "bob", "owner"}, "read, write or admin"},
		{[]string{"collab", "add", "alice/r", "nobody", "read"}, "not found"},
		{[]string{"collab", "add", "alice/nothing", "bob", "read"}, "not found"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"user", "add"}, "takes 1 argument"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, err := s.CLI(tt.args...)
			if err == nil {
				t.Fatalf("succeeded:\n%s", out)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Fatalf("error %q does not say %q", msg, tt.want)
			}
			if strings.Count(strings.TrimSpace(out), "\n") > 0 {
				t.Fatalf("error is more than one line:\n%s", out)
			}
		})
	}
	// Good input in the other forms: a 2048-bit RSA key, a key with
	// options from a file, a key on standard input.
	s.MustCLI("key", "add", "bob", rsaKey(t, 2048))
	s.MustCLI("key", "add", "bob", keyFile)
	var out, errb bytes.Buffer
	if code := mainRun([]string{"key", "add", "bob", "-", "--data", s.Data}, strings.NewReader(NewKey(t).Public+"\n"), &out, &errb); code != 0 {
		t.Fatalf("key from stdin: %s", errb.String())
	}
	var keys []map[string]any
	if err := json.Unmarshal([]byte(s.MustCLI("key", "list", "bob", "--json")), &keys); err != nil || len(keys) != 3 {
		t.Fatalf("bob's keys: %v %v", keys, err)
	}
	for _, k := range keys {
		if !regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}$`).MatchString(k["fingerprint"].(string)) {
			t.Fatalf("fingerprint %v", k["fingerprint"])
		}
	}
	// Nothing above changed what a refused command touched.
	var users []map[string]any
	json.Unmarshal([]byte(s.MustCLI("user", "list", "--json")), &users)
	if len(users) != 3 { // admin, alice, bob
		t.Fatalf("users: %v", users)
	}
}

func TestCLIRepoLifecycle(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	s.User("bob")
	s.MustCLI("repo", "create", "alice/r", "--public", "--description", "first")
	work := Work(t, "main", 2)
	s.MustGit(alice, work, "push", s.URL("alice/r"), "main")
	s.MustCLI("collab", "add", "alice/r", "bob", "write")
	if out := s.MustCLI("collab", "list", "alice/r"); !strings.Contains(out, "bob") || !strings.Contains(out, "write") {
		t.Fatalf("collab list:\n%s", out)
	}
	s.MustCLI("repo", "rename", "alice/r", "alice/renamed")
	s.MustGit(alice, "", "clone", s.URL("alice/renamed"), filepath.Join(t.TempDir(), "c"))
	if _, err := s.Git(alice, "", "ls-remote", s.URL("alice/r")); err == nil {
		t.Fatal("old name still answers")
	}
	s.Fsck("alice/renamed")
	s.MustCLI("repo", "rm", "alice/renamed")
	if _, err := os.Stat(s.RepoDir("alice/renamed")); !os.IsNotExist(err) {
		t.Fatalf("repository left on disk: %v", err)
	}
	if out := s.MustCLI("repo", "list"); strings.Contains(out, "alice/") {
		t.Fatalf("repo list:\n%s", out)
	}
	// With the repository gone, alice may be removed.
	s.MustCLI("user", "rm", "alice")
	if out, err := s.Git(alice, "", "ls-remote", s.URL("alice/x")); err == nil || !strings.Contains(out, "Permission denied") {
		t.Fatalf("removed user's key still works: %v\n%s", err, out)
	}
}

func mainRun(args []string, stdin *strings.Reader, stdout, stderr *bytes.Buffer) int {
	return main.Run(context.Background(), args, stdin, stdout, stderr)
}

// TestBinary builds the real binary and runs it as an admin would: the
// server in one process, the command line in others beside it.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gatehouse")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := t.TempDir()
	key := NewKey(t)
	keyFile := filepath.Join(t.TempDir(), "admin.pub")
	os.WriteFile(keyFile, []byte(key.Public+"\n"), 0o644)

	srv := exec.Command(bin, "--data", data, "--ssh-addr", "127.0.0.1:0", "--http-addr", "", "--admin-key", keyFile)
	stdout, _ := srv.StdoutPipe()
	var stderr bytes.Buffer
	srv.Stderr = &stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill()
	// The first lines say where it listens and what the host keys are.
	sc := bufio.NewScanner(stdout)
	var port string
	var fps []string
	deadline := time.AfterFunc(30*time.Second, func() { srv.Process.Kill() })
	for sc.Scan() && (port == "" || len(fps) < 2) {
		line := sc.Text()
		if m := regexp.MustCompile(`SSH listening on 127\.0\.0\.1:(\d+)`).FindStringSubmatch(line); m != nil {
			port = m[1]
		}
		if m := regexp.MustCompile(`host key (SHA256:\S+)`).FindStringSubmatch(line); m != nil {
			fps = append(fps, m[1])
		}
	}
	deadline.Stop()
	if port == "" || len(fps) != 2 {
		t.Fatalf("server said port %q, fingerprints %v; stderr:\n%s", port, fps, stderr.String())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	// The printed fingerprints are what ssh-keygen says of the key files.
	for _, f := range []string{"ssh_host_ed25519_key", "ssh_host_rsa_key"} {
		out, err := exec.Command("ssh-keygen", "-lf", filepath.Join(data, f)).Output()
		if err != nil {
			t.Fatal(err)
		}
		if fp := strings.Fields(string(out))[1]; fp != fps[0] && fp != fps[1] {
			t.Fatalf("ssh-keygen says %s, server printed %v", fp, fps)
		}
	}
	cli := func(args ...string) string {
		out, err := exec.Command(bin, append(args, "--data", data)...).CombinedOutput()
		if err != nil {
			t.Fatalf("gatehouse %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := cli("hostkeys"); !strings.Contains(out, fps[0]) || !strings.Contains(out, fps[1]) {
		t.Fatalf("hostkeys:\n%s", out)
	}
	cli("repo", "create", "admin/hello")
	cli("user", "add", "dev")
	if out := cli("user", "list"); !strings.Contains(out, "admin") || !strings.Contains(out, "dev") {
		t.Fatalf("user list:\n%s", out)
	}
	if out := cli("version"); !strings.HasPrefix(out, "gatehouse ") {
		t.Fatalf("version: %q", out)
	}

	s := &Server{tb: t, Data: data, Port: port, KnownHosts: filepath.Join(t.TempDir(), "kh")}
	kh, _ := exec.Command("ssh-keyscan", "-p", port, "-t", "ed25519", "127.0.0.1").Output()
	os.WriteFile(s.KnownHosts, kh, 0o644)
	work := Work(t, "main", 1)
	s.MustGit(key, work, "push", s.URL("admin/hello"), "main")
	s.MustGit(key, "", "clone", s.URL("admin/hello"), filepath.Join(t.TempDir(), "c"))

	// SIGTERM: stop, exit 0.
	srv.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop on SIGTERM")
	}
}
