package main_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	main "gatehouse/cmd/gatehouse"
	"gatehouse/gittest"
	"gatehouse/repos/indexpack/packtest"
)

// TestMaxObjectSize: a file over --max-object-size is refused with the
// limit named, and nothing is stored; one under it goes through.
func TestMaxObjectSize(t *testing.T) {
	s := MustRunMain(t, func(c *main.Config) { c.MaxObjectSize = 64 << 10 })
	alice := s.User("alice")
	url := s.URL("alice/big")
	work := Work(t, "main", 1)
	s.MustGit(alice, work, "push", url, "main")
	before := objectFiles(t, s.RepoDir("alice/big"))
	mainBefore := run(t, s.RepoDir("alice/big"), "git", "rev-parse", "main")

	big := make([]byte, 100<<10)
	if _, err := readRandom(big); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(work, "big.bin"), big, 0o644)
	run(t, work, "git", "add", "big.bin")
	run(t, work, "git", "commit", "-q", "-m", "big")
	out, err := s.Git(alice, work, "push", url, "main")
	if err == nil || !strings.Contains(out, "object too large: blob at offset") || !strings.Contains(out, "is 100 KiB, over the 64 KiB limit") {
		t.Fatalf("push: %v\n%s", err, out)
	}
	if got := objectFiles(t, s.RepoDir("alice/big")); strings.Join(got, "\n") != strings.Join(before, "\n") {
		t.Errorf("objects changed: %v", got)
	}
	if got := run(t, s.RepoDir("alice/big"), "git", "rev-parse", "main"); got != mainBefore {
		t.Fatalf("main moved to %s", got)
	}
	s.Fsck("alice/big")

	run(t, work, "git", "rm", "-q", "--cached", "big.bin")
	os.WriteFile(filepath.Join(work, "small.bin"), big[:60<<10], 0o644)
	run(t, work, "git", "add", "small.bin")
	run(t, work, "git", "commit", "-q", "--amend", "-m", "small")
	s.MustGit(alice, work, "push", url, "main")
	s.Fsck("alice/big")
}

// TestPushHangUpStopsResolving: a client that sends a pack whose deltas
// take long to resolve and hangs up has the work stopped and the
// quarantine removed at once, not when the work is done.
func TestPushHangUpStopsResolving(t *testing.T) {
	s := MustRunMain(t, func(c *main.Config) { c.MaxObjectSize = 600 << 20 })
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/slow")
	// 40 blobs of 512 MiB, each from one delta on 64 KiB of zeros:
	// minutes of hashing from a pack of a few kilobytes.
	entries := []packtest.Entry{packtest.Whole(plumbing.BlobObject, make([]byte, 64<<10))}
	for i := range 40 {
		ops := make([]packtest.Op, 0, 8193)
		for range 8191 {
			ops = append(ops, packtest.Copy(0, 64<<10))
		}
		ops = append(ops, packtest.Copy(0, 64<<10-8), packtest.Insert(fmt.Appendf(nil, "%08d", i)))
		entries = append(entries, packtest.OFS(0, packtest.Delta(64<<10, 512<<20, ops...)))
	}
	data := packtest.New(entries...).Bytes()
	req := packtest.PushRequest("report-status", []packtest.Command{{Old: packtest.ZeroID, New: strings.Repeat("1", 40), Ref: "refs/heads/main"}}, data)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append(s.SSHCommand(alice)[1:], "git@127.0.0.1", "git-receive-pack 'alice/slow.git'")
	cmd := exec.CommandContext(ctx, "ssh", args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	stdin.Write(req)
	// The pack is in quarantine, whole, once it has been read: resolving
	// has begun.
	quarantined := func() []string {
		m, _ := filepath.Glob(filepath.Join(s.RepoDir("alice/slow"), "objects", "tmp_objdir-incoming-*", "incoming.pack"))
		return m
	}
	waitFor(t, func() bool {
		m := quarantined()
		fi, err := os.Stat(strings.Join(m, ""))
		return len(m) == 1 && err == nil && fi.Size() == int64(len(data))
	}, "pack never reached quarantine")
	cmd.Process.Kill()
	waitFor(t, func() bool { return len(quarantined()) == 0 }, "still resolving after the client hung up")
	if out, errOut, err := (gittest.Cmd{Dir: s.RepoDir("alice/slow")}).Exec(t, "for-each-ref"); err != nil || len(out+errOut) != 0 {
		t.Errorf("refs: %v %s", err, out+errOut)
	}
	s.Fsck("alice/slow")
}
