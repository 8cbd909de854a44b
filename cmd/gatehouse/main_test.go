package main_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	main "gatehouse/cmd/gatehouse"
	"gatehouse/gittest"
)

// TestMain refuses to run without the real clients: a missing tool is a
// broken machine, not a reason to skip.
func TestMain(m *testing.M) {
	for _, tool := range []string{"git", "ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "end-to-end tests need %s on PATH (.ci/run installs it)\n", tool)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// Server is a running Gatehouse for one test.
type Server struct {
	*main.Main
	tb         testing.TB
	Data       string
	Port       string
	KnownHosts string
	Log        *syncBuffer // the server's log, at debug level
}

// MustRunMain starts the real server on 127.0.0.1:0 with a fresh data
// folder; configure may change the configuration first.
func MustRunMain(tb testing.TB, configure ...func(*main.Config)) *Server {
	tb.Helper()
	m := main.NewMain()
	data := tb.TempDir()
	m.Config.Data = data
	m.Config.SSHAddr = "127.0.0.1:0"
	m.Config.HTTPAddr = ""
	for _, f := range configure {
		f(&m.Config)
	}
	logs := &syncBuffer{}
	m.Stdout = io.Discard
	m.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := m.Run(context.Background()); err != nil {
		tb.Fatalf("run: %v", err)
	}
	tb.Cleanup(func() {
		m.Close()
		if tb.Failed() {
			tb.Logf("server log:\n%s", logs.String())
		}
	})
	s := &Server{Main: m, tb: tb, Data: m.Config.Data, Port: portOf(m.SSH.ListenAddr().String()), Log: logs}
	s.KnownHosts = filepath.Join(tb.TempDir(), "known_hosts")
	var kh strings.Builder
	for _, k := range m.SSH.HostKeys {
		fmt.Fprintf(&kh, "[127.0.0.1]:%s %s", s.Port, gossh.MarshalAuthorizedKey(k.PublicKey()))
	}
	if err := os.WriteFile(s.KnownHosts, []byte(kh.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return s
}

func portOf(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

// CLI runs an admin command against the server's data folder, in-process
// but with its own database handle, as a second process would.
func (s *Server) CLI(args ...string) (string, error) {
	s.tb.Helper()
	var out, errb bytes.Buffer
	args = append(args, "--data", s.Data)
	if s.Main != nil && s.Config.DB != "" {
		args = append(args, "--db", s.Config.DB)
	}
	code := main.Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	if code != 0 {
		return out.String() + errb.String(), fmt.Errorf("gatehouse %s: exit %d: %s", strings.Join(args, " "), code, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// MustCLI is CLI that fails the test on error.
func (s *Server) MustCLI(args ...string) string {
	s.tb.Helper()
	out, err := s.CLI(args...)
	if err != nil {
		s.tb.Fatal(err)
	}
	return out
}

// Key is a user's key pair on disk for ssh -i.
type Key struct {
	Path   string // private key file
	Public string // authorized_keys line
	Signer gossh.Signer
}

// NewKey makes an ed25519 key pair in a temp folder.
func NewKey(tb testing.TB) *Key {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "test")
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "id_ed25519")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		tb.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		tb.Fatal(err)
	}
	return &Key{Path: path, Public: strings.TrimSpace(string(gossh.MarshalAuthorizedKey(signer.PublicKey()))) + " test@example", Signer: signer}
}

// User registers a user with a fresh key.
func (s *Server) User(name string, extra ...string) *Key {
	s.tb.Helper()
	s.MustCLI(append([]string{"user", "add", name}, extra...)...)
	k := NewKey(s.tb)
	s.MustCLI("key", "add", name, k.Public)
	return k
}

// URL is the ssh:// clone URL of owner/name.
func (s *Server) URL(repo string) string {
	return "ssh://git@127.0.0.1:" + s.Port + "/" + repo + ".git"
}

// SSHCommand is the ssh invocation git and tests use for key k.
func (s *Server) SSHCommand(k *Key) []string {
	return []string{"ssh", "-i", k.Path, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
		"-o", "UserKnownHostsFile=" + s.KnownHosts, "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-F", "/dev/null", "-p", s.Port}
}

// Git runs the real git as the holder of key k, in dir.
func (s *Server) Git(k *Key, dir string, args ...string) (string, error) {
	s.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Dir = dir
	cmd.Env = s.gitEnv(k)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// MustGit is Git that fails the test on error.
func (s *Server) MustGit(k *Key, dir string, args ...string) string {
	s.tb.Helper()
	out, err := s.Git(k, dir, args...)
	if err != nil {
		s.tb.Fatal(err)
	}
	return out
}

func (s *Server) gitEnv(k *Key) []string {
	env := append(os.Environ(), gitIdentity...)
	env = append(env, "HOME="+s.tb.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	if k != nil {
		env = append(env, "GIT_SSH_COMMAND="+shellJoin(s.SSHCommand(k)))
	}
	return env
}

var gitIdentity = []string{
	"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
	"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
}

// SSH runs the real ssh client with a remote command.
func (s *Server) SSH(k *Key, extra []string, command string) (stdout, stderr string, code int) {
	s.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append(s.SSHCommand(k)[1:], extra...)
	args = append(args, "git@127.0.0.1")
	if command != "" {
		args = append(args, command)
	}
	cmd := exec.CommandContext(ctx, "ssh", args...)
	cmd.WaitDelay = 5 * time.Second
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.tb.Fatalf("ssh: %v", err)
	}
	return o.String(), e.String(), code
}

// RepoDir is the server-side directory of owner/name.
func (s *Server) RepoDir(repo string) string {
	return filepath.Join(s.Data, "repos", filepath.FromSlash(repo)+".git")
}

// Fsck checks a server repository with git fsck --full --strict.
func (s *Server) Fsck(repo string) {
	s.tb.Helper()
	if out, errOut, err := (gittest.Cmd{Dir: s.RepoDir(repo)}).Exec(s.tb, "fsck", "--full", "--strict", "--no-dangling"); err != nil {
		s.tb.Fatalf("fsck %s: %v\n%s%s", repo, err, out, errOut)
	}
}

// RepoJSON reads a repository's metadata through the CLI.
func (s *Server) RepoJSON(repo string) map[string]any {
	s.tb.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s.MustCLI("repo", "show", repo, "--json")), &v); err != nil {
		s.tb.Fatal(err)
	}
	return v
}

// Work makes a non-bare working repository with n commits on branch.
func Work(tb testing.TB, branch string, n int) string {
	tb.Helper()
	dir := tb.TempDir()
	run(tb, dir, "git", "init", "-q", "-b", branch)
	Commits(tb, dir, "file", n)
	return dir
}

// Commits adds n commits, each changing one file named prefix-i.txt.
func Commits(tb testing.TB, dir, prefix string, n int) {
	tb.Helper()
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s-%d.txt", prefix, i)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(fmt.Sprintf("%s %d %d\n", prefix, i, time.Now().UnixNano())), 0o644); err != nil {
			tb.Fatal(err)
		}
		run(tb, dir, "git", "add", name)
		run(tb, dir, "git", "commit", "-q", "-m", fmt.Sprintf("%s %d", prefix, i))
	}
}

// run runs a local command (no server) and returns its trimmed output.
func run(tb testing.TB, dir string, name string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), gitIdentity...)
	cmd.Env = append(cmd.Env, "GIT_CONFIG_NOSYSTEM=1", "HOME="+os.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
