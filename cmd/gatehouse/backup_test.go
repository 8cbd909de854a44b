package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	main "gatehouse/cmd/gatehouse"
	"gatehouse/repos/maintain"
)

// backupStats is what `backup --json` prints.
type backupStats struct {
	Snapshot string
	Repos    int
	Files    int
	Bytes    int64
	Copied   int64
	Linked   int64
	Reused   int64
	LeftOut  []string `json:"left_out"`
}

// runCLI runs the command line with its own --data, as another process.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := main.Run(context.Background(), args, strings.NewReader(""), &out, &out)
	return out.String(), code
}

// readManifest reads the manifest of a backup folder's latest snapshot.
func readBackupManifest(t *testing.T, dest string) (m struct {
	Repos []struct {
		Name string
		Head string
		Refs map[string]string
	}
	LeftOut []string `json:"left_out"`
}) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dest, "latest", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// A backup taken while pushes, repository creations and removals and
// repacks (deleting superseded packs at once) run is restored into a new
// folder; a server started on it serves every ref the manifest lists,
// every repository is fsck clean and rows and folders agree. A second
// backup reuses what the first wrote; verify finds a damaged file, and
// restore refuses it and a non-empty folder.
func TestBackupDuringPushes(t *testing.T) {
	old := maintain.GracePeriod
	maintain.GracePeriod = 0
	defer func() { maintain.GracePeriod = old }()

	s := MustRunMain(t)
	alice := s.User("alice")
	// Two repositories with history, one holding a 1 MiB blob that
	// neither compresses nor deltas, so that what a backup copies shows.
	var works []string
	for i, name := range []string{"alice/a", "alice/b"} {
		w := Work(t, "main", 5)
		if i == 0 {
			big := make([]byte, 1<<20)
			rand.Read(big)
			if err := os.WriteFile(filepath.Join(w, "big.bin"), big, 0o644); err != nil {
				t.Fatal(err)
			}
			run(t, w, "git", "add", "big.bin")
			run(t, w, "git", "commit", "-q", "-m", "big")
		}
		s.MustGit(alice, w, "push", s.URL(name), "main")
		works = append(works, w)
	}

	// Writers: pushes to both repositories, one branch per pusher,
	// repositories created by push and removed, repacks of alice/a.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := works[i%2]
			repo := []string{"alice/a", "alice/b"}[i%2]
			dir := t.TempDir()
			if _, err := gitIn("", "clone", "-q", w, dir); err != nil {
				errs <- err
				return
			}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("g%d-%d.txt", i, n)
				os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644)
				if _, err := gitIn(dir, "add", name); err != nil {
					errs <- err
					return
				}
				if _, err := gitIn(dir, "commit", "-q", "-m", name); err != nil {
					errs <- err
					return
				}
				if out, err := s.Git(alice, dir, "push", s.URL(repo), fmt.Sprintf("HEAD:refs/heads/g%d", i)); err != nil {
					errs <- fmt.Errorf("push during the backup: %v\n%s", err, out)
					return
				}
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			name := fmt.Sprintf("alice/tmp%d", n)
			if out, err := s.Git(alice, works[1], "push", s.URL(name), "main"); err != nil {
				errs <- fmt.Errorf("push-create: %v\n%s", err, out)
				return
			}
			if n%2 == 0 {
				if _, err := s.CLI("repo", "rm", name); err != nil {
					errs <- err
					return
				}
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := s.CLI("repo", "gc", "alice/a"); err != nil && !strings.Contains(err.Error(), "busy") {
				errs <- err
				return
			}
		}
	}()

	dest := filepath.Join(t.TempDir(), "backups")
	// Start once the writers are under way.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if out, _ := s.CLI("repo", "list"); strings.Contains(out, "alice/tmp2") || time.Now().After(deadline) {
			break
		}
	}
	var first backupStats
	for range 2 { // a second run while writers go on: incremental against the first
		out := s.MustCLI("backup", dest, "--json")
		if err := json.Unmarshal([]byte(out), &first); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	if first.Repos < 2 || first.Copied+first.Linked+first.Reused < first.Bytes {
		t.Fatalf("backup stats %+v", first)
	}
	if out := s.MustCLI("backup", "verify", dest); !strings.Contains(out, "all as the manifest says") {
		t.Fatalf("verify said:\n%s", out)
	}

	// Restore into a new folder and serve it.
	restored := filepath.Join(t.TempDir(), "data")
	if out, code := runCLI(t, "restore", dest, "--data", restored, "--progress"); code != 0 {
		t.Fatalf("restore: exit %d\n%s", code, out)
	}
	s2 := MustRunMain(t, func(c *main.Config) { c.Data = restored })
	s2.Data = restored
	if string(s2.Main.SSH.HostKeys[0].PublicKey().Marshal()) != string(s.Main.SSH.HostKeys[0].PublicKey().Marshal()) {
		t.Error("the restored server has another host key")
	}
	m := readBackupManifest(t, dest)
	if len(m.Repos) < 2 {
		t.Fatalf("manifest has %d repositories", len(m.Repos))
	}
	for _, r := range m.Repos {
		out := s2.MustGit(alice, "", "ls-remote", s2.URL(r.Name))
		got := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if id, ref, ok := strings.Cut(line, "\t"); ok && ref != "HEAD" {
				got[ref] = id
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(r.Refs) {
			t.Errorf("%s serves\n%v\nthe manifest has\n%v", r.Name, got, r.Refs)
		}
		s2.Fsck(r.Name)
	}
	if out := s2.MustCLI("check"); !strings.Contains(out, "no problems found") {
		t.Fatalf("check on the restored folder:\n%s", out)
	}
	// The restored server takes pushes.
	s2.MustGit(alice, works[1], "push", s2.URL("alice/b"), "main:refs/heads/after-restore")

	// With nothing pushed or repacked since the last, a backup copies no
	// pack again. (The first one here takes what the last repacks wrote;
	// a background repack the last pushes started may still end between
	// two, and then the next one is measured.)
	var again backupStats
	for try := 0; ; try++ {
		if err := json.Unmarshal([]byte(s.MustCLI("backup", dest, "--json")), &again); err != nil {
			t.Fatal(err)
		}
		if try > 0 && again.Linked == 0 || try == 4 {
			break
		}
		time.Sleep(time.Second)
	}
	t.Logf("first: %+v; again: %+v", first, again)
	if again.Reused < 1<<20 || again.Linked != 0 || again.Copied > again.Bytes/2 {
		t.Fatalf("second backup not incremental: %+v", again)
	}

	// Damage: one byte of the database copy.
	db := filepath.Join(dest, "latest", "gatehouse.db")
	data, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(db, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := s.CLI("backup", "verify", dest)
	if err == nil || !strings.Contains(out, "gatehouse.db: SHA-256") {
		t.Fatalf("verify of a damaged backup: %v\n%s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	if out, code := runCLI(t, "restore", dest, "--data", bad); code == 0 || !strings.Contains(out, "gatehouse.db") {
		t.Fatalf("restore of a damaged backup: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Fatalf("a failed restore left %s: %v", bad, err)
	}
	if out, code := runCLI(t, "restore", dest, "--data", restored); code == 0 || !strings.Contains(out, "not empty") {
		t.Fatalf("restore into a non-empty folder: exit %d\n%s", code, out)
	}
}

// --archive writes the snapshot as one .tar.zst, which verify and
// restore read as they read a backup folder, and whose damage they find.
func TestBackupArchive(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	w := Work(t, "main", 3)
	s.MustGit(alice, w, "push", s.URL("alice/x"), "main")
	s.MustGit(alice, w, "push", s.URL("alice/x"), "main:refs/tags/v1")

	dir := t.TempDir()
	archive := filepath.Join(dir, "backup.tar.zst")
	s.MustCLI("backup", filepath.Join(dir, "dest"), "--archive", archive)
	if out := s.MustCLI("backup", "verify", archive); !strings.Contains(out, "1 repositories") {
		t.Fatalf("verify said:\n%s", out)
	}
	restored := filepath.Join(dir, "data")
	if out, code := runCLI(t, "restore", archive, "--data", restored); code != 0 {
		t.Fatalf("restore: exit %d\n%s", code, out)
	}
	s2 := MustRunMain(t, func(c *main.Config) { c.Data = restored })
	s2.Data = restored
	want := s.MustGit(alice, "", "ls-remote", s.URL("alice/x"))
	if got := s2.MustGit(alice, "", "ls-remote", s2.URL("alice/x")); got != want {
		t.Fatalf("restored from the archive serves\n%s\nwant\n%s", got, want)
	}
	s2.Fsck("alice/x")

	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-100] ^= 0x55
	os.WriteFile(archive, data, 0o600)
	if out, err := s.CLI("backup", "verify", archive); err == nil {
		t.Fatalf("verify of a damaged archive passed:\n%s", out)
	}
}

// gitIn runs a local git command; unlike run, it may be called from any
// goroutine.
func gitIn(dir string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), gitIdentity...)
	cmd.Env = append(cmd.Env, "GIT_CONFIG_NOSYSTEM=1", "HOME="+os.TempDir())
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}
