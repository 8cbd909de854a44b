package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gatehouse/gittest"
	"gatehouse/keys"
)

// Two real `gatehouse serve` processes on one data folder and one
// database, with HAProxy in front of them sending PROXY protocol v2, as
// README "Running several nodes" describes. HAProxy connects to the
// nodes from 127.0.0.3 (the only --proxy-from address), so a client on
// 127.0.0.1 is told apart from the balancer in the audit log, and tests
// may also reach each node directly.

// haproxyConfig is the example of README "Running several nodes", with
// the test's ports and timeouts.
const haproxyConfig = `global
	maxconn 1000

defaults
	mode tcp
	timeout connect 2s
	timeout client 10m
	timeout server 10m
	# A node that refuses the connection (stopped, killed) is retried,
	# on another node.
	retries 3
	option redispatch

frontend git_ssh
	bind 127.0.0.1:{{FRONT}}
	default_backend gatehouse

backend gatehouse
	balance leastconn
	source 127.0.0.3
	# A node is taken out when its /readyz fails: it drains on SIGTERM.
	option httpchk GET /readyz
	http-check expect status 200
	default-server send-proxy-v2 check inter 300ms fall 1 rise 2
	server a 127.0.0.1:{{SSH_A}} check port {{HTTP_A}}
	server b 127.0.0.1:{{SSH_B}} check port {{HTTP_B}}
`

// clusterNode is one gatehouse serve process and its ports.
type clusterNode struct {
	name      string
	ssh, http string // ports
	cmd       *exec.Cmd
	log       *syncBuffer
	exited    chan struct{} // closed once cmd has exited, with err set
	err       error
}

// cluster is the nodes, HAProxy and what the test drives them with.
type cluster struct {
	t      *testing.T
	bin    string
	data   string
	db     []string // --db and its value, or nothing for SQLite
	front  string   // HAProxy's port
	admin  *Key
	keyPub string // file of admin's public key
	nodes  map[string]*clusterNode
	extra  []string // more serve flags, for every start
}

// orphanKill kills a node or HAProxy when the test process dies without
// its cleanups (a timeout's panic), instead of leaving it listening.
var orphanKill = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return portOf(ln.Addr().String())
}

// startCluster builds the binary, starts nodes a and b on one data
// folder and HAProxy in front of them.
func startCluster(t *testing.T, extra ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, bin: buildBinary(t), data: t.TempDir(), admin: NewKey(t), nodes: map[string]*clusterNode{}, extra: extra}
	c.db = clusterDB(t)
	c.keyPub = filepath.Join(t.TempDir(), "admin.pub")
	if err := os.WriteFile(c.keyPub, []byte(c.admin.Public+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		n := &clusterNode{name: name, ssh: freePort(t), http: freePort(t)}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("node %s log:\n%s", n.name, n.log.String())
			}
		})
		c.nodes[name] = n
		c.start(n)
	}
	c.front = freePort(t)
	cfg := strings.NewReplacer("{{FRONT}}", c.front, "{{SSH_A}}", c.nodes["a"].ssh, "{{HTTP_A}}", c.nodes["a"].http,
		"{{SSH_B}}", c.nodes["b"].ssh, "{{HTTP_B}}", c.nodes["b"].http).Replace(haproxyConfig)
	cfgFile := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		haproxy = "/usr/sbin/haproxy" // Debian's, outside a user's PATH
	}
	var hlog syncBuffer
	hp := exec.Command(haproxy, "-db", "-f", cfgFile)
	hp.Stdout, hp.Stderr = &hlog, &hlog
	hp.SysProcAttr = orphanKill
	if err := hp.Start(); err != nil {
		t.Fatalf("haproxy (test.sh installs it): %v", err)
	}
	t.Cleanup(func() {
		hp.Process.Kill()
		hp.Wait()
		if t.Failed() {
			t.Logf("haproxy log:\n%s", hlog.String())
		}
	})
	waitMinute(t, "HAProxy to listen", func() bool {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+c.front, time.Second)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	return c
}

// start runs node n's serve process and waits for it to be ready.
func (c *cluster) start(n *clusterNode) {
	c.t.Helper()
	if n.log == nil {
		n.log = &syncBuffer{} // kept across restarts
	}
	args := append([]string{"serve", "--data", c.data, "--ssh-addr", "127.0.0.1:" + n.ssh, "--http-addr", "127.0.0.1:" + n.http,
		"--admin-key", c.keyPub, "--node-name", n.name, "--proxy-from", "127.0.0.3/32", "--shutdown-grace", "30s"}, c.db...)
	n.cmd = exec.Command(c.bin, append(args, c.extra...)...)
	n.cmd.Stdout, n.cmd.Stderr = io.Discard, n.log
	n.cmd.SysProcAttr = orphanKill
	if err := n.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	n.exited = make(chan struct{})
	cmd, exited := n.cmd, n.exited
	go func() {
		n.err = cmd.Wait()
		close(exited)
	}()
	c.t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	waitMinute(c.t, "node "+n.name+" to be ready", func() bool { return c.readyz(n) == http.StatusOK })
}

// kill stops node n with SIGKILL and waits for it.
func (c *cluster) kill(n *clusterNode) {
	n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.exited
}

// readyz returns the status of node n's /readyz, 0 when it does not answer.
func (c *cluster) readyz(n *clusterNode) int {
	client := http.Client{Timeout: 2 * time.Second}
	res, err := client.Get("http://127.0.0.1:" + n.http + "/readyz")
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// url is the clone URL of repo at port.
func (c *cluster) url(port, repo string) string {
	return "ssh://git@127.0.0.1:" + port + "/" + repo + ".git"
}

// sshArgs is the ssh command for key k; bind, when set, is the client's
// source address.
func sshArgs(k *Key, bind string) []string {
	args := []string{"ssh", "-i", k.Path, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "LogLevel=ERROR",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-F", "/dev/null"}
	if bind != "" {
		args = append(args, "-b", bind)
	}
	return args
}

// git runs git as k in dir (ssh given by sshCmd).
func (c *cluster) git(sshCmd []string, dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), gitIdentity...)
	cmd.Env = append(cmd.Env, "HOME="+c.t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "GIT_SSH_VARIANT=ssh", "GIT_SSH_COMMAND="+shellJoin(sshCmd))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (c *cluster) mustGit(k *Key, dir string, args ...string) string {
	c.t.Helper()
	out, err := c.git(sshArgs(k, ""), dir, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// cli runs an admin command of the binary on the shared data folder and
// database.
func (c *cluster) cli(args ...string) string {
	c.t.Helper()
	out, err := exec.Command(c.bin, append(append(args, "--data", c.data), c.db...)...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// login tries key k directly on node n from address bind and reports
// whether it got in.
func (c *cluster) login(n *clusterNode, k *Key, bind string) (bool, string) {
	args := append(sshArgs(k, bind)[1:], "-p", n.ssh, "git@127.0.0.1", "whoami")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ssh", args...).CombinedOutput()
	return err == nil, string(out)
}

func TestCluster(t *testing.T) {
	// Sessions per user and connections per address are counted per
	// node: 50 clones at once need more than the defaults on each.
	c := startCluster(t, "--max-auth-failures", "4", "--auth-fail-delay", "1ms", "--lock-wait", "1s",
		"--max-sessions-per-user", "64", "--max-conns-per-addr", "64")
	a, b := c.nodes["a"], c.nodes["b"]
	admin := c.admin
	work := Work(t, "main", 1)
	c.mustGit(admin, work, "push", c.url(c.front, "admin/r"), "main")

	t.Run("health", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://127.0.0.1:"+b.http+"/healthz", nil)
		req.Header.Set("Accept", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var h map[string]string
		json.NewDecoder(res.Body).Decode(&h)
		res.Body.Close()
		if res.StatusCode != 200 || h["node"] != "b" || h["database"] != "ok" || h["status"] != "ok" {
			t.Fatalf("healthz of b: %d %v", res.StatusCode, h)
		}
	})

	// Pushes to one ref, at once, through the two nodes: one wins, the
	// other is told its push is stale.
	t.Run("concurrent pushes", func(t *testing.T) {
		for round := range 3 {
			clones := make([]string, 2)
			for i := range clones {
				clones[i] = filepath.Join(t.TempDir(), "c")
				c.mustGit(admin, "", "clone", "-q", c.url(c.front, "admin/r"), clones[i])
				Commits(t, clones[i], fmt.Sprintf("r%d-c%d", round, i), 1)
			}
			var wg sync.WaitGroup
			outs, errs := make([]string, 2), make([]error, 2)
			for i, n := range []*clusterNode{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					outs[i], errs[i] = c.git(sshArgs(admin, ""), clones[i], "push", c.url(n.ssh, "admin/r"), "main")
				}()
			}
			wg.Wait()
			wins := 0
			for i, err := range errs {
				switch {
				case err == nil:
					wins++
					repo := filepath.Join(c.data, "repos", "admin", "r.git")
					if got, want := run(t, repo, "git", "rev-parse", "main"), run(t, clones[i], "git", "rev-parse", "main"); got != want {
						t.Fatalf("winner's commit %s is not on the server (%s)", want, got)
					}
				case !strings.Contains(outs[i], "rejected") && !strings.Contains(outs[i], "fetch first"):
					t.Fatalf("loser was not told it is stale:\n%s", outs[i])
				}
			}
			if wins != 1 {
				t.Fatalf("round %d: %d pushes won, want 1\n%s\n%s", round, wins, outs[0], outs[1])
			}
		}
		run(t, filepath.Join(c.data, "repos", "admin", "r.git"), "git", "fsck", "--full", "--strict")
	})

	// Fifty clones at once through HAProxy (both nodes) all succeed; the
	// times against one node alone are logged (the README's figures).
	t.Run("50 clones", func(t *testing.T) {
		clones := func(port string) time.Duration {
			dst := t.TempDir()
			start := time.Now()
			var wg sync.WaitGroup
			errs := make([]error, 50)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = c.git(sshArgs(admin, ""), dst, "clone", "-q", c.url(port, "admin/r"), fmt.Sprintf("c%d", i))
				}()
			}
			wg.Wait()
			took := time.Since(start)
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			return took
		}
		both := clones(c.front)
		one := clones(a.ssh)
		t.Logf("50 concurrent clones: %v through HAProxy to two nodes, %v to one node", both.Round(time.Millisecond), one.Round(time.Millisecond))
	})

	// A push waits for the repository's lock another node holds, at
	// most --lock-wait, then is refused "busy, retry" with nothing changed.
	t.Run("repository busy", func(t *testing.T) {
		var repo struct{ ID int64 }
		if err := json.Unmarshal([]byte(c.cli("repo", "show", "admin/r", "--json")), &repo); err != nil || repo.ID == 0 {
			t.Fatalf("repo show: %v %+v", err, repo)
		}
		db, err := keys.OpenURL(c.data, c.db[1])
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		unlock, err := keys.NewRepoLockService(db).LockRepo(context.Background(), repo.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()
		clone := filepath.Join(t.TempDir(), "c")
		c.mustGit(admin, "", "clone", "-q", c.url(c.front, "admin/r"), clone)
		Commits(t, clone, "busy", 1)
		before := run(t, filepath.Join(c.data, "repos", "admin", "r.git"), "git", "rev-parse", "main")
		out, err := c.git(sshArgs(admin, ""), clone, "push", c.url(a.ssh, "admin/r"), "main")
		if err == nil || !strings.Contains(out, "repository busy, retry") {
			t.Fatalf("push while another node holds the lock: %v\n%s", err, out)
		}
		if after := run(t, filepath.Join(c.data, "repos", "admin", "r.git"), "git", "rev-parse", "main"); after != before {
			t.Fatalf("main moved from %s to %s on a refused push", before, after)
		}
		unlock()
		if out, err := c.git(sshArgs(admin, ""), clone, "push", c.url(a.ssh, "admin/r"), "main"); err != nil {
			t.Fatalf("push once the lock is free: %v\n%s", err, out)
		}
	})

	// What node a's API changes holds on node b's next connection.
	t.Run("changes through one node hold on the other", func(t *testing.T) {
		token := strings.TrimSpace(strings.SplitN(c.cli("token", "create", "admin", "--scope", "admin"), "\n", 2)[0])
		api := apiClient{tb: t, base: "http://127.0.0.1:" + a.http, token: token}
		if st := api.do("POST", "/users", map[string]any{"name": "bob"}, nil); st != http.StatusCreated {
			t.Fatalf("create bob on a: %d", st)
		}
		bob := NewKey(t)
		if ok, _ := c.login(b, bob, ""); ok {
			t.Fatal("bob got into b before his key was added")
		}
		if st := api.do("POST", "/users/bob/keys", map[string]any{"key": bob.Public}, nil); st != http.StatusCreated {
			t.Fatalf("add bob's key on a: %d", st)
		}
		if ok, out := c.login(b, bob, ""); !ok || !strings.Contains(out, "bob") {
			t.Fatalf("bob's key added on a does not let him into b: %s", out)
		}
		if st := api.do("PATCH", "/users/bob", map[string]any{"disabled": true}, nil); st != http.StatusOK {
			t.Fatalf("disable bob on a: %d", st)
		}
		if ok, out := c.login(b, bob, ""); ok {
			t.Fatalf("bob disabled on a still gets into b: %s", out)
		}
	})

	// The audit log shows the client's address, not HAProxy's.
	t.Run("audit address through haproxy", func(t *testing.T) {
		dst := t.TempDir()
		c.mustGit(admin, dst, "clone", "-q", c.url(c.front, "admin/r"), "c")
		var entries []struct {
			Action  string `json:"action"`
			Address string `json:"address"`
		}
		if err := json.Unmarshal([]byte(c.cli("audit", "--user", "admin", "--json")), &entries); err != nil {
			t.Fatal(err)
		}
		logins := 0
		for _, e := range entries {
			if strings.HasPrefix(e.Address, "127.0.0.3") {
				t.Fatalf("audit entry with HAProxy's address: %+v", e)
			}
			if e.Action == "login" && strings.HasPrefix(e.Address, "127.0.0.1:") {
				logins++
			}
		}
		if logins == 0 {
			t.Fatalf("no login from 127.0.0.1 audited: %+v", entries)
		}
	})

	// Background repacks asked for on both nodes at once run once.
	t.Run("repack once", func(t *testing.T) {
		w := Work(t, "main", 1)
		c.mustGit(admin, w, "push", c.url(a.ssh, "admin/busy"), "main")
		for i := range 7 { // eight packs: one short of a repack
			Commits(t, w, fmt.Sprintf("p%d", i), 1)
			n := []*clusterNode{a, b}[i%2]
			c.mustGit(admin, w, "push", c.url(n.ssh, "admin/busy"), "main")
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, n := range []*clusterNode{a, b} {
			branch := "x" + n.name
			run(t, w, "git", "branch", "-f", branch, "main")
			run(t, w, "git", "checkout", "-q", branch)
			Commits(t, w, branch, 1)
			run(t, w, "git", "checkout", "-q", "main")
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = c.git(sshArgs(admin, ""), w, "push", c.url(n.ssh, "admin/busy"), branch)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		repacked := regexp.MustCompile(`msg=repacked subsystem=repos repo=admin/busy`)
		packDir := filepath.Join(c.data, "repos", "admin", "busy.git", "objects", "pack")
		waitMinute(t, "the repack", func() bool {
			bms, _ := filepath.Glob(filepath.Join(packDir, "*.bitmap"))
			return len(bms) == 1 && len(repacked.FindAllString(a.log.String()+b.log.String(), -1)) >= 1
		})
		time.Sleep(2 * time.Second) // a second repack would have started by now
		if n := len(repacked.FindAllString(a.log.String()+b.log.String(), -1)); n != 1 {
			t.Fatalf("%d repacks, want 1", n)
		}
		run(t, filepath.Join(c.data, "repos", "admin", "busy.git"), "git", "fsck", "--full", "--strict")
	})

	// A node killed mid-clone: the client's retry through HAProxy is
	// served by the other node, and the killed node sweeps what it left
	// when it comes back (the other's files in use are left alone).
	t.Run("killed mid-clone", func(t *testing.T) {
		w := bigWork(t)
		big := make([]byte, 24<<20)
		readRandom(big)
		os.WriteFile(filepath.Join(w, "big2.bin"), big, 0o644)
		run(t, w, "git", "add", "big2.bin")
		run(t, w, "git", "commit", "-q", "-m", "bigger")
		c.mustGit(admin, w, "push", c.url(c.front, "admin/big"), "main")
		cacheDir := filepath.Join(c.data, "repos", "admin", "big.git", "gatehouse-cache")

		// The client reads a thousand reads (at most 4 MiB) and then stalls, so the
		// node serving it is caught mid-pack, writing its clone cache.
		wrapper := filepath.Join(t.TempDir(), "slow-ssh")
		os.WriteFile(wrapper, []byte("#!/bin/sh\nssh \"$@\" | { dd bs=4k count=1000 2>/dev/null; sleep 120; cat; }\n"), 0o755)
		ctx, cancel := context.WithCancel(context.Background())
		clone := exec.CommandContext(ctx, "git", "clone", "-q", c.url(c.front, "admin/big"), filepath.Join(t.TempDir(), "slow"))
		clone.Env = append(os.Environ(), "HOME="+t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_SSH_VARIANT=ssh", "GIT_SSH_COMMAND="+shellJoin(append([]string{wrapper}, sshArgs(admin, "")[1:]...)))
		clone.WaitDelay = time.Second
		if err := clone.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); clone.Wait() }()
		var serving *clusterNode
		waitMinute(t, "a node writing the clone cache", func() bool {
			for _, n := range []*clusterNode{a, b} {
				if holds(n.cmd.Process.Pid, cacheDir) {
					serving = n
					return true
				}
			}
			return false
		})
		other := a
		if serving == a {
			other = b
		}
		c.kill(serving)
		cancel()
		left, _ := filepath.Glob(filepath.Join(cacheDir, "tmp-*.pack"))
		if len(left) == 0 {
			t.Fatal("the killed node left no clone cache temporary (the test no longer kills it mid-clone)")
		}
		dst := t.TempDir()
		c.mustGit(admin, dst, "clone", "-q", c.url(c.front, "admin/big"), "c")
		run(t, filepath.Join(dst, "c"), "git", "fsck", "--full", "--strict")
		if got, want := run(t, filepath.Join(dst, "c"), "git", "rev-parse", "HEAD"), run(t, w, "git", "rev-parse", "HEAD"); got != want {
			t.Fatalf("retried clone HEAD %s, want %s", got, want)
		}
		if !strings.Contains(other.log.String(), "git-upload-pack") {
			t.Errorf("node %s did not log serving the retried clone", other.name)
		}
		// The killed node's temporary is unlocked now (its lock died with
		// it): the other node's cache pruning or the returning node's
		// sweep removes it, never a live writer's.
		sweeps := strings.Count(serving.log.String(), "sweep done")
		c.start(serving)
		waitMinute(t, "the returning node's sweep", func() bool { return strings.Count(serving.log.String(), "sweep done") > sweeps })
		for _, l := range left {
			if _, err := os.Stat(l); !os.IsNotExist(err) {
				t.Fatalf("%s left after node %s came back: %v", l, serving.name, err)
			}
		}
	})

	// Failed logins count for both nodes together: four allowed a
	// minute, two on each node and one more is a ban on both.
	t.Run("failed logins shared", func(t *testing.T) {
		stranger := NewKey(t)
		for i := range 5 {
			n := []*clusterNode{a, b}[i%2]
			if ok, out := c.login(n, stranger, "127.0.0.2"); ok {
				t.Fatalf("unknown key got in: %s", out)
			}
		}
		refused := regexp.MustCompile(`msg="ssh connection refused" subsystem=sshd conn=\w+ addr=127\.0\.0\.2:\d+ limit=auth-ban`)
		for _, n := range []*clusterNode{a, b} {
			if ok, out := c.login(n, admin, "127.0.0.2"); ok {
				t.Fatalf("node %s let a known key in after 5 failures on two nodes: %s", n.name, out)
			}
			if !refused.MatchString(n.log.String()) {
				t.Fatalf("node %s did not refuse the banned address", n.name)
			}
		}
		if ok, out := c.login(a, admin, ""); !ok {
			t.Fatalf("another address was banned too: %s", out)
		}
	})

	// SIGTERM: /readyz answers 503 at once, a running push finishes, and
	// HAProxy sends new clients to the other node.
	t.Run("drain", func(t *testing.T) {
		w := bigWork(t)
		done := make(chan error, 1)
		var out string
		wrapper := filepath.Join(t.TempDir(), "slow-ssh")
		os.WriteFile(wrapper, []byte("#!/bin/sh\nfifo=\"$(dirname \"$0\")/fifo\"\nmkfifo \"$fifo\"\nexec 3<&0\n{ dd bs=1 count=400 2>/dev/null; sleep 3; cat; } <&3 >\"$fifo\" &\nssh \"$@\" <\"$fifo\"\n"), 0o755)
		go func() {
			var err error
			out, err = c.git(append([]string{wrapper}, sshArgs(admin, "")[1:]...), w, "push", c.url(b.ssh, "admin/drain"), "main")
			done <- err
		}()
		quarantine := filepath.Join(c.data, "repos", "admin", "drain.git", "objects", "tmp_objdir-incoming-*")
		waitMinute(t, "the push to b", func() bool { m, _ := filepath.Glob(quarantine); return len(m) > 0 })
		b.cmd.Process.Signal(syscall.SIGTERM)
		waitMinute(t, "b's /readyz to fail", func() bool { return c.readyz(b) == http.StatusServiceUnavailable })
		select {
		case err := <-done:
			t.Fatalf("the push ended before b drained: %v\n%s", err, out)
		default:
		}
		if err := <-done; err != nil {
			t.Fatalf("push during the drain: %v\n%s", err, out)
		}
		<-b.exited
		if b.err != nil {
			t.Fatalf("b exited with %v", b.err)
		}
		dst := t.TempDir()
		c.mustGit(admin, dst, "clone", "-q", c.url(c.front, "admin/drain"), "c")
	})
}

// holds reports whether process pid has a file under dir open.
func holds(pid int, dir string) bool {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// clusterDB is the nodes' --db: a fresh PostgreSQL database on the
// server ./test.sh starts (the test fails without one).
func clusterDB(t *testing.T) []string { return []string{"--db", gittest.PostgresURL(t)} }
