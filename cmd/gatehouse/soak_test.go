package main_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// The soak: the real binary serving about nine git clients at once
// (pushers on their own branches, two pushers racing for one branch,
// cloners and fetchers over protocol v2 and v0, a 20 MB push whose client
// is killed at random moments) while `gatehouse repo gc` runs every few
// seconds and the server is stopped every ~30 s by SIGTERM or SIGKILL and
// started again on the same port and data. Just before each SIGTERM a
// few `git ls-remote` arrive, two over a slow link, so that some are in
// their handshake when it comes; before some repacks the record of packs
// replaced earlier is aged past the 15-minute grace, so that repacks also
// delete packs under running reads and pushes. It is the acceptance test
// for "pushes, reads, repacks and shutdowns never make each other fail".
//
// It runs when GATEHOUSE_SOAK is a duration (.ci/run sets it; so does
// bench/soak.sh). What it requires:
//   - no read and no push fails that started and ended while the server
//     was up (an operation overlapping a stop or a restart is excluded,
//     except one the server had accepted before a SIGTERM: that one must
//     be let finish within the grace period);
//   - every acknowledged push is still there: its branch is at the pushed
//     commit or a descendant;
//   - every repository is `git fsck --full` clean, `gatehouse check`
//     finds nothing, and a repack runs once the clients are done;
//   - SIGTERM: exit 0 within the grace period (and 5 s to close);
//   - once idle (clients stopped, a repack run), nothing temporary under
//     DATA/repos: no quarantine, no temporary file, no lock file older
//     than the last restart (or younger and still there 30 s on);
//   - no level=ERROR line in the server log about a client going away
//     (all ERROR lines are listed).
//
// A table of operations, failures (with their first error line) and the
// peak RSS of each server lifetime is printed, and kept with the server
// log in $GATEHOUSE_ARTIFACTS/soak (default artifacts/soak).

const (
	soakGrace      = 10 * time.Second // --shutdown-grace
	soakGraceSlack = 5 * time.Second  // closing after the grace: repacks cancelled, database closed
	soakOpTimeout  = 90 * time.Second // one client operation, killed past it (and failed)
	soakBigSize    = 20 << 20         // bytes of random data in each big push
	soakIdleWait   = 30 * time.Second // for temporary files to go once the clients stop
)

// soakKinds are the operations, in the table's order.
// ls-remote is only run by arrivals, around a SIGTERM.
var soakKinds = []string{"push", "race-push", "race-fetch", "clone-v2", "clone-v0", "fetch-v2", "fetch-v0", "big-push", "gc", "ls-remote"}

type soak struct {
	t       *testing.T
	dur     time.Duration
	dir     string // scratch: keys, client repositories
	bin     string
	data    string
	port    string
	art     string // artifacts: server log, report
	logPath string
	home    string
	kh      string
	keys    map[string]string // user -> private key file
	env     map[string][]string
	t0      time.Time

	done atomic.Bool
	wg   sync.WaitGroup
	aged atomic.Int32 // superseded-pack records made to look 15 minutes old

	lives []*soakLife // only the test goroutine touches these

	mu       sync.Mutex
	ops      []soakOp
	acks     []soakAck
	problems []string
}

// soakLife is one run of the server process.
type soakLife struct {
	n      int
	cmd    *exec.Cmd
	up     time.Time // the port answered with an SSH banner
	stop   time.Time // signal sent (or exit noticed, for a crash)
	how    string    // SIGTERM, SIGKILL, crash; "" while running
	note   string    // what the server was doing when killed
	exited chan struct{}
	exit   time.Time // set before exited is closed
	code   int
	hwmKB  int64
	cut    bool // SIGTERM's grace period ran out: connections were cut
}

// soakOp is one client operation.
type soakOp struct {
	kind, client string
	start, end   time.Time
	outcome      string // ok, lost (a race), busy (gc), killed (on purpose), fail
	banner       bool   // ssh got the server's version string: the server accepted it
	out          string // output without ssh's debug lines
}

type soakAck struct{ repo, branch, sha string }

type soakRun struct {
	start, end     time.Time
	out            string
	err            error
	banner, killed bool
	timedOut       bool
}

func TestSoak(t *testing.T) {
	v := os.Getenv("GATEHOUSE_SOAK")
	if v == "" {
		t.Skip("the soak runs with GATEHOUSE_SOAK=DURATION (.ci/run and bench/soak.sh set it)")
	}
	dur, err := time.ParseDuration(v)
	if err != nil || dur < 30*time.Second || dur > time.Hour {
		t.Fatalf("GATEHOUSE_SOAK=%q: want a duration from 30s to 1h", v)
	}
	s := &soak{t: t, dur: dur, dir: t.TempDir(), keys: map[string]string{}, env: map[string][]string{}}
	s.setup()
	s.run()
	s.checks()
	s.report()
}

func (s *soak) logf(format string, args ...any) {
	fmt.Printf("soak %6.1fs: %s\n", time.Since(s.t0).Seconds(), fmt.Sprintf(format, args...))
}

func (s *soak) problem(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
}

// ---------------------------------------------------------------- setup

func (s *soak) setup() {
	t := s.t
	s.t0 = time.Now()
	s.art = os.Getenv("GATEHOUSE_ARTIFACTS")
	if s.art == "" {
		s.art = filepath.Join("..", "..", "artifacts")
	}
	s.art = filepath.Join(s.art, "soak")
	if err := os.MkdirAll(s.art, 0o755); err != nil {
		t.Fatal(err)
	}
	s.logPath = filepath.Join(s.art, "server.log")
	os.Remove(s.logPath)

	s.bin = filepath.Join(s.dir, "gatehouse")
	if out, err := exec.Command("go", "build", "-o", s.bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	s.data = filepath.Join(s.dir, "data")
	for _, u := range []string{"admin", "dev"} {
		k := filepath.Join(s.dir, "keys", u)
		os.MkdirAll(filepath.Dir(k), 0o700)
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "soak-"+u, "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
		s.keys[u] = k
	}
	s.home = filepath.Join(s.dir, "home")
	os.MkdirAll(s.home, 0o700)
	gitconfig := `[user]
	name = Soak
	email = soak@example.com
[init]
	defaultBranch = main
[gc]
	auto = 0
[maintenance]
	auto = false
[fetch]
	writeCommitGraph = false
[advice]
	detachedHead = false
[protocol]
	version = 2
`
	if err := os.WriteFile(filepath.Join(s.home, ".gitconfig"), []byte(gitconfig), 0o644); err != nil {
		t.Fatal(err)
	}
	s.port = soakPort(t)
	s.kh = filepath.Join(s.dir, "known_hosts")
	for u, k := range s.keys {
		ssh := []string{"ssh", "-v", "-i", k, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
			"-o", "UserKnownHostsFile=" + s.kh, "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
			"-o", "ConnectTimeout=20", "-F", "/dev/null", "-p", s.port}
		s.env[u] = append(soakBaseEnv(), "HOME="+s.home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
			"GIT_SSH_COMMAND="+shellJoin(ssh))
	}
	s.env[""] = append(soakBaseEnv(), "HOME="+s.home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	// A slow client: its connection is accepted at once, but what it
	// sends reaches the server a second late (a relay in bash, the other
	// way unhindered), so its handshake takes that long.
	relay := `bash -c 'exec 3<>/dev/tcp/127.0.0.1/` + s.port + ` 4<&0; { sleep 1; cat <&4 >&3; } </dev/null >/dev/null 2>&1 & exec cat <&3'`
	for _, kv := range s.env["dev"] {
		if v, ok := strings.CutPrefix(kv, "GIT_SSH_COMMAND="); ok {
			kv = "GIT_SSH_COMMAND=" + v + " " + shellJoin([]string{"-o", "ProxyCommand=" + relay})
		}
		s.env["dev-slow"] = append(s.env["dev-slow"], kv)
	}

	l, err := s.start()
	if err != nil {
		t.Fatal(err)
	}
	s.logf("server %d up on 127.0.0.1:%s (pid %d)", l.n, s.port, l.cmd.Process.Pid)
	// The host keys it made are what the clients expect from now on.
	var kh strings.Builder
	for _, f := range []string{"ssh_host_ed25519_key", "ssh_host_rsa_key"} {
		b, err := os.ReadFile(filepath.Join(s.data, f))
		if err != nil {
			t.Fatal(err)
		}
		signer, err := gossh.ParsePrivateKey(b)
		if err != nil {
			t.Fatalf("host key %s: %v", f, err)
		}
		fmt.Fprintf(&kh, "[127.0.0.1]:%s %s", s.port, gossh.MarshalAuthorizedKey(signer.PublicKey()))
	}
	if err := os.WriteFile(s.kh, []byte(kh.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	s.mustCLI("user", "add", "dev")
	s.mustCLI("key", "add", "dev", s.keys["dev"]+".pub")
	s.mustCLI("repo", "create", "admin/soak")
	s.mustCLI("repo", "create", "admin/big")
	s.mustCLI("collab", "add", "admin/soak", "dev", "write")

	// admin/soak starts with 40 files in 3 commits, on main and on the
	// branches the pushers and racers use.
	seed := filepath.Join(s.dir, "seed")
	s.mustLocal("", "init", "-q", seed)
	for c := 0; c < 3; c++ {
		for f := 0; f < 40; f++ {
			writeLines(t, filepath.Join(seed, fmt.Sprintf("f%02d.txt", f)), randomLines(60+c*20))
		}
		s.mustLocal(seed, "add", "-A")
		s.mustLocal(seed, "commit", "-q", "-m", fmt.Sprintf("seed %d", c))
	}
	s.mustGit("admin", seed, "push", "-q", s.url("admin/soak"), "main", "main:race", "main:push-0", "main:push-1")
}

// soakPort is a free port outside the usual ephemeral range, so that no
// client socket of the machine takes it while the server is down.
func soakPort(t *testing.T) string {
	for i := 0; i < 200; i++ {
		p := strconv.Itoa(20000 + mrand.IntN(10000))
		ln, err := net.Listen("tcp", "127.0.0.1:"+p)
		if err == nil {
			ln.Close()
			return p
		}
	}
	t.Fatal("no free port in 20000-29999")
	return ""
}

// soakBaseEnv is the environment without what would steer git, ssh or
// the server elsewhere.
func soakBaseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GIT_") || strings.HasPrefix(k, "GATEHOUSE_") || strings.HasPrefix(k, "SSH_") || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (s *soak) url(repo string) string { return "ssh://git@127.0.0.1:" + s.port + "/" + repo + ".git" }

func (s *soak) mustCLI(args ...string) {
	s.t.Helper()
	cmd := exec.Command(s.bin, append(args, "--data", s.data)...)
	cmd.Env = s.env[""]
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (s *soak) mustGit(user, dir string, args ...string) {
	s.t.Helper()
	if r := s.exec(user, dir, 0, "git", args...); r.err != nil {
		s.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), r.err, r.out)
	}
}

func (s *soak) mustLocal(dir string, args ...string) string {
	s.t.Helper()
	out, err := s.local(dir, args...)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// local runs git on the client side only.
func (s *soak) local(dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), soakOpTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = s.env[""]
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

func randomLines(n int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = randomLine(i)
	}
	return lines
}

func randomLine(i int) string {
	b := make([]byte, 24)
	rand.Read(b)
	return fmt.Sprintf("line %d: %x the quick brown fox jumps over the lazy dog", i, b)
}

func writeLines(tb testing.TB, path string, lines []string) {
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// ---------------------------------------------------------------- server

// start runs the server and waits until its port answers with an SSH
// banner; only then does the lifetime count as up. A failed start is
// tried again (the port may still be held briefly) up to five times.
func (s *soak) start() (*soakLife, error) {
	var err error
	for try := 0; try < 5; try++ {
		var l *soakLife
		if l, err = s.tryStart(); err == nil {
			s.lives = append(s.lives, l)
			return l, nil
		}
		time.Sleep(2 * time.Second)
	}
	return nil, fmt.Errorf("server does not start: %w", err)
}

func (s *soak) tryStart() (*soakLife, error) {
	n := len(s.lives) + 1
	f, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fmt.Fprintf(f, "=== soak: server lifetime %d starts at %s\n", n, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(s.bin, "--data", s.data, "--ssh-addr", "127.0.0.1:"+s.port, "--http-addr", "",
		"--admin-key", s.keys["admin"]+".pub", "--shutdown-grace", soakGrace.String())
	cmd.Env = s.env[""]
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	l := &soakLife{n: n, cmd: cmd, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		l.exit = time.Now()
		l.code = cmd.ProcessState.ExitCode()
		close(l.exited)
	}()
	addr := "127.0.0.1:" + s.port
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case <-l.exited:
			return nil, fmt.Errorf("server exited with %d at start (see %s)", l.code, s.logPath)
		default:
		}
		if sshBanner(addr) {
			l.up = time.Now()
			return l, nil
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-l.exited
			return nil, fmt.Errorf("server not answering on %s after 30s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sshBanner(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-2.0-")
}

// vmHWM is the peak resident set of a process, in KiB.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return -1
}

// stopServer sends SIGTERM or SIGKILL and waits for the exit. SIGTERM
// must end in exit 0 within the grace period (and a little to close).
func (s *soak) stopServer(l *soakLife, how string) {
	l.hwmKB = vmHWM(l.cmd.Process.Pid)
	sig := syscall.SIGTERM
	if how == "SIGKILL" {
		sig = syscall.SIGKILL
	}
	l.how = how
	l.stop = time.Now()
	l.cmd.Process.Signal(sig)
	select {
	case <-l.exited:
	case <-time.After(soakGrace + soakGraceSlack):
		s.problem("server %d: still running %s after SIGTERM (grace %s); killed", l.n, soakGrace+soakGraceSlack, soakGrace)
		l.cmd.Process.Kill()
		<-l.exited
	}
	took := l.exit.Sub(l.stop)
	if how == "SIGTERM" {
		l.cut = took >= soakGrace-200*time.Millisecond
		if l.code != 0 {
			s.problem("server %d: exit status %d after SIGTERM, want 0", l.n, l.code)
		}
	}
	s.logf("server %d: %s%s, exit %d after %.2fs, VmHWM %.1f MB", l.n, how, l.note, l.code, took.Seconds(), float64(l.hwmKB)/1024)
}

// busyMoment waits up to max for the server to be in the middle of
// something a SIGKILL should not be able to spoil: a repack it runs (its
// pid in a repository's maintain lock) or a push in quarantine. It
// returns what it saw.
func (s *soak) busyMoment(l *soakLife, max time.Duration, preferRepack bool) string {
	pid := strconv.Itoa(l.cmd.Process.Pid)
	repos, _ := filepath.Glob(filepath.Join(s.data, "repos", "*", "*.git"))
	start := time.Now()
	for time.Since(start) < max {
		repack, push := false, false
		for _, r := range repos {
			if b, err := os.ReadFile(filepath.Join(r, "gatehouse-maintain.lock")); err == nil && strings.HasPrefix(string(b), pid+" ") {
				repack = true
			}
			if m, _ := filepath.Glob(filepath.Join(r, "objects", "*incoming*")); len(m) > 0 {
				push = true
			}
		}
		either := time.Since(start) > max/2
		switch {
		case repack && (preferRepack || either):
			return " during a repack"
		case push && (!preferRepack || either):
			return " during a push"
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ""
}

// ---------------------------------------------------------------- run

// arrivals starts `git ls-remote` in the second before a SIGTERM, two
// of them through a slow link (a handshake of over a second), so that
// some are in their SSH handshake when it comes: a connection the server
// accepted before it stopped listening is to be served.
func (s *soak) arrivals() {
	for i, user := range []string{"dev", "dev", "dev-slow", "dev-slow"} {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			time.Sleep(mrand.N(map[string]time.Duration{"dev": 700, "dev-slow": 500}[user] * time.Millisecond))
			r := s.exec(user, "", 0, "git", "ls-remote", s.url("admin/soak"))
			s.record("ls-remote", fmt.Sprintf("arrival-%d", i), r, "")
		}()
	}
	time.Sleep(900 * time.Millisecond)
}

func (s *soak) run() {
	t := s.t
	s.clients()
	end := time.Now().Add(s.dur)
	l := s.lives[len(s.lives)-1]
	kill := mrand.IntN(2) == 0 // stops alternate between SIGTERM and SIGKILL
	for {
		next := l.up.Add(22*time.Second + mrand.N(10*time.Second))
		last := next.After(end.Add(-10 * time.Second)) // the last lifetime serves a while
		if last {
			next = end
		}
		select {
		case <-time.After(time.Until(next)):
		case <-l.exited:
			l.how, l.stop = "crash", l.exit
			s.problem("server %d exited by itself with status %d (see %s)", l.n, l.code, s.logPath)
			s.logf("server %d exited by itself with %d", l.n, l.code)
		}
		if last && l.how == "" {
			break
		}
		if l.how == "" {
			how := "SIGTERM"
			if kill {
				how = "SIGKILL"
				l.note = s.busyMoment(l, 4*time.Second, mrand.IntN(2) == 0)
			}
			kill = !kill
			if how == "SIGTERM" {
				s.arrivals()
			}
			s.stopServer(l, how)
		}
		var err error
		if l, err = s.start(); err != nil {
			s.done.Store(true)
			s.wg.Wait()
			t.Fatal(err)
		}
		s.logf("server %d up again after %.2fs (pid %d)", l.n, l.up.Sub(s.lives[len(s.lives)-2].exit).Seconds(), l.cmd.Process.Pid)
	}
	s.logf("stopping the clients (their running operations finish)")
	s.done.Store(true)
	s.wg.Wait()
	s.logf("clients done")
}

func (s *soak) clients() {
	for i := 0; i < 2; i++ {
		s.client(fmt.Sprintf("pusher-%d", i), func(name string) error { return s.pusher(name, i) })
		s.client(fmt.Sprintf("racer-%d", i), s.racer)
		s.client(fmt.Sprintf("cloner-%d", i), func(name string) error { return s.cloner(name, i) })
		s.client(fmt.Sprintf("fetcher-%d", i), func(name string) error { return s.fetcher(name, i) })
	}
	s.client("big-pusher", s.bigPusher)
	s.client("gc", s.gc)
}

// client runs one client loop; an error is the harness's own (a local
// git command failing) and ends that client.
func (s *soak) client(name string, loop func(name string) error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := loop(name); err != nil {
			s.problem("client %s stopped: %v", name, err)
			s.logf("client %s stopped: %v", name, err)
		}
	}()
}

func pause(min, max time.Duration) { time.Sleep(min + mrand.N(max-min)) }

// exec runs a client command in its own process group; it is killed
// (the whole group: git, ssh, pack-objects) after killAfter when that is
// set, and after soakOpTimeout in any case.
func (s *soak) exec(user, dir string, killAfter time.Duration, name string, args ...string) soakRun {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if dir == "" {
		cmd.Dir = s.dir
	}
	cmd.Env = s.env[user]
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	r := soakRun{start: time.Now()}
	if err := cmd.Start(); err != nil {
		r.end, r.err, r.out = time.Now(), err, err.Error()
		return r
	}
	pg := cmd.Process.Pid
	var killed, timedOut atomic.Bool
	var k *time.Timer
	if killAfter > 0 {
		k = time.AfterFunc(killAfter, func() { killed.Store(true); syscall.Kill(-pg, syscall.SIGKILL) })
	}
	to := time.AfterFunc(soakOpTimeout, func() { timedOut.Store(true); syscall.Kill(-pg, syscall.SIGKILL) })
	r.err = cmd.Wait()
	r.end = time.Now()
	if k != nil {
		k.Stop()
	}
	to.Stop()
	r.killed, r.timedOut = killed.Load(), timedOut.Load()
	full := buf.String()
	r.banner = strings.Contains(full, "Remote protocol version")
	r.out = sshQuiet(full)
	if r.timedOut {
		r.out = fmt.Sprintf("timed out after %s\n%s", soakOpTimeout, r.out)
	}
	return r
}

var sshNoise = regexp.MustCompile(`^(debug\d: |OpenSSH_|Authenticated to |Transferred: |Bytes per second|Warning: Permanently added )`)

// sshQuiet drops ssh -v's lines from output.
func sshQuiet(out string) string {
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if line != "" && !sshNoise.MatchString(line) {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// record adds an operation; outcome is decided by the caller for
// successes and expected refusals, anything else with an error fails.
func (s *soak) record(kind, client string, r soakRun, outcome string) {
	if outcome == "" {
		switch {
		case r.err == nil:
			outcome = "ok"
		case r.killed && !r.timedOut:
			outcome = "killed"
		default:
			outcome = "fail"
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops = append(s.ops, soakOp{kind: kind, client: client, start: r.start, end: r.end, outcome: outcome, banner: r.banner, out: r.out})
}

func (s *soak) ack(repo, branch, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acks = append(s.acks, soakAck{repo, branch, sha})
}

// cleanLocks removes the lock files a killed git leaves in a client
// repository, so the next command of that client is not refused by its
// own leftovers.
func cleanLocks(dir string) {
	filepath.WalkDir(filepath.Join(dir, ".git"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".lock") {
			os.Remove(p)
		}
		return nil
	})
}

// change rewrites a few lines of a file and adds one, and commits: the
// new blob deltas well against the one before, which the server has.
func (s *soak) change(dir, file string, lines *[]string, msg string) (string, error) {
	for j := 0; j < 3; j++ {
		i := mrand.IntN(len(*lines))
		(*lines)[i] = randomLine(i)
	}
	*lines = append(*lines, randomLine(len(*lines)))
	if err := os.WriteFile(filepath.Join(dir, file), []byte(strings.Join(*lines, "\n")+"\n"), 0o644); err != nil {
		return "", err
	}
	if _, err := s.local(dir, "add", file); err != nil {
		return "", err
	}
	if _, err := s.local(dir, "commit", "-q", "-m", msg); err != nil {
		return "", err
	}
	return s.local(dir, "rev-parse", "HEAD")
}

// cloneFor makes a client's working clone, retrying while the server is
// down.
func (s *soak) cloneFor(user, repo, dir string) error {
	for try := 0; ; try++ {
		os.RemoveAll(dir)
		r := s.exec(user, "", 0, "git", "clone", "-q", s.url(repo), dir)
		if r.err == nil {
			return nil
		}
		if try == 20 || s.done.Load() {
			return fmt.Errorf("clone %s: %v\n%s", repo, r.err, r.out)
		}
		time.Sleep(time.Second)
	}
}

// pusher commits on its own branch and pushes; every acknowledged push
// is recorded.
func (s *soak) pusher(name string, i int) error {
	dir := filepath.Join(s.dir, name)
	branch := fmt.Sprintf("push-%d", i)
	if err := s.cloneFor("admin", "admin/soak", dir); err != nil {
		return err
	}
	if _, err := s.local(dir, "checkout", "-q", branch); err != nil {
		return err
	}
	lines := randomLines(400)
	file := name + ".txt"
	for n := 0; !s.done.Load(); n++ {
		sha, err := s.change(dir, file, &lines, fmt.Sprintf("%s %d", name, n))
		if err != nil {
			return err
		}
		r := s.exec("admin", dir, 0, "git", "push", "-q", "origin", "HEAD:refs/heads/"+branch)
		s.record("push", name, r, "")
		if r.err == nil {
			s.ack("admin/soak", branch, sha)
		}
		if r.timedOut {
			cleanLocks(dir)
		}
		pause(200*time.Millisecond, 600*time.Millisecond)
	}
	return nil
}

// lostRace is git's or the server's word for a push that lost to another
// on the same branch.
var lostRace = regexp.MustCompile(`\[(remote )?rejected\][^\n]*\((fetch first|non-fast-forward|[^)\n]*stale[^)\n]*|[^)\n]*lock[^)\n]*)\)`)

// racer fetches the shared branch, commits on it and pushes, against the
// other racer: losing is fine, any other failure is not.
func (s *soak) racer(name string) error {
	dir := filepath.Join(s.dir, name)
	if err := s.cloneFor("dev", "admin/soak", dir); err != nil {
		return err
	}
	lines := randomLines(300)
	file := name + ".txt"
	for n := 0; !s.done.Load(); n++ {
		r := s.exec("dev", dir, 0, "git", "fetch", "-q", "origin", "race")
		s.record("race-fetch", name, r, "")
		if r.err != nil {
			if r.timedOut {
				cleanLocks(dir)
			}
			pause(200*time.Millisecond, 500*time.Millisecond)
			continue
		}
		if _, err := s.local(dir, "reset", "-q", "--hard", "FETCH_HEAD"); err != nil {
			return err
		}
		sha, err := s.change(dir, file, &lines, fmt.Sprintf("%s %d", name, n))
		if err != nil {
			return err
		}
		r = s.exec("dev", dir, 0, "git", "push", "-q", "origin", "HEAD:refs/heads/race")
		outcome := ""
		if r.err != nil && !r.timedOut && lostRace.MatchString(r.out) {
			outcome = "lost"
		}
		s.record("race-push", name, r, outcome)
		if r.err == nil {
			s.ack("admin/soak", "race", sha)
		}
		if r.timedOut {
			cleanLocks(dir)
		}
		pause(0, 300*time.Millisecond)
	}
	return nil
}

// cloner clones afresh, protocol v2 and v0 in turn.
func (s *soak) cloner(name string, i int) error {
	for n := i; !s.done.Load(); n++ {
		v := []string{"2", "0"}[n%2]
		dest := filepath.Join(s.dir, name, strconv.Itoa(n))
		r := s.exec("dev", "", 0, "git", "-c", "protocol.version="+v, "clone", "-q", "--no-checkout", s.url("admin/soak"), dest)
		s.record("clone-v"+v, name, r, "")
		os.RemoveAll(dest)
		pause(300*time.Millisecond, 800*time.Millisecond)
	}
	return nil
}

// fetcher fetches into its clone, protocol v2 and v0 in turn.
func (s *soak) fetcher(name string, i int) error {
	dir := filepath.Join(s.dir, name)
	if err := s.cloneFor("admin", "admin/soak", dir); err != nil {
		return err
	}
	for n := i; !s.done.Load(); n++ {
		v := []string{"2", "0"}[n%2]
		r := s.exec("admin", dir, 0, "git", "-c", "protocol.version="+v, "fetch", "-q", "origin")
		s.record("fetch-v"+v, name, r, "")
		if r.timedOut {
			cleanLocks(dir)
		}
		pause(300*time.Millisecond, 800*time.Millisecond)
	}
	return nil
}

// bigPusher pushes commits of 20 MB of random data to admin/big; most
// pushes are killed (the client, with its ssh) at a random moment. A
// killed push is expected to fail; one left alone is not. After a push
// gets through a new commit is made, up to a bounded number.
func (s *soak) bigPusher(name string) error {
	dir := filepath.Join(s.dir, name)
	if _, err := s.local("", "init", "-q", dir); err != nil {
		return err
	}
	if _, err := s.local(dir, "remote", "add", "origin", s.url("admin/big")); err != nil {
		return err
	}
	// Random data neither deltas nor compresses: do not let the client
	// spend seconds trying (it would search a delta against the last
	// version, then deflate at level 6).
	for _, kv := range [][2]string{{"core.bigFileThreshold", "1m"}, {"pack.compression", "1"}, {"core.compression", "1"}} {
		if _, err := s.local(dir, "config", kv[0], kv[1]); err != nil {
			return err
		}
	}
	limit := min(40, 2+int(s.dur/(8*time.Second)))
	blob := make([]byte, soakBigSize)
	commit := func(n int) (string, error) {
		rand.Read(blob)
		if err := os.WriteFile(filepath.Join(dir, "big.bin"), blob, 0o644); err != nil {
			return "", err
		}
		if _, err := s.local(dir, "add", "big.bin"); err != nil {
			return "", err
		}
		if _, err := s.local(dir, "commit", "-q", "-m", fmt.Sprintf("big %d", n)); err != nil {
			return "", err
		}
		return s.local(dir, "rev-parse", "HEAD")
	}
	sha, err := commit(0)
	if err != nil {
		return err
	}
	pushed := 0
	for !s.done.Load() {
		var kill time.Duration
		if mrand.IntN(10) < 6 { // a push takes about a second on an idle machine
			kill = 30*time.Millisecond + mrand.N(1500*time.Millisecond)
		}
		r := s.exec("admin", dir, kill, "git", "push", "-q", "origin", "HEAD:refs/heads/big")
		s.record("big-push", name, r, "")
		if r.killed || r.timedOut {
			cleanLocks(dir)
		}
		if r.err == nil {
			s.ack("admin/big", "big", sha)
			if pushed++; pushed < limit {
				if sha, err = commit(pushed); err != nil {
					return err
				}
			}
		}
		pause(300*time.Millisecond, 800*time.Millisecond)
	}
	return nil
}

// gc runs `gatehouse repo gc` every few seconds, admin/big every third
// time, every other run after ageSuperseded. "Already running" (a
// background repack of the server) is fine here; the checks at the end
// want a repack to run once all is quiet.
func (s *soak) gc(name string) error {
	for n := 0; !s.done.Load(); n++ {
		repo := "admin/soak"
		if n%3 == 2 {
			repo = "admin/big"
		}
		if n%2 == 0 {
			s.ageSuperseded(s.repoDir(repo))
		}
		r := s.exec("", "", 0, s.bin, "repo", "gc", repo, "--data", s.data)
		outcome := ""
		if r.err != nil && !r.timedOut && strings.Contains(r.out, " is busy: ") {
			outcome = "busy"
		}
		s.record("gc", name, r, outcome)
		pause(3*time.Second, 5*time.Second)
	}
	return nil
}

// ageSuperseded stands in for the passing of time: a repack keeps the
// packs it replaced for maintain.GracePeriod (15 minutes) and the next
// repack after that deletes them, which a soak of minutes would never
// reach. It rewrites the repository's record of replaced packs
// (objects/pack/gatehouse-superseded: "UNIX-TIME NEW-PACK OLD-PACK...")
// as 16 minutes older, holding the repack lock (gatehouse-maintain.lock,
// created exclusively) as a repack would; the gc that follows deletes
// those packs while readers and pushers may still be using them. When
// the lock is taken, or the record is not in that form, it does nothing.
func (s *soak) ageSuperseded(gitDir string) {
	lock := filepath.Join(gitDir, "gatehouse-maintain.lock")
	f, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintf(f, "%d %d\n", os.Getpid(), time.Now().Unix())
	f.Close()
	defer os.Remove(lock)
	path := filepath.Join(gitDir, "objects", "pack", "gatehouse-superseded")
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var out strings.Builder
	aged := 0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		at, rest, ok := strings.Cut(line, " ")
		sec, err := strconv.ParseInt(at, 10, 64)
		if !ok || err != nil || !strings.HasPrefix(rest, "pack-") {
			return
		}
		if old := time.Now().Add(-16 * time.Minute).Unix(); sec > old {
			sec = old
			aged++
		}
		fmt.Fprintf(&out, "%d %s\n", sec, rest)
	}
	if aged == 0 {
		return
	}
	tmp := path + ".soak"
	if os.WriteFile(tmp, []byte(out.String()), 0o644) == nil && os.Rename(tmp, path) == nil {
		s.aged.Add(int32(aged))
	}
	os.Remove(tmp)
}

// ---------------------------------------------------------------- checks

// class says whether an operation counts: "up" (started and ended while
// one server lifetime was up and not stopping), "drain" (in flight at a
// SIGTERM, the connection already accepted by the server, and ended
// before the grace period ran out: the server owed it a finish), or
// "excluded".
func (s *soak) class(op soakOp) string {
	for _, l := range s.lives {
		if op.start.Before(l.up) {
			continue
		}
		if l.stop.IsZero() || !op.end.After(l.stop) {
			return "up"
		}
		if op.start.Before(l.stop) && l.how == "SIGTERM" && op.banner && op.end.Before(l.stop.Add(soakGrace-time.Second)) {
			return "drain"
		}
	}
	return "excluded"
}

func (s *soak) repoDir(repo string) string {
	return filepath.Join(s.data, "repos", filepath.FromSlash(repo)+".git")
}

// isTemp says whether a name under DATA/repos is a quarantine or a
// temporary file or folder (git's and the server's).
func isTemp(name string) bool {
	return strings.HasPrefix(name, "tmp") || strings.HasPrefix(name, ".tmp") ||
		strings.HasPrefix(name, ".init-") || strings.Contains(name, "incoming")
}

// leftovers lists temporary entries and lock files under DATA/repos,
// each with its age; old is true of what predates since.
func (s *soak) leftovers(since time.Time) (found []string, old int) {
	root := filepath.Join(s.data, "repos")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return nil
		}
		temp, lock := isTemp(d.Name()), strings.HasSuffix(d.Name(), ".lock")
		if !temp && !lock {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // gone meanwhile
		}
		rel, _ := filepath.Rel(root, p)
		when := "since the last restart"
		if info.ModTime().Before(since) {
			when = "older than the last restart"
			old++
		}
		found = append(found, fmt.Sprintf("%s (%s)", rel, when))
		if d.IsDir() {
			return filepath.SkipDir
		}
		return nil
	})
	return found, old
}

func (s *soak) checks() {
	l := s.lives[len(s.lives)-1]
	repos := []string{"admin/soak", "admin/big"}

	// A repack runs once the clients are done (a background one may be
	// finishing: "already running" is tried again for a while). It
	// deletes the packs replaced before, so fsck reads each object once.
	for _, repo := range repos {
		s.ageSuperseded(s.repoDir(repo))
		var r soakRun
		for deadline := time.Now().Add(10 * time.Second); ; {
			r = s.exec("", "", 0, s.bin, "repo", "gc", repo, "--data", s.data)
			if r.err == nil || !strings.Contains(r.out, " is busy: ") || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
		}
		if r.err != nil {
			s.problem("gatehouse repo gc %s, idle at the end: %v: %s", repo, r.err, firstLine(r.out))
		}
	}

	s.logf("checks: final repacks done")

	// Once idle (and repacked), nothing temporary is left and no lock survives.
	var found []string
	for deadline := time.Now().Add(soakIdleWait); ; {
		var old int
		found, old = s.leftovers(l.up)
		if len(found) == old || time.Now().After(deadline) {
			break // what is left predates the restart: it will not go
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, f := range found {
		s.problem("leftover under DATA/repos once idle (after the last restart and a repack): %s", f)
	}

	s.logf("checks: %d leftovers", len(found))

	// Every acknowledged push is there: its branch is at it or beyond.
	tips := map[string]map[string]bool{} // repo\x00branch -> commits reachable
	lost := map[string][]string{}
	for _, a := range s.acks {
		key := a.repo + "\x00" + a.branch
		if _, ok := tips[key]; !ok {
			reach := map[string]bool{}
			out, err := s.local(s.repoDir(a.repo), "rev-list", "refs/heads/"+a.branch)
			if err != nil {
				s.problem("%s %s: %v", a.repo, a.branch, err)
			}
			for _, c := range strings.Fields(out) {
				reach[c] = true
			}
			tips[key] = reach
		}
		if !tips[key][a.sha] {
			lost[a.repo+" "+a.branch] = append(lost[a.repo+" "+a.branch], a.sha)
		}
	}
	for b, shas := range lost {
		s.problem("acknowledged pushes lost: %s: %d commits not reachable, first %s", b, len(shas), shas[0])
	}

	s.logf("checks: %d acknowledged pushes looked for", len(s.acks))
	for _, repo := range repos {
		if _, err := s.local(s.repoDir(repo), "fsck", "--full", "--no-dangling", "--no-progress"); err != nil {
			s.problem("git fsck --full %s: %s", repo, strings.Join(firstLines(err.Error(), 6), " | "))
		}
	}

	s.logf("checks: fsck done")

	// gatehouse check agrees: metadata and folders, refs and history, no
	// leftovers.
	if r := s.exec("", "", 0, s.bin, "check", "--data", s.data); r.err != nil {
		s.problem("gatehouse check at the end: %v: %s", r.err, strings.Join(firstLines(r.out, 6), " | "))
	}

	// The last stop: SIGTERM on an idle server.
	s.stopServer(l, "SIGTERM")

	// Zero failed reads and pushes while the server was up (or draining).
	for _, op := range s.ops {
		if op.outcome == "fail" && s.class(op) != "excluded" {
			s.mu.Lock()
			s.problems = append(s.problems, fmt.Sprintf("%s by %s failed while the server was %s: %s", op.kind, op.client,
				map[string]string{"up": "up", "drain": "draining after SIGTERM (it had accepted the connection)"}[s.class(op)], firstLine(op.out)))
			s.mu.Unlock()
		}
	}
	// Each kind got somewhere, or the harness itself is broken.
	for _, k := range soakKinds {
		ok := slices.ContainsFunc(s.ops, func(op soakOp) bool { return op.kind == k && op.outcome == "ok" })
		if !ok && k != "ls-remote" {
			s.problem("no %s succeeded in the whole soak", k)
		}
	}
	if !slices.ContainsFunc(s.lives, func(l *soakLife) bool { return l.how == "SIGKILL" }) && s.dur >= 70*time.Second {
		s.problem("no SIGKILL happened: the soak is too short for its stop schedule")
	}
}

var soakDisconnect = regexp.MustCompile(`(?i)EOF|broken pipe|reset by peer|closed network connection|context canceled|connection closed|channel closed`)

// errorLines are the server log's level=ERROR lines; disconnects are
// those of a connection (conn=) whose error says the client went away.
func (s *soak) errorLines() (all []string, disconnects int) {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		s.problem("server log: %v", err)
		return nil, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "level=ERROR") {
			all = append(all, line)
			if strings.Contains(line, " conn=") && soakDisconnect.MatchString(line) {
				disconnects++
			}
		}
	}
	return all, disconnects
}

var (
	logFailed = regexp.MustCompile(`msg="([^"]* failed)".* err="((?:[^"\\]|\\.)*)"`)
	logNoise  = regexp.MustCompile(`\b[0-9a-f]{7,64}\b|\b\d+\b`)
)

// serverFailures counts the server log's "... failed" lines by message
// and error (ids and numbers blanked), most frequent first.
func (s *soak) serverFailures() []string {
	b, _ := os.ReadFile(s.logPath)
	n := map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := logFailed.FindStringSubmatch(line); m != nil {
			err := m[2]
			if len(err) > 160 {
				err = err[:160] + "..."
			}
			n[m[1]+": "+logNoise.ReplaceAllString(err, "N")]++
		}
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(n[b], n[a]), cmp.Compare(a, b)) })
	out := make([]string, 0, len(keys))
	for _, k := range keys[:min(25, len(keys))] {
		out = append(out, fmt.Sprintf("%4dx %s", n[k], k))
	}
	return out
}

var soakIDs = regexp.MustCompile(`\b[0-9a-f]{7,64}\b|\d+`)

func firstLines(s string, n int) []string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[:min(n, len(lines))]
}

var errorish = regexp.MustCompile(`(?i)error|fatal|rejected|remote:|denied|refused|closed|reset|kex_|timed out|failed|unexpected`)

// firstLine is the first line that says what went wrong (the first
// line, when none looks like an error).
func firstLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		if errorish.MatchString(l) {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(lines[0])
}

// ---------------------------------------------------------------- report

func (s *soak) report() {
	var w strings.Builder
	errLines, disconnects := s.errorLines()
	if disconnects > 0 {
		s.problem("server log: %d level=ERROR lines about clients going away", disconnects)
	}
	fmt.Fprintf(&w, "soak of %s: nproc %d, %d server lifetimes, 9 clients and repo gc, grace %s, commit %s;\n",
		s.dur, runtime.NumCPU(), len(s.lives), soakGrace, s.commit())
	fmt.Fprintf(&w, "%d records of replaced packs aged past the 15-minute grace (so that gc deletes them)\n\n", s.aged.Load())
	fmt.Fprintf(&w, "%-11s %6s %6s %6s %6s %8s %10s %11s %9s %7s\n", "operation", "total", "ok", "lost", "busy", "killed", "FAILED-up", "FAILED-drn", "excluded", "avg s")
	type count struct {
		total, ok, lost, busy, killed, failUp, failDrain, excluded int
		took                                                       time.Duration
	}
	counts := map[string]*count{}
	type group struct {
		kind, class, msg, out string
		n                     int
	}
	var groups []*group
	byKey := map[string]*group{}
	drained := 0
	for _, op := range s.ops {
		c := counts[op.kind]
		if c == nil {
			c = &count{}
			counts[op.kind] = c
		}
		c.total++
		c.took += op.end.Sub(op.start)
		cl := s.class(op)
		if cl == "drain" {
			drained++
		}
		switch op.outcome {
		case "ok":
			c.ok++
		case "lost":
			c.lost++
		case "busy":
			c.busy++
		case "killed":
			c.killed++
		default:
			switch cl {
			case "up":
				c.failUp++
			case "drain":
				c.failDrain++
			default:
				c.excluded++
				continue
			}
			msg := firstLine(op.out)
			key := op.kind + "\x00" + cl + "\x00" + soakIDs.ReplaceAllString(msg, "N")
			g := byKey[key]
			if g == nil {
				g = &group{kind: op.kind, class: cl, msg: msg, out: op.out}
				byKey[key] = g
				groups = append(groups, g)
			}
			g.n++
		}
	}
	for _, k := range soakKinds {
		c := counts[k]
		if c == nil {
			c = &count{}
		}
		avg := 0.0
		if c.total > 0 {
			avg = c.took.Seconds() / float64(c.total)
		}
		fmt.Fprintf(&w, "%-11s %6d %6d %6d %6d %8d %10d %11d %9d %7.2f\n", k, c.total, c.ok, c.lost, c.busy, c.killed, c.failUp, c.failDrain, c.excluded, avg)
	}
	fmt.Fprintf(&w, "(lost: a racer's push refused as stale; busy: gc while another repack ran; killed: the big push's client killed on purpose;\n")
	fmt.Fprintf(&w, " FAILED-drn: accepted before a SIGTERM and not let finish; excluded: failed while the server was down, stopping or starting.\n")
	fmt.Fprintf(&w, " %d operations were in flight and accepted at a SIGTERM.)\n\n", drained)

	fmt.Fprintf(&w, "failures that count (by kind, first error line):\n")
	if len(groups) == 0 {
		fmt.Fprintf(&w, "  none\n")
	}
	for _, g := range groups {
		fmt.Fprintf(&w, "  %-10s %4dx %-5s %s\n", g.kind, g.n, g.class, g.msg)
	}

	fmt.Fprintf(&w, "\nserver lifetimes:\n  %-3s %8s %8s %-8s %5s %10s %9s  %s\n", "#", "up at", "ran", "stop", "exit", "stop→exit", "VmHWM MB", "note")
	for _, l := range s.lives {
		ran := l.stop.Sub(l.up)
		if l.cut {
			l.note += " (the grace period ran out)"
		}
		fmt.Fprintf(&w, "  %-3d %7.1fs %7.1fs %-8s %5d %9.2fs %9.1f  %s\n", l.n, l.up.Sub(s.t0).Seconds(), ran.Seconds(), l.how, l.code,
			l.exit.Sub(l.stop).Seconds(), float64(l.hwmKB)/1024, strings.TrimSpace(l.note))
	}

	fmt.Fprintf(&w, "\nthe server's side of failed operations (log lines with msg=\"... failed\", all lifetimes):\n")
	for _, f := range s.serverFailures() {
		fmt.Fprintf(&w, "  %s\n", f)
	}
	fmt.Fprintf(&w, "\nserver log: %d level=ERROR lines (%d about clients going away), in %s\n", len(errLines), disconnects, s.logPath)
	for _, line := range errLines[:min(20, len(errLines))] {
		fmt.Fprintf(&w, "  %s\n", line)
	}
	if len(errLines) > 20 {
		fmt.Fprintf(&w, "  ... %d more\n", len(errLines)-20)
	}

	s.mu.Lock()
	problems := slices.Clone(s.problems)
	s.mu.Unlock()
	slices.Sort(problems)
	problems = slices.Compact(problems)
	fmt.Fprintf(&w, "\nproblems: %d\n", len(problems))
	for _, p := range problems[:min(60, len(problems))] {
		fmt.Fprintf(&w, "  %s\n", p)
	}
	if len(problems) > 60 {
		fmt.Fprintf(&w, "  ... %d more\n", len(problems)-60)
	}

	// The full output of the first failure of each kind.
	var detail strings.Builder
	for _, g := range groups {
		fmt.Fprintf(&detail, "=== %s (%s, %dx): %s\n%s\n\n", g.kind, g.class, g.n, g.msg, g.out)
	}
	os.WriteFile(filepath.Join(s.art, "failures.txt"), []byte(detail.String()), 0o644)
	// Every operation, for a closer look.
	var tsv strings.Builder
	fmt.Fprintf(&tsv, "start_s\tseconds\tkind\tclient\toutcome\tclass\taccepted\tfirst line\n")
	for _, op := range s.ops {
		fmt.Fprintf(&tsv, "%.3f\t%.3f\t%s\t%s\t%s\t%s\t%v\t%s\n", op.start.Sub(s.t0).Seconds(), op.end.Sub(op.start).Seconds(),
			op.kind, op.client, op.outcome, s.class(op), op.banner, firstLine(op.out))
	}
	os.WriteFile(filepath.Join(s.art, "ops.tsv"), []byte(tsv.String()), 0o644)
	os.WriteFile(filepath.Join(s.art, "report.txt"), []byte(w.String()), 0o644)
	fmt.Print("\n" + w.String())
	if len(problems) > 0 {
		s.t.Errorf("soak: %d problems (see the table above, %s and %s)", len(problems),
			filepath.Join(s.art, "failures.txt"), s.logPath)
	}
}

func (s *soak) commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "?"
	}
	if st, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); len(bytes.TrimSpace(st)) > 0 {
		return strings.TrimSpace(string(out)) + "+changes"
	}
	return strings.TrimSpace(string(out))
}
