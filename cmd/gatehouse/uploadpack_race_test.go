package main_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestReadsDuringPushes: clones and fetches, in both protocol versions,
// all succeed while another client pushes (each push a new pack and a
// moved ref) and the repository is repacked now and then. A read whose
// session opened the objects before a push and read the refs after it
// used to fail with "internal server error".
func TestReadsDuringPushes(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	url := s.URL("alice/busy")
	work := Work(t, "main", 3)
	s.MustGit(alice, work, "push", "-q", url, "main")
	fetcher := filepath.Join(t.TempDir(), "fetcher")
	s.MustGit(alice, "", "clone", "-q", url, fetcher)

	// The pusher runs on its own goroutine, so it records its failures
	// for the test's goroutine to report.
	env := s.gitEnv(alice)
	ctx, stop := context.WithCancel(context.Background())
	var (
		wg        sync.WaitGroup
		pushErr   error
		pushes    int
		pushesMu  sync.Mutex
		gitInWork = func(args ...string) error {
			cmd := exec.Command("git", args...)
			cmd.Dir = work
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return nil
		}
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			name := fmt.Sprintf("push-%d.txt", i)
			if err := os.WriteFile(filepath.Join(work, name), []byte(name+"\n"), 0o644); err != nil {
				pushErr = err
				return
			}
			for _, args := range [][]string{{"add", name}, {"commit", "-q", "-m", name}, {"push", "-q", url, "main"}} {
				if err := gitInWork(args...); err != nil {
					pushErr = err
					return
				}
			}
			if i%10 == 9 {
				if _, err := s.CLI("repo", "gc", "alice/busy"); err != nil {
					pushErr = err
					return
				}
			}
			pushesMu.Lock()
			pushes++
			pushesMu.Unlock()
		}
	}()

	var failures []string
	const rounds = 30
	for i := 0; i < rounds; i++ {
		proto := []string{"0", "2"}[i%2]
		clone := filepath.Join(t.TempDir(), "c")
		if out, err := s.Git(alice, "", "-c", "protocol.version="+proto, "clone", "-q", url, clone); err != nil {
			failures = append(failures, fmt.Sprintf("clone v%s: %v\n%s", proto, err, out))
		}
		other := []string{"2", "0"}[i%2]
		if out, err := s.Git(alice, fetcher, "-c", "protocol.version="+other, "fetch", "-q", "origin"); err != nil {
			failures = append(failures, fmt.Sprintf("fetch v%s: %v\n%s", other, err, out))
		}
	}
	stop()
	wg.Wait()
	if pushErr != nil {
		t.Errorf("pusher: %v", pushErr)
	}
	t.Logf("%d reads during %d pushes", 2*rounds, pushes)
	if pushes == 0 {
		t.Errorf("no push landed while reading")
	}
	if len(failures) > 0 {
		t.Errorf("%d of %d reads failed; first:\n%s", len(failures), 2*rounds, failures[0])
	}
	run(t, fetcher, "git", "fsck", "--full", "--strict")
	s.Fsck("alice/busy")
}
