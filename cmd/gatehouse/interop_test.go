package main_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	gogitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// The interop matrix: each real client clones, fetches, pushes and,
// where it can, clones shallow against the real server, and the result
// is checked against the server's own refs and with git fsck on both
// sides. A missing client fails the test: .ci/run installs them all.

// interop is one server with a repository worth cloning: two branches,
// an annotated and a lightweight tag, and a work tree that pushes more.
type interop struct {
	s    *Server
	k    *Key
	repo string
	work string // pushes to the repository with the git CLI
}

func newInterop(t *testing.T) *interop {
	t.Helper()
	s := MustRunMain(t)
	k := s.User("alice")
	work := Work(t, "main", 3)
	run(t, work, "git", "tag", "-a", "-m", "release 1", "v1")
	run(t, work, "git", "checkout", "-q", "-b", "topic")
	Commits(t, work, "topic", 2)
	run(t, work, "git", "checkout", "-q", "main")
	Commits(t, work, "more", 2)
	run(t, work, "git", "tag", "light")
	s.MustGit(k, work, "-c", "protocol.version=0", "push", "-q", s.URL("alice/interop"), "main", "topic", "v1", "light")
	return &interop{s: s, k: k, repo: "alice/interop", work: work}
}

// advance pushes n new commits to main from the work tree.
func (x *interop) advance(t *testing.T, n int) {
	t.Helper()
	Commits(t, x.work, fmt.Sprintf("adv%d", time.Now().UnixNano()), n)
	x.s.MustGit(x.k, x.work, "-c", "protocol.version=0", "push", "-q", x.s.URL(x.repo), "main")
}

// serverRef returns a ref's id on the server.
func (x *interop) serverRef(t *testing.T, name string) string {
	t.Helper()
	return run(t, x.s.RepoDir(x.repo), "git", "rev-parse", name)
}

// serverRefs lists the server's refs as "id name" lines.
func (x *interop) serverRefs(t *testing.T) string {
	t.Helper()
	return run(t, x.s.RepoDir(x.repo), "git", "for-each-ref", "--format=%(objectname) %(refname)")
}

// checkClone checks a clone at dir holds the server's branches as
// remote-tracking refs (and its tags when tags is set) and is fsck clean,
// and that the server is too.
func (x *interop) checkClone(t *testing.T, dir string, tags bool) {
	t.Helper()
	var want, got []string
	for _, l := range strings.Split(x.serverRefs(t), "\n") {
		id, name, _ := strings.Cut(l, " ")
		if b, ok := strings.CutPrefix(name, "refs/heads/"); ok {
			want = append(want, id+" refs/remotes/origin/"+b)
		} else if tags {
			want = append(want, l)
		}
	}
	patterns := []string{"refs/remotes/origin/"}
	if tags {
		patterns = append(patterns, "refs/tags/")
	}
	out := run(t, dir, "git", append([]string{"for-each-ref", "--format=%(objectname) %(refname)"}, patterns...)...)
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.HasSuffix(l, "refs/remotes/origin/HEAD") {
			got = append(got, l)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("client refs:\n%s\nserver refs:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	run(t, dir, "git", "fsck", "--full", "--strict")
	x.s.Fsck(x.repo)
}

// checkPushed checks the server's main is the client's main, and fsck.
func (x *interop) checkPushed(t *testing.T, dir string) {
	t.Helper()
	if got, want := x.serverRef(t, "refs/heads/main"), run(t, dir, "git", "rev-parse", "refs/heads/main"); got != want {
		t.Errorf("server main %s after push, client main %s", got, want)
	}
	x.s.Fsck(x.repo)
}

func TestInteropGitCLI(t *testing.T) {
	for _, proto := range []string{"0", "2"} {
		t.Run("protocol.version="+proto, func(t *testing.T) {
			x := newInterop(t)
			trace := filepath.Join(t.TempDir(), "trace")
			t.Setenv("GIT_TRACE_PACKET", trace)
			dir := t.TempDir()
			git := func(dir string, args ...string) string {
				t.Helper()
				return x.s.MustGit(x.k, dir, append([]string{"-c", "protocol.version=" + proto}, args...)...)
			}
			git(dir, "clone", x.s.URL(x.repo), "c")
			c := filepath.Join(dir, "c")
			x.checkClone(t, c, true)
			// The wire must be the version asked for, v2 included.
			b, _ := os.ReadFile(trace)
			if v2 := bytes.Contains(b, []byte("< version 2")); v2 != (proto == "2") {
				t.Errorf("protocol.version=%s, server spoke v2: %v", proto, v2)
			}

			x.advance(t, 3)
			git(c, "fetch", "origin")
			x.checkClone(t, c, true)
			if out := git(c, "ls-remote", "--symref", "origin"); !strings.Contains(out, "ref: refs/heads/main\tHEAD") {
				t.Errorf("ls-remote --symref:\n%s", out)
			}

			run(t, c, "git", "merge", "-q", "--ff-only", "origin/main")
			Commits(t, c, "fromclient", 2)
			git(c, "push", "origin", "main")
			x.checkPushed(t, c)

			git(dir, "clone", "--depth", "1", "--no-single-branch", x.s.URL(x.repo), "shallow")
			sh := filepath.Join(dir, "shallow")
			if n := run(t, sh, "git", "rev-list", "--count", "HEAD"); n != "1" {
				t.Errorf("depth 1 clone has %s commits", n)
			}
			git(sh, "fetch", "--deepen=2", "origin")
			if n := run(t, sh, "git", "rev-list", "--count", "origin/main"); n != "3" {
				t.Errorf("after --deepen=2 origin/main has %s commits", n)
			}
			// A push from a shallow clone.
			Commits(t, sh, "fromshallow", 1)
			git(sh, "push", "origin", "HEAD:main")
			x.checkPushed(t, sh)
			git(sh, "fetch", "--unshallow", "origin")
			x.checkClone(t, sh, true)

			git(dir, "clone", "--filter=blob:none", x.s.URL(x.repo), "partial")
			p := filepath.Join(dir, "partial")
			run(t, p, "git", "-c", "protocol.version="+proto, "fsck", "--strict")
			if out := run(t, p, "git", "rev-list", "--objects", "--all", "--missing=print"); !strings.Contains(out, "?") {
				t.Errorf("blob:none clone has every blob")
			}
			// Checking out an old commit fetches its blobs by id, over SSH.
			xenv := []string{"checkout", "-q", "v1"}
			git(p, xenv...)
			x.checkClone(t, p, true)
		})
	}
}

// TestInteropGoGit drives go-git's own client (protocol v0).
func TestInteropGoGit(t *testing.T) {
	x := newInterop(t)
	auth, err := gogitssh.NewPublicKeys("git", mustRead(t, x.k.Path), "")
	if err != nil {
		t.Fatal(err)
	}
	auth.HostKeyCallback, err = gogitssh.NewKnownHostsCallback(x.s.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "c")
	r, err := git.PlainCloneContext(ctx, dir, false, &git.CloneOptions{URL: x.s.URL(x.repo), Auth: auth, Tags: git.AllTags})
	if err != nil {
		t.Fatalf("go-git clone: %v", err)
	}
	x.checkClone(t, dir, true)

	x.advance(t, 2)
	if err := r.FetchContext(ctx, &git.FetchOptions{Auth: auth}); err != nil {
		t.Fatalf("go-git fetch: %v", err)
	}
	x.checkClone(t, dir, true)

	run(t, dir, "git", "merge", "-q", "--ff-only", "origin/main")
	Commits(t, dir, "gogit", 2)
	err = r.PushContext(ctx, &git.PushOptions{Auth: auth, RefSpecs: []gitconfig.RefSpec{"refs/heads/main:refs/heads/main"}})
	if err != nil {
		t.Fatalf("go-git push: %v", err)
	}
	x.checkPushed(t, dir)

	sdir := filepath.Join(t.TempDir(), "s")
	sr, err := git.PlainCloneContext(ctx, sdir, false, &git.CloneOptions{URL: x.s.URL(x.repo), Auth: auth, Depth: 1, SingleBranch: true, Tags: git.NoTags})
	if err != nil {
		t.Fatalf("go-git shallow clone: %v", err)
	}
	head, err := sr.Head()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := head.Hash().String(), x.serverRef(t, "refs/heads/main"); got != want {
		t.Errorf("shallow clone HEAD %s, server main %s", got, want)
	}
	c, err := sr.CommitObject(head.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Parents().Next(); err == nil {
		t.Errorf("depth 1 clone has the parent commit")
	} else if err != plumbing.ErrObjectNotFound {
		t.Logf("parent of a shallow commit: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(sdir, ".git", "shallow")); strings.TrimSpace(string(b)) != head.Hash().String() {
		t.Errorf("shallow file %q, want %s", b, head.Hash())
	}
	run(t, sdir, "git", "fsck", "--strict")
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// python returns a Python that can import module. Debian's packages live
// in the system Python, which a pyenv or venv python3 on PATH may hide.
func python(t *testing.T, module string) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if err := exec.Command(p, "-c", "import "+module).Run(); err == nil {
			return p
		}
	}
	t.Fatalf("no python3 can import %s (.ci/run installs python3-%s)", module, module)
	return ""
}

// runScript writes a Python script to a temp file and runs it with args
// in dir, with extra environment, and returns its output; it fails the
// test when the script fails.
func runScript(t *testing.T, py, script, dir string, env []string, args ...string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "script.py")
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append([]string{f}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), gitIdentity...), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(py), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// pygit2Script clones, fetches or pushes with libgit2, authenticating
// with the key files. Host keys are not checked: libgit2's check needs a
// known_hosts it reads from the real HOME.
const pygit2Script = `
import sys, pygit2
mode, url, pub, priv, path = sys.argv[1:6]
creds = pygit2.Keypair("git", pub, priv, "")
cb = pygit2.RemoteCallbacks(credentials=creds)
cb.certificate_check = lambda *a, **k: True
if mode == "clone":
    repo = pygit2.clone_repository(url, path, callbacks=cb)
    print(repo.head.target)
elif mode == "fetch":
    repo = pygit2.Repository(path)
    repo.remotes["origin"].fetch(callbacks=cb)
    print("fetched")
elif mode == "push":
    repo = pygit2.Repository(path)
    repo.remotes["origin"].push(["refs/heads/main:refs/heads/main"], callbacks=cb)
    print("pushed")
`

// TestInteropPygit2 drives libgit2 (libssh2 1.10: non-ETM MACs, no
// chacha20) through pygit2. libgit2 1.5 cannot clone shallow.
func TestInteropPygit2(t *testing.T) {
	py := python(t, "pygit2")
	x := newInterop(t)
	pub := filepath.Join(t.TempDir(), "id.pub")
	if err := os.WriteFile(pub, []byte(x.k.Public+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "c")
	py2 := func(mode string) string {
		return runScript(t, py, pygit2Script, "", nil, mode, x.s.URL(x.repo), pub, x.k.Path, dir)
	}
	if out := strings.TrimSpace(py2("clone")); out != x.serverRef(t, "refs/heads/main") {
		t.Errorf("pygit2 clone HEAD %q, server main %s", out, x.serverRef(t, "refs/heads/main"))
	}
	x.checkClone(t, dir, true)
	x.advance(t, 2)
	py2("fetch")
	x.checkClone(t, dir, true)
	run(t, dir, "git", "merge", "-q", "--ff-only", "origin/main")
	Commits(t, dir, "pygit2", 2)
	py2("push")
	x.checkPushed(t, dir)
}

// dulwichScript clones (optionally shallow), fetches or pushes with
// dulwich's porcelain; ssh runs as GIT_SSH_COMMAND says.
const dulwichScript = `
import sys
from dulwich import porcelain
mode, url, path = sys.argv[1:4]
if mode == "clone":
    porcelain.clone(url, path, checkout=True)
elif mode == "shallow":
    porcelain.clone(url, path, checkout=True, depth=1)
elif mode == "fetch":
    porcelain.fetch(path, "origin")
elif mode == "push":
    porcelain.push(path, "origin", "refs/heads/main:refs/heads/main")
print("ok")
`

func TestInteropDulwich(t *testing.T) {
	py := python(t, "dulwich")
	x := newInterop(t)
	env := []string{"GIT_SSH_COMMAND=" + shellJoin(x.s.SSHCommand(x.k))}
	dir := filepath.Join(t.TempDir(), "c")
	dw := func(mode, path string) {
		t.Helper()
		runScript(t, py, dulwichScript, "", env, mode, x.s.URL(x.repo), path)
	}
	dw("clone", dir)
	x.checkClone(t, dir, true)
	x.advance(t, 2)
	dw("fetch", dir)
	x.checkClone(t, dir, true)
	run(t, dir, "git", "merge", "-q", "--ff-only", "origin/main")
	Commits(t, dir, "dulwich", 2)
	dw("push", dir)
	x.checkPushed(t, dir)

	sdir := filepath.Join(t.TempDir(), "s")
	dw("shallow", sdir)
	if n := run(t, sdir, "git", "rev-list", "--count", "HEAD"); n != "1" {
		t.Errorf("dulwich depth 1 clone has %s commits", n)
	}
	if got, want := run(t, sdir, "git", "rev-parse", "HEAD"), x.serverRef(t, "refs/heads/main"); got != want {
		t.Errorf("dulwich shallow clone HEAD %s, server main %s", got, want)
	}
	run(t, sdir, "git", "fsck", "--strict")
}

// jgitClasspath completes Debian's jgit-cli, whose launcher misses the
// LFS, HTTP and JSch jars its Main class loads at start.
var jgitClasspath = []string{
	"org.eclipse.jgit.lfs.jar", "gson.jar", "jsch.jar", "jzlib.jar", "org.eclipse.jgit.http.apache.jar",
	"httpclient.jar", "httpcore.jar", "commons-logging.jar", "slf4j-api.jar", "args4j.jar",
}

// jgit runs the jgit command with a HOME whose ~/.ssh holds key (an RSA
// key in PEM form: JSch 0.1.54 reads no other user key) and the server's
// host keys.
func (x *interop) jgit(t *testing.T, home, dir string, args ...string) (string, error) {
	t.Helper()
	var cp []string
	for _, j := range jgitClasspath {
		cp = append(cp, filepath.Join("/usr/share/java", j))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "jgit", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+home, "JGIT_CLASSPATH="+strings.Join(cp, ":"))
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("jgit %s hung:\n%s", strings.Join(args, " "), out)
	}
	return string(out), err
}

// TestInteropJGit pins down JGit 4.11 (Debian's jgit-cli), whose SSH is
// JSch 0.1.54: its host key algorithms are only ssh-rsa (SHA-1 signatures),
// ssh-dss and ECDSA, its key exchanges stop at ecdh-sha2-nistp* and
// SHA-1 Diffie-Hellman. The server offers ed25519 and RSA host keys with
// rsa-sha2-256/512 only, so no host key algorithm is common and the
// handshake is refused before authentication. Offering SHA-1 ssh-rsa
// would fail ssh-audit; instead the test checks the refusal is clean: a
// readable "Algorithm negotiation fail", no hang, and the server serving
// the next client as before. Once JGit with Apache MINA sshd (5.2+) is
// packaged, this test should clone, fetch and push like the others.
func TestInteropJGit(t *testing.T) {
	if _, err := exec.LookPath("jgit"); err != nil {
		t.Fatal("jgit not on PATH (.ci/run installs jgit-cli)")
	}
	x := newInterop(t)
	home := t.TempDir()
	sshDir := filepath.Join(home, ".ssh")
	if err := os.Mkdir(sshDir, 0o700); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(sshDir, "id_rsa")
	run(t, home, "ssh-keygen", "-q", "-t", "rsa", "-b", "3072", "-m", "PEM", "-N", "", "-C", "jgit", "-f", key)
	x.s.MustCLI("key", "add", "alice", key+".pub")
	conf := fmt.Sprintf("Host 127.0.0.1\n  Port %s\n  User git\n  IdentityFile %s\n  StrictHostKeyChecking yes\n", x.s.Port, key)
	if err := os.WriteFile(filepath.Join(sshDir, "config"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sshDir, "known_hosts"), mustRead(t, x.s.KnownHosts), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out, err := x.jgit(t, home, dir, "clone", x.s.URL(x.repo), "c")
	if err == nil {
		// A JGit that can negotiate: hold it to the same checks.
		c := filepath.Join(dir, "c")
		x.checkClone(t, c, false)
		x.advance(t, 1)
		if out, err := x.jgit(t, home, c, "fetch", "origin"); err != nil {
			t.Fatalf("jgit fetch: %v\n%s", err, out)
		}
		x.checkClone(t, c, false)
		return
	}
	if !strings.Contains(out, "Algorithm negotiation fail") {
		t.Fatalf("jgit clone failed other than by a clean algorithm refusal: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "c", ".git", "objects", "pack")); err == nil {
		if n, _ := os.ReadDir(filepath.Join(dir, "c", ".git", "objects", "pack")); len(n) > 0 {
			t.Errorf("a refused jgit clone left a pack behind")
		}
	}
	// The server is unharmed: the next client clones as usual.
	x.s.MustGit(x.k, dir, "clone", "-q", x.s.URL(x.repo), "after")
	x.checkClone(t, filepath.Join(dir, "after"), true)
}

// TestInteropPushModes: --atomic (one refused ref refuses all) and push
// options over SSH, with the git CLI asking for either protocol (push
// itself is always v0).
func TestInteropPushModes(t *testing.T) {
	for _, proto := range []string{"0", "2"} {
		t.Run("protocol.version="+proto, func(t *testing.T) {
			x := newInterop(t)
			Commits(t, x.work, "atomic", 1)
			before := x.serverRefs(t)
			// The server refuses a tree on a branch; the client does not
			// check, so the refusal is the server's.
			out, err := x.s.Git(x.k, x.work, "-c", "protocol.version="+proto, "push", "--atomic", x.s.URL(x.repo),
				"main", "HEAD^{tree}:refs/heads/tree")
			if err == nil {
				t.Fatalf("atomic push with a refused ref succeeded:\n%s", out)
			}
			for _, want := range []string{"tree (non-commit object to a branch)", "main (atomic transaction failed)"} {
				if !strings.Contains(out, want) {
					t.Errorf("no %q in:\n%s", want, out)
				}
			}
			if got := x.serverRefs(t); got != before {
				t.Errorf("a refused atomic push moved refs:\n%s\nbefore:\n%s", got, before)
			}
			x.s.MustGit(x.k, x.work, "-c", "protocol.version="+proto, "push", "--atomic", "-o", "ci.skip",
				"-o", "note=two words", x.s.URL(x.repo), "main", "main:refs/heads/copy")
			if x.serverRef(t, "refs/heads/copy") != x.serverRef(t, "refs/heads/main") {
				t.Errorf("atomic push did not move both refs")
			}
			x.checkPushed(t, x.work)
		})
	}
}
