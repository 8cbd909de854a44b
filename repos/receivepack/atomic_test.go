package receivepack_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestAtomicPush: with --atomic, one refused ref refuses them all and no
// ref moves; without it the others go through.
func TestAtomicPush(t *testing.T) {
	w := newWorld(t)
	w.commit("first", "README", "hello\n")
	w.git(w.work, "branch", "topic")
	w.mustPush("main", "topic")
	before := w.allRefs()
	w.commit("second", "README", "hello again\n")
	w.git(w.work, "branch", "-f", "topic")
	w.git(w.work, "branch", "new")

	out, err, hr := w.push("", []string{"GATEHOUSE_TEST_DENY=refs/heads/topic"}, "--atomic", "main", "topic", "new")
	if err == nil {
		t.Fatalf("atomic push with a refused ref succeeded:\n%s", out)
	}
	if got := w.allRefs(); got != before {
		t.Errorf("atomic push moved refs:\n%s\nbefore:\n%s", got, before)
	}
	for _, want := range []string{"topic (denied by policy second line)", "main (atomic transaction failed)", "new (atomic transaction failed)"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if hr.Result == nil || len(hr.Result.Updated.List()) != 0 {
		t.Errorf("Updated = %+v", hr.Result)
	}
	w.fsck()

	out, err, _ = w.push("", []string{"GATEHOUSE_TEST_DENY=refs/heads/topic"}, "main", "topic", "new")
	if err == nil || !strings.Contains(out, "topic (denied by policy") {
		t.Fatalf("plain push with a refused ref: %v\n%s", err, out)
	}
	if w.ref("refs/heads/main") != w.git(w.work, "rev-parse", "main") || w.ref("refs/heads/new") == "" {
		t.Errorf("plain push did not move the accepted refs:\n%s", out)
	}
	w.fsck()
}

// TestAtomicStale: a ref moved by someone else between the advertisement
// and the update fails the whole atomic push, including refs checked
// before it.
func TestAtomicStale(t *testing.T) {
	w := newWorld(t)
	first := w.commit("first", "README", "hello\n")
	w.git(w.work, "branch", "topic")
	w.mustPush("main", "topic")
	w.commit("second", "README", "two\n")
	w.git(w.work, "branch", "-f", "topic")
	// While the push is checked, another writer moves topic.
	other := w.git(w.work, "commit-tree", "-p", first, "-m", "someone else", first+"^{tree}")
	w.git(w.work, "push", "-q", w.bare, other+":refs/heads/elsewhere")
	before := w.ref("refs/heads/main")
	out, err, _ := w.push("", []string{"GATEHOUSE_TEST_MOVE_REF=refs/heads/topic " + other}, "--atomic", "main", "topic")
	if err == nil {
		t.Fatalf("atomic push over a moved ref succeeded:\n%s", out)
	}
	if got := w.ref("refs/heads/main"); got != before {
		t.Errorf("main moved to %s in a failed atomic push", got)
	}
	if got := w.ref("refs/heads/topic"); got != other {
		t.Errorf("topic is %s, want the other writer's %s", got, other)
	}
	if !strings.Contains(out, "main (atomic transaction failed)") {
		t.Errorf("output:\n%s", out)
	}
	w.fsck()
}

// TestPushOptions: push options are accepted and handed back in the
// result, in order.
func TestPushOptions(t *testing.T) {
	w := newWorld(t)
	w.commit("first", "README", "hello\n")
	hr := w.mustPush("-o", "ci.skip", "-o", "reviewer=ada lovelace", "main")
	if want := []string{"ci.skip", "reviewer=ada lovelace"}; !slices.Equal(hr.Result.PushOptions, want) {
		t.Errorf("PushOptions = %q, want %q", hr.Result.PushOptions, want)
	}
	w.fsck()
}

// TestAtomicRollback: when a ref fails at the last moment (its lock is
// held by another process), the refs already moved are put back.
func TestAtomicRollback(t *testing.T) {
	w := newWorld(t)
	w.commit("first", "README", "hello\n")
	w.git(w.work, "branch", "zzz")
	w.mustPush("main", "zzz")
	before := w.allRefs()
	w.commit("second", "README", "two\n")
	w.git(w.work, "branch", "-f", "zzz")
	w.git(w.work, "branch", "aaa")
	// main and aaa sort before zzz, so they are applied first.
	lock := filepath.Join(w.bare, "refs", "heads", "zzz.lock")
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err, hr := w.push("", nil, "--atomic", "main", "aaa", "zzz")
	os.Remove(lock)
	if err == nil {
		t.Fatalf("atomic push over a locked ref succeeded:\n%s", out)
	}
	if got := w.allRefs(); got != before {
		t.Errorf("refs after a rolled back atomic push:\n%s\nbefore:\n%s", got, before)
	}
	if !strings.Contains(out, "zzz (failed to lock)") || !strings.Contains(out, "main (atomic transaction failed)") {
		t.Errorf("output:\n%s", out)
	}
	if hr.Result == nil || len(hr.Result.Updated.List()) != 0 {
		t.Errorf("Updated = %+v", hr.Result)
	}
	w.fsck()
}
