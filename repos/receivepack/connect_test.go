package receivepack_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRefusedUpdateLeavesNothing: a push whose one update is refused for
// a missing parent, beside an update that is accepted, must not leave the
// refused commit in the repository; and a later push of that commit with
// no objects, as if the repository had it, must be refused too, even
// when the commit does sit in the repository (as one refused before this
// check was strict could).
func TestRefusedUpdateLeavesNothing(t *testing.T) {
	w := newWorld(t)
	a := w.commit("first", "README", "hello\n")
	w.mustPush("main")
	w.git(w.work, "checkout", "-q", "-b", "x")
	p := w.commit("parent, never pushed", "README", "parent\n")
	x := w.commit("child", "README", "child\n", "new.txt", "new\n")

	// A shallow clone has main and x but not x's parent, so git sends a
	// pack of x that lacks it.
	shallow := filepath.Join(w.home, "shallow")
	w.git("", "clone", "-q", "--depth=1", "--no-single-branch", "file://"+w.work, shallow)
	out, err, _ := w.push(shallow, nil, "refs/remotes/origin/main:refs/heads/a", "refs/remotes/origin/x:refs/heads/b")
	if err == nil {
		t.Fatalf("push of a commit without its parent succeeded:\n%s", out)
	}
	if !strings.Contains(out, "b (missing necessary objects)") {
		t.Errorf("b not refused for missing objects:\n%s", out)
	}
	if got := w.ref("refs/heads/a"); got != a {
		t.Errorf("a = %q, want %s:\n%s", got, a, out)
	}
	if w.ref("refs/heads/b") != "" {
		t.Fatalf("b was created:\n%s", out)
	}
	if w.has(x) {
		t.Errorf("the refused commit %s was stored", x)
	}
	w.fsck()

	// b = x again, now with an empty pack: x is not here, so it is refused.
	empty := w.packOf("")
	pushB := append(pkt(zero+" "+x+" refs/heads/b\x00report-status", ""), empty...)
	refused := []string{"unpack ok\n", "ng refs/heads/b missing necessary objects\n", ""}
	out2, err, hr := w.serveRaw(pushB)
	if err != nil || hr.Err != "" {
		t.Fatalf("helper: %v %s", err, hr.Err)
	}
	if got := afterAdvertisement(out2); strings.Join(got, "|") != strings.Join(refused, "|") {
		t.Errorf("empty-pack push of b:\n got %q\nwant %q", got, refused)
	}
	if w.ref("refs/heads/b") != "" || w.has(x) {
		t.Fatal("empty-pack push of b changed the repository")
	}
	w.fsck()

	// Plant x with its tree and blobs but not its parent, as a push
	// refused by an older server left it: being present is not enough.
	for _, id := range []string{x + "^{tree}", x + ":README", x + ":new.txt", x} {
		w.plant(w.git(w.work, "rev-parse", id))
	}
	if !w.has(x) || w.has(p) {
		t.Fatal("planting failed")
	}
	out2, err, hr = w.serveRaw(pushB)
	if err != nil || hr.Err != "" {
		t.Fatalf("helper: %v %s", err, hr.Err)
	}
	if got := afterAdvertisement(out2); strings.Join(got, "|") != strings.Join(refused, "|") {
		t.Errorf("empty-pack push of a present but unconnected b:\n got %q\nwant %q", got, refused)
	}
	if w.ref("refs/heads/b") != "" {
		t.Fatal("b was created")
	}
	// Sending the missing parent makes it whole.
	out, err, _ = w.push("", nil, "x:refs/heads/b")
	if err != nil || w.ref("refs/heads/b") != x {
		t.Fatalf("push of x with its parent: %v\n%s", err, out)
	}
	w.fsck()
}

// has says whether the bare repository has the object.
func (w *world) has(id string) bool {
	_, err := w.run(w.bare, nil, "git", "cat-file", "-e", id)
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			w.t.Fatalf("git cat-file: %v", err)
		}
	}
	return err == nil
}

// plant copies one object from the work repository into the bare one as
// a loose object, whatever it links to.
func (w *world) plant(id string) {
	w.t.Helper()
	typ := w.git(w.work, "cat-file", "-t", id)
	cmd := exec.Command("bash", "-c", `git -C "$1" cat-file "$2" "$3" | git -C "$4" hash-object -w -t "$2" --stdin`, "plant", w.work, typ, id, w.bare)
	cmd.Env = gitEnv(w.t)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != id {
		w.t.Fatalf("plant %s: %v\n%s", id, err, out)
	}
}
