package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	gossh "golang.org/x/crypto/ssh"

	main "gatehouse/cmd/gatehouse"
	"gatehouse/repos/pktline"
)

// lfsClient is one person's git with git-lfs installed in a home folder
// of their own, talking to the server with their key.
type lfsClient struct {
	s    *Server
	key  *Key
	home string
}

func newLFSClient(t *testing.T, s *Server, k *Key) *lfsClient {
	t.Helper()
	if _, err := exec.LookPath("git-lfs"); err != nil {
		t.Fatal("end-to-end LFS tests need git-lfs on PATH (./test.sh installs it)")
	}
	c := &lfsClient{s: s, key: k, home: t.TempDir()}
	c.must(t, "", "lfs", "install", "--skip-repo")
	return c
}

func (c *lfsClient) env() []string {
	// gitEnv sets a fresh HOME; the last HOME wins.
	return append(c.s.gitEnv(c.key), "HOME="+c.home, "GIT_TRACE="+os.Getenv("LFS_TEST_TRACE"))
}

// git runs git (and through it git-lfs) in dir.
func (c *lfsClient) git(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	return c.gitEnv(t, dir, nil, args...)
}

func (c *lfsClient) gitEnv(t *testing.T, dir string, extra []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(c.env(), extra...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (c *lfsClient) must(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := c.git(t, dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// randomFile writes n random bytes to dir/name and returns them.
func randomFile(t *testing.T, dir, name string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func oidOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// lfsObject is where the server keeps object oid of repo.
func (s *Server) lfsObject(repo, oid string) string {
	return filepath.Join(s.RepoDir(repo), "lfs", "objects", oid[0:2], oid[2:4], oid)
}

func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: %d bytes, want the %d uploaded (starts %q)", path, len(got), len(want), got[:min(len(got), 60)])
	}
}

func isPointer(t *testing.T, path string) bool {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.HasPrefix(got, []byte("version https://git-lfs.github.com/spec/v1"))
}

func auditActions(t *testing.T, s *Server, repo string) []map[string]any {
	t.Helper()
	var events []map[string]any
	if err := json.Unmarshal([]byte(s.MustCLI("audit", "--repo", repo, "--json")), &events); err != nil {
		t.Fatal(err)
	}
	return events
}

func countAudit(events []map[string]any, action, detailPart string) int {
	n := 0
	for _, e := range events {
		d, _ := e["detail"].(string)
		if e["action"] == action && strings.Contains(d, detailPart) {
			n++
		}
	}
	return n
}

// TestLFSRoundTrip pushes LFS files with the real git-lfs client, clones
// them back byte-identical, downloads only some (lfs.fetchinclude), and
// carries them along a rename and away with a removal.
func TestLFSRoundTrip(t *testing.T) {
	s := MustRunMain(t, func(c *main.Config) { c.HTTPAddr = "127.0.0.1:0" })
	alice := newLFSClient(t, s, s.User("alice"))
	s.MustCLI("repo", "create", "alice/art")

	work := t.TempDir()
	run(t, work, "git", "init", "-q", "-b", "main")
	alice.must(t, work, "lfs", "track", "*.bin")
	big := randomFile(t, work, "big.bin", 5<<20+123)
	small := randomFile(t, work, "small.bin", 70<<10)
	os.WriteFile(filepath.Join(work, "README"), []byte("art\n"), 0o644)
	alice.must(t, work, "add", ".")
	alice.must(t, work, "commit", "-q", "-m", "assets")
	out := alice.must(t, work, "push", s.URL("alice/art"), "main")
	t.Logf("push:\n%s", out)

	// On the server: the objects under the repository, pointers in Git.
	sameFile(t, s.lfsObject("alice/art", oidOf(big)), big)
	sameFile(t, s.lfsObject("alice/art", oidOf(small)), small)
	s.Fsck("alice/art")
	if v := s.RepoJSON("alice/art")["lfs_size"]; v != float64(len(big)+len(small)) {
		t.Errorf("repo show lfs_size = %v, want %d", v, len(big)+len(small))
	}
	if out := s.MustCLI("repo", "show", "alice/art"); !regexp.MustCompile(fmt.Sprintf(`lfs size:\s+%d bytes`, len(big)+len(small))).MatchString(out) {
		t.Errorf("repo show:\n%s", out)
	}

	// A second push of the same objects stores nothing again: one
	// upload each in the audit log.
	alice.must(t, work, "lfs", "push", "--all", s.URL("alice/art"))
	if ev := auditActions(t, s, "alice/art"); countAudit(ev, "lfs.upload", oidOf(big)) != 1 || countAudit(ev, "lfs.upload", oidOf(small)) != 1 {
		t.Errorf("audit has no lfs.upload entry for each object: %v", ev)
	}

	t.Run("clone", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "c")
		alice.must(t, "", "clone", s.URL("alice/art"), dir)
		sameFile(t, filepath.Join(dir, "big.bin"), big)
		sameFile(t, filepath.Join(dir, "small.bin"), small)
		// The metrics count the bytes both ways.
		for _, dir := range []string{"received", "sent"} {
			if n := lfsBytes(t, s, dir); n < float64(len(big)+len(small)) {
				t.Errorf("lfs-transfer bytes %s: %v, want at least %d", dir, n, len(big)+len(small))
			}
		}
	})

	t.Run("fetchinclude", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "c")
		if _, err := alice.gitEnv(t, "", []string{"GIT_LFS_SKIP_SMUDGE=1"}, "clone", s.URL("alice/art"), dir); err != nil {
			t.Fatal(err)
		}
		if !isPointer(t, filepath.Join(dir, "big.bin")) {
			t.Fatal("GIT_LFS_SKIP_SMUDGE clone downloaded big.bin")
		}
		alice.must(t, dir, "config", "lfs.fetchinclude", "small.bin")
		alice.must(t, dir, "lfs", "pull")
		sameFile(t, filepath.Join(dir, "small.bin"), small)
		if !isPointer(t, filepath.Join(dir, "big.bin")) {
			t.Error("big.bin was downloaded despite lfs.fetchinclude")
		}
		alice.must(t, dir, "config", "--unset", "lfs.fetchinclude")
		alice.must(t, dir, "lfs", "pull")
		sameFile(t, filepath.Join(dir, "big.bin"), big)
	})

	t.Run("fetch", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "c")
		alice.must(t, "", "clone", s.URL("alice/art"), dir)
		more := randomFile(t, work, "more.bin", 2<<20)
		alice.must(t, work, "add", "more.bin")
		alice.must(t, work, "commit", "-q", "-m", "more")
		alice.must(t, work, "push", s.URL("alice/art"), "main")
		alice.must(t, dir, "pull", "-q", "origin", "main")
		sameFile(t, filepath.Join(dir, "more.bin"), more)
	})

	t.Run("rename and remove", func(t *testing.T) {
		s.MustCLI("repo", "rename", "alice/art", "alice/art2")
		dir := filepath.Join(t.TempDir(), "c")
		alice.must(t, "", "clone", s.URL("alice/art2"), dir)
		sameFile(t, filepath.Join(dir, "big.bin"), big)
		if _, err := os.Stat(s.lfsObject("alice/art", oidOf(big))); !os.IsNotExist(err) {
			t.Errorf("object still under the old name: %v", err)
		}
		s.MustCLI("repo", "rm", "alice/art2")
		if _, err := os.Stat(s.lfsObject("alice/art2", oidOf(big))); !os.IsNotExist(err) {
			t.Errorf("object left after repo rm: %v", err)
		}
		// A new repository by the old name serves nothing of the old one.
		s.MustCLI("repo", "create", "alice/art2")
		raw := newRawLFS(t, s, s.keyOf(alice), "alice/art2", "download")
		defer raw.close()
		raw.send("get-object "+oidOf(big), []string{"size=" + fmt.Sprint(len(big))}, false, nil)
		if st, _, lines := raw.status(); st != 404 {
			t.Errorf("get-object of a removed repository's object: status %d %q", st, lines)
		}
	})
}

// keyOf is the key an lfsClient uses.
func (s *Server) keyOf(c *lfsClient) *Key { return c.key }

// TestLFSAccessAndLocks checks who may do what: a write collaborator
// locks and is refused another's lock, an admin breaks it, a read-only
// collaborator downloads but may neither upload nor lock, and an outsider
// is told exactly what a missing repository tells.
func TestLFSAccessAndLocks(t *testing.T) {
	s := MustRunMain(t)
	alice := newLFSClient(t, s, s.User("alice"))
	bob := newLFSClient(t, s, s.User("bob"))
	carol := newLFSClient(t, s, s.User("carol"))
	dave := newLFSClient(t, s, s.User("dave"))
	root := newLFSClient(t, s, s.User("root", "--admin"))
	s.MustCLI("repo", "create", "alice/game")
	s.MustCLI("collab", "add", "alice/game", "bob", "write")
	s.MustCLI("collab", "add", "alice/game", "carol", "read")

	work := t.TempDir()
	run(t, work, "git", "init", "-q", "-b", "main")
	alice.must(t, work, "lfs", "track", "--lockable", "*.psd")
	level := randomFile(t, work, "level.psd", 1<<20)
	randomFile(t, work, "hero.psd", 300<<10)
	alice.must(t, work, "add", ".")
	alice.must(t, work, "commit", "-q", "-m", "art")
	alice.must(t, work, "push", "-u", s.URL("alice/game"), "main")

	clone := func(c *lfsClient) string {
		dir := filepath.Join(t.TempDir(), "c")
		c.must(t, "", "clone", s.URL("alice/game"), dir)
		return dir
	}
	aliceDir, bobDir, carolDir, rootDir := clone(alice), clone(bob), clone(carol), clone(root)
	sameFile(t, filepath.Join(carolDir, "level.psd"), level)

	// alice locks; everyone with read sees it, with its owner.
	if out := alice.must(t, aliceDir, "lfs", "lock", "level.psd"); !strings.Contains(out, "Locked level.psd") {
		t.Fatalf("lock: %s", out)
	}
	for _, c := range []struct {
		name string
		cl   *lfsClient
		dir  string
	}{{"bob", bob, bobDir}, {"carol", carol, carolDir}} {
		out := c.cl.must(t, c.dir, "lfs", "locks")
		if !strings.Contains(out, "level.psd") || !strings.Contains(out, "alice") {
			t.Errorf("%s's lfs locks: %q", c.name, out)
		}
	}
	out := alice.must(t, aliceDir, "lfs", "locks", "--verify")
	if !strings.Contains(out, "O level.psd") {
		t.Errorf("alice's lfs locks --verify does not show her lock as hers: %q", out)
	}
	// bob may not lock what alice holds, nor unlock it.
	if out, err := bob.git(t, bobDir, "lfs", "lock", "level.psd"); err == nil || !strings.Contains(out, "exists") {
		t.Errorf("bob locked a locked file: %v\n%s", err, out)
	}
	if out, err := bob.git(t, bobDir, "lfs", "unlock", "--force", "level.psd"); err == nil || !strings.Contains(out, "only a repository admin") {
		t.Errorf("bob broke alice's lock: %v\n%s", err, out)
	}
	// bob locks and unlocks his own.
	bob.must(t, bobDir, "lfs", "lock", "hero.psd")
	bob.must(t, bobDir, "lfs", "unlock", "hero.psd")
	// carol (read) may not lock: her upload session is refused.
	// (git-lfs 3.3 then falls back to git-lfs-authenticate, and shows
	// only its exit status.)
	if out, err := carol.git(t, carolDir, "lfs", "lock", "hero.psd"); err == nil {
		t.Errorf("read-only carol locked:\n%s", out)
	}
	if ev := auditActions(t, s, "alice/game"); countAudit(ev, "refused", "git-lfs-transfer: write access denied") == 0 {
		t.Errorf("carol's refused lock is not in the audit log: %v", ev)
	}
	if out := alice.must(t, aliceDir, "lfs", "locks"); strings.Contains(out, "hero.psd") {
		t.Errorf("carol's refused lock is listed: %q", out)
	}
	// A site admin breaks alice's lock.
	if out := root.must(t, rootDir, "lfs", "unlock", "--force", "level.psd"); !strings.Contains(out, "Unlocked level.psd") {
		t.Errorf("admin unlock: %s", out)
	}
	if out := alice.must(t, aliceDir, "lfs", "locks"); strings.Contains(out, "level.psd") {
		t.Errorf("lock still listed after the admin broke it: %q", out)
	}
	// alice locks again and unlocks her own.
	alice.must(t, aliceDir, "lfs", "lock", "level.psd")
	alice.must(t, aliceDir, "lfs", "unlock", "level.psd")
	ev := auditActions(t, s, "alice/game")
	if countAudit(ev, "lfs.lock", "level.psd") != 2 || countAudit(ev, "lfs.unlock", "forced, held by alice") != 1 || countAudit(ev, "lfs.unlock", "hero.psd") != 1 {
		t.Errorf("audit lacks lock entries: %v", ev)
	}

	// carol may not upload: neither git push (LFS goes first) nor git lfs push.
	randomFile(t, carolDir, "new.psd", 200<<10)
	carol.must(t, carolDir, "add", "new.psd")
	carol.must(t, carolDir, "commit", "-q", "-m", "new")
	if out, err := carol.git(t, carolDir, "push", "origin", "main"); err == nil || !strings.Contains(out, "you may read alice/game but not push to it") {
		t.Errorf("read-only carol pushed: %v\n%s", err, out)
	}
	if n := countFiles(t, filepath.Join(s.RepoDir("alice/game"), "lfs", "objects")); n != 2 {
		t.Errorf("%d objects stored, want the 2 alice pushed", n)
	}

	// dave (no access) gets the missing-repository message, word for word.
	_, missing, code := s.SSH(s.keyOf(dave), nil, "git-lfs-transfer alice/nothing download")
	if code == 0 || !strings.Contains(missing, "repository alice/nothing "+notFound) {
		t.Fatalf("missing repository: exit %d, %q", code, missing)
	}
	for _, op := range []string{"download", "upload"} {
		_, stderr, code := s.SSH(s.keyOf(dave), nil, "git-lfs-transfer alice/game "+op)
		if code == 0 || strings.ReplaceAll(stderr, "alice/game", "alice/nothing") != missing {
			t.Errorf("outsider %s: exit %d, %q; want what a missing repository says, %q", op, code, stderr, missing)
		}
	}
	if out, err := dave.git(t, "", "clone", s.URL("alice/game"), filepath.Join(t.TempDir(), "c")); err == nil || !strings.Contains(out, notFound) {
		t.Errorf("outsider cloned: %v\n%s", err, out)
	}
	// git-lfs-authenticate says what this server speaks.
	if _, stderr, code := s.SSH(s.keyOf(alice), nil, "git-lfs-authenticate alice/game download"); code == 0 || !strings.Contains(stderr, "over SSH only") {
		t.Errorf("git-lfs-authenticate: exit %d, %q", code, stderr)
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

// TestLFSLimits: an object over --max-lfs-object-size, and objects over
// --lfs-quota, are refused with a message the client shows.
func TestLFSLimits(t *testing.T) {
	s := MustRunMain(t, func(c *main.Config) {
		c.MaxLFSObjectSize = 1 << 20
		c.LFSQuota = 2 << 20
	})
	alice := newLFSClient(t, s, s.User("alice"))
	s.MustCLI("repo", "create", "alice/r")
	work := t.TempDir()
	run(t, work, "git", "init", "-q", "-b", "main")
	alice.must(t, work, "lfs", "track", "*.bin")
	randomFile(t, work, "huge.bin", 1<<20+1)
	alice.must(t, work, "add", ".")
	alice.must(t, work, "commit", "-q", "-m", "huge")
	out, err := alice.git(t, work, "push", s.URL("alice/r"), "main")
	if err == nil || !strings.Contains(out, "this server takes objects of at most 1048576 bytes") {
		t.Errorf("push over --max-lfs-object-size: %v\n%s", err, out)
	}
	alice.must(t, work, "rm", "-q", "huge.bin")
	for i := 0; i < 3; i++ {
		randomFile(t, work, fmt.Sprintf("part%d.bin", i), 800<<10)
	}
	alice.must(t, work, "add", ".")
	alice.must(t, work, "commit", "-q", "--amend", "-m", "parts")
	out, err = alice.git(t, work, "push", s.URL("alice/r"), "main")
	if err == nil || !strings.Contains(out, "over the repository's LFS quota") {
		t.Errorf("push over --lfs-quota: %v\n%s", err, out)
	}
	if n := countFiles(t, filepath.Join(s.RepoDir("alice/r"), "lfs", "objects")); n != 0 {
		t.Errorf("%d objects stored by refused pushes", n)
	}
}

// rawLFS speaks git-lfs-transfer by hand over a Go SSH session.
type rawLFS struct {
	t     *testing.T
	c     *gossh.Client
	sess  *gossh.Session
	in    io.WriteCloser
	r     *pktline.Reader
	w     *pktline.Writer
	caps  []string
	order []string
}

func newRawLFS(t *testing.T, s *Server, k *Key, repo, op string) *rawLFS {
	t.Helper()
	c, err := s.dial(t, gossh.PublicKeys(k.Signer))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := sess.StdinPipe()
	outp, _ := sess.StdoutPipe()
	var stderr bytes.Buffer
	sess.Stderr = &stderr
	if err := sess.Start("git-lfs-transfer " + repo + " " + op); err != nil {
		t.Fatal(err)
	}
	l := &rawLFS{t: t, c: c, sess: sess, in: in, r: pktline.NewReader(outp), w: pktline.NewWriter(in)}
	for {
		k, line, err := l.r.ReadLine()
		if err != nil {
			t.Fatalf("capabilities: %v (stderr %q)", err, stderr.String())
		}
		if k == pktline.FlushPkt {
			break
		}
		l.caps = append(l.caps, line)
	}
	l.send("version 1", nil, false, nil)
	if st, _, _ := l.status(); st != 200 {
		t.Fatalf("version 1: status %d", st)
	}
	return l
}

// send writes a request: a command, arguments, and when delim is set a
// delimiter and body packets.
func (l *rawLFS) send(cmd string, args []string, delim bool, body [][]byte) {
	l.w.WriteString(cmd + "\n")
	for _, a := range args {
		l.w.WriteString(a + "\n")
	}
	if delim {
		l.w.Delim()
		for _, b := range body {
			l.w.Write(b)
		}
	}
	l.w.Flush()
	if err := l.w.Err(); err != nil {
		l.t.Fatalf("send %s: %v", cmd, err)
	}
}

// status reads a response: its status, arguments and body lines.
func (l *rawLFS) status() (int, []string, []string) {
	l.t.Helper()
	var code int
	var args, lines []string
	body := false
	for {
		k, line, err := l.r.ReadLine()
		if err != nil {
			l.t.Fatalf("read response: %v", err)
		}
		switch {
		case k == pktline.FlushPkt:
			return code, args, lines
		case k == pktline.DelimPkt:
			body = true
		case code == 0:
			if _, err := fmt.Sscanf(line, "status %d", &code); err != nil {
				l.t.Fatalf("want a status line, got %q", line)
			}
		case body:
			lines = append(lines, line)
		default:
			args = append(args, line)
		}
	}
}

func (l *rawLFS) close() {
	l.in.Close()
	l.sess.Close()
	l.c.Close()
}

// TestLFSRawProtocol drives the protocol by hand: unknown commands and
// arguments are refused and change nothing, a wrong oid stores nothing,
// an interrupted upload leaves nothing visible, and locks page with a
// cursor.
func TestLFSRawProtocol(t *testing.T) {
	s := MustRunMain(t)
	aliceKey := s.User("alice")
	s.MustCLI("repo", "create", "alice/r")
	readKey, writeKey := NewKey(t), NewKey(t)
	s.MustCLI("deploy-key", "add", "alice/r", readKey.Public)
	s.MustCLI("deploy-key", "add", "alice/r", writeKey.Public, "--write")

	// An operation the server does not know is refused outright.
	if _, stderr, code := s.SSH(aliceKey, nil, "git-lfs-transfer alice/r delete"); code == 0 || !strings.Contains(stderr, "unknown git-lfs-transfer operation") {
		t.Errorf("unknown operation: exit %d, %q", code, stderr)
	}
	if _, stderr, code := s.SSH(aliceKey, nil, "git-lfs-transfer alice/r"); code == 0 || !strings.Contains(stderr, "usage") {
		t.Errorf("missing operation: exit %d, %q", code, stderr)
	}

	l := newRawLFS(t, s, aliceKey, "alice/r", "upload")
	defer l.close()
	if strings.Join(l.caps, ",") != "version=1,locking" {
		t.Errorf("capabilities %q", l.caps)
	}
	data := make([]byte, 200<<10)
	rand.Read(data)
	oid := oidOf(data)
	chunks := func(b []byte) [][]byte {
		var out [][]byte
		for len(b) > 0 {
			n := min(len(b), 32768)
			out = append(out, b[:n])
			b = b[n:]
		}
		return out
	}
	steps := []struct {
		name  string
		cmd   string
		args  []string
		delim bool
		body  [][]byte
		want  int
		msg   string
	}{
		{"unknown command", "frobnicate now", nil, false, nil, 400, "unknown command"},
		{"unknown command with a body", "frobnicate", []string{"x=1"}, true, [][]byte{[]byte("junk")}, 400, "unknown command"},
		{"batch with an unknown argument", "batch", []string{"transfer=ssh", "yolo=1"}, true, [][]byte{[]byte(oid + " 10\n")}, 400, "unknown argument \"yolo\""},
		{"batch with a repeated argument", "batch", []string{"refname=refs/heads/main", "refname=refs/heads/x"}, true, nil, 400, "repeated"},
		{"batch with an unknown object key", "batch", nil, true, [][]byte{[]byte(oid + " 10 colour=red\n")}, 400, "malformed object line"},
		{"batch with a bad ref", "batch", []string{"refname=refs/heads/a..b"}, true, nil, 400, "invalid ref name"},
		{"batch with another hash", "batch", []string{"hash-algo=sha1"}, true, nil, 409, "sha256"},
		{"put-object with an unknown argument", "put-object " + oid, []string{"size=" + fmt.Sprint(len(data)), "token=abc"}, true, chunks(data), 400, "unknown argument \"token\""},
		{"put-object of a bad oid", "put-object ../../etc/passwd", []string{"size=1"}, true, [][]byte{{'x'}}, 400, "invalid oid"},
		{"get-object in an upload session", "get-object " + oid, nil, false, nil, 403, "download session"},
		{"unlock with an unknown argument", "unlock 1", []string{"please=1"}, false, nil, 400, "unknown argument"},
		{"list-lock with a bad cursor", "list-lock", []string{"cursor=x"}, false, nil, 400, "invalid cursor"},
		{"lock without a path", "lock", nil, false, nil, 400, "path"},
		// A wrong oid: the data is someone else's; nothing is stored.
		{"put-object with the wrong oid", "put-object " + strings.Repeat("ab", 32), []string{"size=" + fmt.Sprint(len(data))}, true, chunks(data), 400, "does not match"},
		{"put-object with the wrong size", "put-object " + oid, []string{"size=" + fmt.Sprint(len(data)-1)}, true, chunks(data), 400, "does not match"},
		{"verify-object of nothing", "verify-object " + oid, []string{"size=" + fmt.Sprint(len(data))}, false, nil, 404, "not found"},
		{"batch upload", "batch", []string{"transfer=ssh", "hash-algo=sha256", "refname=refs/heads/main"}, true, [][]byte{[]byte(oid + " " + fmt.Sprint(len(data)) + "\n")}, 200, ""},
		{"put-object", "put-object " + oid, []string{"size=" + fmt.Sprint(len(data))}, true, chunks(data), 200, ""},
		{"verify-object", "verify-object " + oid, []string{"size=" + fmt.Sprint(len(data))}, false, nil, 200, ""},
	}
	for _, st := range steps {
		l.send(st.cmd, st.args, st.delim, st.body)
		code, args, lines := l.status()
		if code != st.want || st.msg != "" && (len(lines) == 0 || !strings.Contains(lines[0], st.msg)) {
			t.Errorf("%s: status %d %q %q, want %d %q", st.name, code, args, lines, st.want, st.msg)
		}
		if st.name == "batch upload" && (len(lines) != 1 || lines[0] != oid+" "+fmt.Sprint(len(data))+" upload") {
			t.Errorf("batch upload: %q", lines)
		}
		if strings.HasPrefix(st.name, "put-object with the wrong") {
			if n := countFiles(t, filepath.Join(s.RepoDir("alice/r"), "lfs")); n != 0 {
				t.Errorf("%s: %d files left in the repository's lfs folder", st.name, n)
			}
		}
	}
	sameFile(t, s.lfsObject("alice/r", oid), data)

	// Locks, a page at a time, with ownership.
	for _, p := range []string{"a.psd", "b.psd", "c d.psd"} {
		l.send("lock", []string{"path=" + p, "refname=refs/heads/main"}, false, nil)
		if code, args, _ := l.status(); code != 201 || len(args) != 4 {
			t.Fatalf("lock %s: %d %q", p, code, args)
		}
	}
	var paths []string
	cursor := ""
	for pages := 0; pages < 5; pages++ {
		args := []string{"limit=2", "refspec=refs/heads/main"}
		if cursor != "" {
			args = append(args, "cursor="+cursor)
		}
		l.send("list-lock", args, false, nil)
		code, rargs, lines := l.status()
		if code != 200 {
			t.Fatalf("list-lock: %d %q", code, lines)
		}
		for _, line := range lines {
			f := strings.SplitN(line, " ", 3)
			if f[0] == "path" {
				paths = append(paths, f[2])
			}
			if f[0] == "owner" && f[2] != "ours" {
				t.Errorf("alice's lock listed as %q", f[2])
			}
		}
		cursor = ""
		for _, a := range rargs {
			cursor = strings.TrimPrefix(a, "next-cursor=")
		}
		if cursor == "" {
			break
		}
	}
	if strings.Join(paths, ",") != "a.psd,b.psd,c d.psd" {
		t.Errorf("paged locks: %q", paths)
	}
	l.send("quit", nil, false, nil)
	if code, _, _ := l.status(); code != 200 {
		t.Errorf("quit: %d", code)
	}

	// The read-only deploy key downloads, lists locks, and may not upload.
	d := newRawLFS(t, s, readKey, "alice/r", "download")
	d.send("batch", []string{"transfer=ssh"}, true, [][]byte{[]byte(oid + " " + fmt.Sprint(len(data)) + "\n"), []byte(strings.Repeat("cd", 32) + " 5\n")})
	if code, _, lines := d.status(); code != 200 || len(lines) != 2 || !strings.HasSuffix(lines[0], " download") || !strings.HasSuffix(lines[1], " noop") {
		t.Errorf("download batch: %d %q", code, lines)
	}
	d.send("get-object "+oid, []string{"size=" + fmt.Sprint(len(data))}, false, nil)
	var got []byte
	inData := false
	for {
		k, b, err := d.r.Read()
		if err != nil {
			t.Fatal(err)
		}
		if k == pktline.FlushPkt {
			break
		}
		switch {
		case k == pktline.DelimPkt:
			inData = true
		case inData:
			got = append(got, b...)
		case strings.HasPrefix(string(b), "status ") && string(b) != "status 200\n":
			t.Fatalf("get-object: %q", b)
		}
	}
	if !bytes.Equal(got, data) {
		t.Errorf("get-object: %d bytes, want %d", len(got), len(data))
	}
	d.send("lock", []string{"path=x"}, false, nil)
	if code, _, _ := d.status(); code != 403 {
		t.Errorf("lock in a download session: %d", code)
	}
	d.close()
	if _, stderr, code := s.SSH(readKey, nil, "git-lfs-transfer alice/r upload"); code == 0 || !strings.Contains(stderr, "not push to it") {
		t.Errorf("read-only deploy key upload: exit %d %q", code, stderr)
	}

	// The write deploy key uploads and locks, as itself.
	w := newRawLFS(t, s, writeKey, "alice/r", "upload")
	small := []byte("deploy key data")
	w.send("put-object "+oidOf(small), []string{fmt.Sprintf("size=%d", len(small))}, true, [][]byte{small})
	if code, _, lines := w.status(); code != 200 {
		t.Errorf("write deploy key put-object: %d %q", code, lines)
	}
	w.send("lock", []string{"path=w.psd"}, false, nil)
	if code, args, _ := w.status(); code != 201 || !strings.Contains(strings.Join(args, " "), "ownername=deploy-key:SHA256:") {
		t.Errorf("write deploy key lock: %d %q", code, args)
	}
	w.close()
	sameFile(t, s.lfsObject("alice/r", oidOf(small)), small)

	// An upload cut midway leaves nothing visible, and nothing behind.
	u := newRawLFS(t, s, aliceKey, "alice/r", "upload")
	big := make([]byte, 3<<20)
	rand.Read(big)
	u.w.WriteString("put-object " + oidOf(big) + "\n")
	u.w.WriteString(fmt.Sprintf("size=%d\n", len(big)))
	u.w.Delim()
	for _, c := range chunks(big[:len(big)/2]) {
		u.w.Write(c)
	}
	time.Sleep(200 * time.Millisecond)
	u.close()
	waitFor(t, func() bool {
		return countFiles(t, filepath.Join(s.RepoDir("alice/r"), "lfs", "incoming")) == 0
	}, "the cut upload's temporary file to go")
	if _, err := os.Stat(s.lfsObject("alice/r", oidOf(big))); !os.IsNotExist(err) {
		t.Errorf("cut upload visible: %v", err)
	}
}

// lfsBytes reads gatehouse_git_bytes_total for lfs-transfer in direction
// from the server's /metrics.
func lfsBytes(t *testing.T, s *Server, direction string) float64 {
	t.Helper()
	res, err := http.Get("http://" + s.HTTP.ListenAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`gatehouse_git_bytes_total\{direction="` + direction + `",service="lfs-transfer"\} (\S+)`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no lfs-transfer bytes %s in the metrics", direction)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestLFSPanelSize pushes LFS objects with the real client and finds
// their size on the repository's page in the panel, in headless
// Chromium, next to the size on disk.
func TestLFSPanelSize(t *testing.T) {
	s, base := MustRunWeb(t)
	alice := newLFSClient(t, s, s.User("alice"))
	s.MustCLI("repo", "create", "alice/art")
	b := NewBrowser(t)
	b.Login(s.LoginLink("alice", base))

	b.Do(chromedp.Navigate(base+"/repos/alice/art"), chromedp.WaitVisible(chromedp.CSS("#clone-url")))
	if got := b.Text("#lfs-size"); got != "0 B in Git LFS" {
		t.Errorf("LFS size of an empty repository: %q", got)
	}

	work := t.TempDir()
	run(t, work, "git", "init", "-q", "-b", "main")
	alice.must(t, work, "lfs", "track", "*.bin")
	randomFile(t, work, "a.bin", 2<<20)
	randomFile(t, work, "b.bin", 1<<20)
	alice.must(t, work, "add", ".")
	alice.must(t, work, "commit", "-q", "-m", "assets")
	alice.must(t, work, "push", s.URL("alice/art"), "main")

	b.Do(chromedp.Navigate(base+"/repos/alice/art"), chromedp.WaitVisible(chromedp.CSS("#clone-url")))
	b.Shot("repo-lfs")
	if got := b.Text("#lfs-size"); got != "3.0 MiB in Git LFS" {
		t.Errorf("LFS size after pushing 3 MiB of LFS objects: %q", got)
	}
	if got := b.Text("main"); !regexp.MustCompile(`\d\.\d MiB on disk`).MatchString(got) {
		t.Errorf("size on disk does not count the LFS objects:\n%s", got)
	}
}
