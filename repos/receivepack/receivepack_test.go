package receivepack_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gatehouse"
)

const zero = "0000000000000000000000000000000000000000"

func TestFirstPushSetsHead(t *testing.T) {
	tests := []struct {
		name     string
		branches []string // created in the work repository and pushed
		head     string   // HEAD's target afterwards
		reported string   // PushResult.Head
	}{
		{"main", []string{"main"}, "refs/heads/main", "main"},
		{"other branch", []string{"trunk"}, "refs/heads/trunk", "trunk"},
		{"main preferred", []string{"aaa", "main", "zzz"}, "refs/heads/main", "main"},
		{"first created", []string{"bbb", "ccc"}, "refs/heads/bbb", "bbb"},
		// HEAD's own target was created: HEAD is left as it is.
		{"head target created", []string{"aaa", "master"}, "refs/heads/master", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			// git init --bare without configuration points HEAD at master.
			if got := w.git(w.bare, "symbolic-ref", "HEAD"); got != "refs/heads/master" {
				t.Fatalf("fixture HEAD = %s", got)
			}
			c := w.commit("first", "README", "hello\n")
			var specs []string
			for _, b := range tt.branches {
				if b != "main" {
					w.git(w.work, "branch", b, c)
				}
				specs = append(specs, b)
			}
			hr := w.mustPush(specs...)
			if got := w.git(w.bare, "symbolic-ref", "HEAD"); got != tt.head {
				t.Errorf("HEAD = %s, want %s", got, tt.head)
			}
			if hr.Result.Head != tt.reported {
				t.Errorf("PushResult.Head = %q, want %q", hr.Result.Head, tt.reported)
			}
			if len(hr.Result.Updated.List()) != len(tt.branches) {
				t.Errorf("Updated = %+v", hr.Result.Updated.List())
			}
			for _, u := range hr.Result.Updated.List() {
				if u.Old != zero || u.New != c || u.Forced {
					t.Errorf("update %+v", u)
				}
			}
			w.fsck()
		})
	}
}

func TestPushFastForwardForceDelete(t *testing.T) {
	w := newWorld(t)
	c1 := w.commit("first", "a", "1\n")
	w.mustPush("main")
	c2 := w.commit("second", "a", "2\n")
	hr := w.mustPush("main")
	if want := (gatehouse.RefUpdate{Name: "refs/heads/main", Old: c1, New: c2}); len(hr.Result.Updated.List()) != 1 || hr.Result.Updated.List()[0] != want {
		t.Errorf("ff: Updated = %+v, want %+v", hr.Result.Updated.List(), want)
	}

	// Rewrite the last commit: without --force git refuses on its side.
	w.git(w.work, "reset", "-q", "--hard", c1)
	c3 := w.commit("rewritten", "a", "3\n")
	if out, err, _ := w.push("", nil, "main"); err == nil || !strings.Contains(out, "non-fast-forward") {
		t.Fatalf("non-ff push: %v\n%s", err, out)
	}
	if got := w.ref("refs/heads/main"); got != c2 {
		t.Fatalf("main = %s after refused push, want %s", got, c2)
	}
	hr = w.mustPush("--force", "main")
	if want := (gatehouse.RefUpdate{Name: "refs/heads/main", Old: c2, New: c3, Forced: true}); len(hr.Result.Updated.List()) != 1 || hr.Result.Updated.List()[0] != want {
		t.Errorf("force: Updated = %+v, want %+v", hr.Result.Updated.List(), want)
	}

	// A second branch, then a push that only deletes it: no pack follows.
	w.mustPush("main:refs/heads/topic")
	hr = w.mustPush(":topic")
	if want := (gatehouse.RefUpdate{Name: "refs/heads/topic", Old: c3, New: zero}); len(hr.Result.Updated.List()) != 1 || hr.Result.Updated.List()[0] != want {
		t.Errorf("delete: Updated = %+v, want %+v", hr.Result.Updated.List(), want)
	}
	if got := w.ref("refs/heads/topic"); got != "" {
		t.Errorf("topic still at %s", got)
	}
	w.fsck()
}

func TestPushTags(t *testing.T) {
	w := newWorld(t)
	c := w.commit("first", "a", "1\n")
	w.mustPush("main")
	w.git(w.work, "tag", "light")
	w.git(w.work, "tag", "-a", "-m", "annotated", "heavy")
	tagID := w.git(w.work, "rev-parse", "refs/tags/heavy")
	hr := w.mustPush("--tags")
	if len(hr.Result.Updated.List()) != 2 {
		t.Errorf("Updated = %+v", hr.Result.Updated.List())
	}
	if got := w.ref("refs/tags/light"); got != c {
		t.Errorf("light = %s, want %s", got, c)
	}
	if got := w.ref("refs/tags/heavy"); got != tagID {
		t.Errorf("heavy = %s, want %s", got, tagID)
	}
	if typ := w.git(w.bare, "cat-file", "-t", tagID); typ != "tag" {
		t.Errorf("heavy is a %s", typ)
	}
	// Moved tags: the lightweight one still descends, the annotated one
	// is replaced by another tag object, which is forced.
	c2 := w.commit("second", "a", "2\n")
	w.git(w.work, "tag", "-f", "light")
	w.git(w.work, "tag", "-f", "-a", "-m", "moved", "heavy")
	hr = w.mustPush("--force", "main", "refs/tags/light", "refs/tags/heavy")
	forced := map[string]bool{}
	for _, u := range hr.Result.Updated.List() {
		forced[u.Name] = u.Forced
	}
	if len(forced) != 3 || forced["refs/heads/main"] || forced["refs/tags/light"] || !forced["refs/tags/heavy"] {
		t.Errorf("Updated = %+v", hr.Result.Updated.List())
	}
	if got := w.ref("refs/tags/light"); got != c2 {
		t.Errorf("light = %s, want %s", got, c2)
	}
	w.fsck()
}

func TestPushThinPack(t *testing.T) {
	w := newWorld(t)
	var big strings.Builder
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&big, "line %d of a file long enough for git to send a delta\n", i)
	}
	w.commit("first", "big.txt", big.String())
	w.mustPush("main")
	w.commit("second", "big.txt", strings.Replace(big.String(), "line 1500 ", "LINE 1500 ", 1))
	out, err, hr := w.push("", nil, "--progress", "main")
	if err != nil || hr.Err != "" {
		t.Fatalf("push: %v %s\n%s", err, hr.Err, out)
	}
	// The base came from the repository: the pack was thin.
	if !strings.Contains(out, "completed with 1 local object") {
		t.Errorf("no thin pack resolved:\n%s", out)
	}
	packs, _ := filepath.Glob(filepath.Join(w.bare, "objects", "pack", "pack-*.idx"))
	if len(packs) != 2 {
		t.Fatalf("packs: %v", packs)
	}
	for _, p := range packs {
		// verify-pack resolves every delta in the pack alone.
		w.git(w.bare, "verify-pack", p)
	}
	w.fsck()
}

func TestPushUpToDate(t *testing.T) {
	w := newWorld(t)
	w.commit("first", "a", "1\n")
	w.mustPush("main")
	before := w.objects()
	out, err, hr := w.push("", nil, "main")
	if err != nil || !strings.Contains(out, "Everything up-to-date") {
		t.Fatalf("push: %v\n%s", err, out)
	}
	if hr.Err != "" || hr.Result == nil || len(hr.Result.Updated.List()) != 0 {
		t.Errorf("result = %+v", hr)
	}
	if after := w.objects(); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("objects changed: %v -> %v", before, after)
	}
}

func TestPushStale(t *testing.T) {
	w := newWorld(t)
	c1 := w.commit("first", "a", "1\n")
	w.commit("second", "a", "2\n")
	w.mustPush("main")
	c3 := w.commit("third", "a", "3\n")
	before := w.objects()
	// Between the advertisement and the update, main moves back to c1.
	out, err, hr := w.push("", []string{"GATEHOUSE_TEST_MOVE_REF=refs/heads/main " + c1}, "main")
	if err == nil || !strings.Contains(out, "[remote rejected] main -> main (stale info)") {
		t.Fatalf("push: %v\n%s", err, out)
	}
	if got := w.ref("refs/heads/main"); got != c1 {
		t.Errorf("main = %s, want %s (the concurrent update)", got, c1)
	}
	if hr.Result == nil || len(hr.Result.Updated.List()) != 0 {
		t.Errorf("result = %+v", hr)
	}
	// No ref took the pack, so it was not kept.
	if after := w.objects(); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("objects changed: %v -> %v", before, after)
	}
	if _, err := w.run(w.bare, nil, "git", "cat-file", "-e", c3); err == nil {
		t.Errorf("%s stored though refused", c3)
	}
	w.fsck()
}

func TestPushDenied(t *testing.T) {
	w := newWorld(t)
	w.commit("first", "a", "1\n")
	w.mustPush("main")
	w.commit("second", "a", "2\n")
	w.git(w.work, "branch", "side")
	before, refsBefore := w.objects(), w.allRefs()
	out, err, hr := w.push("", []string{"GATEHOUSE_TEST_DENY=refs/heads/main"}, "main")
	if err == nil || !strings.Contains(out, "[remote rejected] main -> main (denied by policy second line)") {
		t.Fatalf("push: %v\n%s", err, out)
	}
	if after := w.objects(); strings.Join(after, " ") != strings.Join(before, " ") || w.allRefs() != refsBefore {
		t.Errorf("repository changed")
	}
	// One ref refused, one accepted: the accepted one lands.
	out, err, hr = w.push("", []string{"GATEHOUSE_TEST_DENY=refs/heads/main"}, "main", "side")
	if err == nil || !strings.Contains(out, "* [new branch]      side -> side") {
		t.Fatalf("push: %v\n%s", err, out)
	}
	if len(hr.Result.Updated.List()) != 1 || hr.Result.Updated.List()[0].Name != "refs/heads/side" {
		t.Errorf("Updated = %+v", hr.Result.Updated.List())
	}
	w.fsck()
}

func TestPushConcurrent(t *testing.T) {
	w := newWorld(t)
	w.commit("base", "a", "0\n")
	w.mustPush("main")
	clones := make([]string, 2)
	for i := range clones {
		clones[i] = filepath.Join(t.TempDir(), "clone")
		w.git("", "clone", "-q", "file://"+w.bare, clones[i])
	}
	for round := 0; round < 5; round++ {
		ids := make([]string, 2)
		for i, dir := range clones {
			w.git(dir, "fetch", "-q", "origin")
			w.git(dir, "reset", "-q", "--hard", "origin/main")
			os.WriteFile(filepath.Join(dir, "a"), []byte(fmt.Sprintf("round %d clone %d\n", round, i)), 0o644)
			w.git(dir, "commit", "-q", "-am", fmt.Sprintf("round %d clone %d", round, i))
			ids[i] = w.git(dir, "rev-parse", "HEAD")
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		outs := make([]string, 2)
		for i, dir := range clones {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i], errs[i], _ = w.push(dir, nil, "main")
			}()
		}
		wg.Wait()
		winners := 0
		for i := range clones {
			if errs[i] == nil {
				winners++
				if got := w.ref("refs/heads/main"); got != ids[i] {
					t.Errorf("round %d: main = %s, winner pushed %s", round, got, ids[i])
				}
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d winners\n%s\n---\n%s", round, winners, outs[0], outs[1])
		}
	}
	w.fsck()
}

// cutPushRepo prepares a push whose pack is large (incompressible) so the
// stream can be cut in the middle.
func cutPushRepo(t *testing.T) *world {
	w := newWorld(t)
	w.commit("first", "a", "1\n")
	w.mustPush("main")
	blob := make([]byte, 4<<20)
	rand.Read(blob)
	w.commit("big", "random.bin", string(blob))
	return w
}

func TestPushKilledMidTransfer(t *testing.T) {
	w := cutPushRepo(t)
	before, refsBefore := w.objects(), w.allRefs()
	result := filepath.Join(w.home, "killed.json")
	env := []string{"GATEHOUSE_TEST_RECEIVEPACK=1", "GATEHOUSE_TEST_RESULT=" + result,
		"GATEHOUSE_TEST_SLOW=1", "GATEHOUSE_TEST_OWN_PGID=1"}
	cmd := exec.Command("git", "-c", "protocol.version=0", "push", "--receive-pack="+w.exe, "file://"+w.bare, "main")
	cmd.Dir = w.work
	cmd.Env = append(gitEnv(w.t), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Wait for the quarantine to appear, let some data flow, then kill
	// the client and everything it started.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(w.bare, "objects", "tmp_objdir-incoming-*")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatal("no quarantine appeared")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
	// The server notices the stream end, cleans up and writes its result.
	var hr []byte
	for deadline = time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(result); err == nil {
			hr = b
			break
		}
	}
	if !bytes.Contains(hr, []byte("cut short")) {
		t.Fatalf("helper result = %s", hr)
	}
	if after := w.objects(); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("objects changed: %v -> %v", before, after)
	}
	if w.allRefs() != refsBefore {
		t.Errorf("refs changed")
	}
	w.fsck()
}
