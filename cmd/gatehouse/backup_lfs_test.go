package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	main "gatehouse/cmd/gatehouse"
)

// A backup carries a repository's LFS objects (not the uploads still
// being written) and its hooks, and the server-wide hooks: restored into
// a new folder and served, a git-lfs clone gets the file byte-identical,
// and both hooks still run on a push, the repository's still refusing
// what it refused. A second backup writes no LFS object again.
func TestBackupLFSAndHooks(t *testing.T) {
	s := MustRunMain(t)
	aliceKey := s.User("alice")
	alice := newLFSClient(t, s, aliceKey)
	s.MustCLI("repo", "create", "alice/art")
	installHook(t, filepath.Join(s.RepoDir("alice/art"), "hooks", "pre-receive"), `while read old new ref; do
	if [ "$ref" = refs/heads/blocked ]; then echo "repo hook: nothing goes to blocked" >&2; exit 1; fi
done
echo repo-hook-ran
`)
	installHook(t, s.globalHook("post-receive", "10-note"), "echo server-hook-ran\n")

	work := t.TempDir()
	run(t, work, "git", "init", "-q", "-b", "main")
	alice.must(t, work, "lfs", "track", "*.bin")
	big := randomFile(t, work, "big.bin", 3<<20+17)
	alice.must(t, work, "add", ".")
	alice.must(t, work, "commit", "-q", "-m", "assets")
	if out := alice.must(t, work, "push", s.URL("alice/art"), "main"); !strings.Contains(out, "repo-hook-ran") || !strings.Contains(out, "server-hook-ran") {
		t.Fatalf("the hooks did not run on the first push:\n%s", out)
	}
	sameFile(t, s.lfsObject("alice/art", oidOf(big)), big)
	// What a server killed during an upload leaves behind.
	incoming := filepath.Join(s.RepoDir("alice/art"), "lfs", "incoming", oidOf(big)[:16]+"-killed")
	if err := os.WriteFile(incoming, big[:1000], 0o600); err != nil {
		t.Fatal(err)
	}

	dest := filepath.Join(t.TempDir(), "backups")
	backupOnce := func() backupStats {
		t.Helper()
		var st backupStats
		out := s.MustCLI("backup", dest, "--json")
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return st
	}
	objRel := strings.TrimPrefix(s.lfsObject("alice/art", oidOf(big)), s.Data+string(filepath.Separator))
	first := backupOnce()
	inFirst, err := os.Stat(filepath.Join(dest, "latest", objRel))
	if err != nil {
		t.Fatalf("the LFS object is not in the backup: %v", err)
	}
	again := backupOnce()
	inAgain, err := os.Stat(filepath.Join(dest, "latest", objRel))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first: %+v; again: %+v", first, again)
	if !os.SameFile(inFirst, inAgain) || again.Reused < int64(len(big)) || again.Copied >= int64(len(big)) {
		t.Errorf("the second backup wrote the LFS object again: %+v", again)
	}
	if out := s.MustCLI("backup", "verify", dest); !strings.Contains(out, "all as the manifest says") {
		t.Fatalf("verify said:\n%s", out)
	}

	restored := filepath.Join(t.TempDir(), "data")
	if out, code := runCLI(t, "restore", dest, "--data", restored); code != 0 {
		t.Fatalf("restore: exit %d\n%s", code, out)
	}
	if left, _ := filepath.Glob(filepath.Join(restored, "repos", "alice", "art.git", "lfs", "incoming", "*")); len(left) != 0 {
		t.Errorf("unfinished uploads were restored: %v", left)
	}
	s2 := MustRunMain(t, func(c *main.Config) { c.Data = restored })
	s2.Data = restored
	alice2 := newLFSClient(t, s2, aliceKey)
	clone := filepath.Join(t.TempDir(), "c")
	alice2.must(t, "", "clone", s2.URL("alice/art"), clone)
	sameFile(t, filepath.Join(clone, "big.bin"), big)

	// The hooks came back and run.
	Commits(t, clone, "more", 1)
	out, err := alice2.git(t, clone, "push", "origin", "HEAD:refs/heads/blocked")
	if err == nil || !strings.Contains(out, "repo hook: nothing goes to blocked") {
		t.Errorf("the restored repository hook did not refuse: %v\n%s", err, out)
	}
	out = alice2.must(t, clone, "push", "origin", "HEAD:main")
	if !strings.Contains(out, "repo-hook-ran") || !strings.Contains(out, "server-hook-ran") {
		t.Errorf("the restored hooks did not run:\n%s", out)
	}
}
