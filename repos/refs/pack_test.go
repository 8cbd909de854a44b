package refs_test

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/gittest"
	"gatehouse/repos/odb"
	"gatehouse/repos/refs"
)

func peeler(tb testing.TB, dir string) refs.Peeler {
	r := odb.OpenReader(dir, odb.Limits{})
	tb.Cleanup(func() { r.Close() })
	return func(id string) (string, error) {
		t, err := r.Peel(plumbing.NewHash(id))
		if err != nil || t.IsZero() {
			return "", err
		}
		return t.String(), nil
	}
}

// looseFiles lists the files under refs/.
func looseFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(dir, "refs"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, path)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// copyRepo copies a bare repository with cp -a.
func copyRepo(tb testing.TB, dir string) string {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), "copy.git")
	if out, err := exec.Command("cp", "-a", dir, dst).CombinedOutput(); err != nil {
		tb.Fatalf("cp: %v\n%s", err, out)
	}
	return dst
}

func TestPackMatchesGit(t *testing.T) {
	dir, c1, c2 := mustRepo(t)
	// Nested names that sort differently from the walk ("a-b" < "a/b"),
	// a tag of a tag, and a packed ref that a loose one hides.
	gittest.Run(t, dir, "tag", "-a", "-m", "outer", "v1-outer", "v1")
	for _, u := range []refs.Update{
		{Name: "refs/heads/a/b", Old: refs.ZeroID, New: c1},
		{Name: "refs/heads/a-b", Old: refs.ZeroID, New: c2},
		{Name: "refs/pull/1/head", Old: refs.ZeroID, New: c2},
	} {
		if err := refs.Apply(dir, u); err != nil {
			t.Fatal(err)
		}
	}
	gittest.Run(t, dir, "pack-refs", "--all")
	if err := refs.Apply(dir, refs.Update{Name: "refs/heads/old", Old: c1, New: c2}); err != nil {
		t.Fatal(err)
	}
	if err := refs.Apply(dir, refs.Update{Name: "refs/heads/new", Old: refs.ZeroID, New: c1}); err != nil {
		t.Fatal(err)
	}
	wantRefs, wantShow := forEachRef(t, dir), gittest.Run(t, dir, "show-ref", "-d")
	gitCopy := copyRepo(t, dir)
	gittest.Run(t, gitCopy, "pack-refs", "--all", "--prune")

	n, err := refs.Pack(dir, peeler(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("packed %d loose refs, want 2", n)
	}
	if left := looseFiles(t, dir); len(left) != 0 {
		t.Errorf("loose files left: %v", left)
	}
	if got := forEachRef(t, dir); got != wantRefs {
		t.Errorf("for-each-ref after Pack:\n%s\nwant:\n%s", got, wantRefs)
	}
	if got := gittest.Run(t, dir, "show-ref", "-d"); got != wantShow {
		t.Errorf("show-ref -d after Pack:\n%s\nwant:\n%s", got, wantShow)
	}
	if got := listString(t, dir); got != wantRefs {
		t.Errorf("List after Pack:\n%s\nwant:\n%s", got, wantRefs)
	}
	gittest.Run(t, dir, "fsck", "--strict")
	ours, _ := os.ReadFile(filepath.Join(dir, "packed-refs"))
	theirs, _ := os.ReadFile(filepath.Join(gitCopy, "packed-refs"))
	if string(ours) != string(theirs) {
		t.Errorf("packed-refs:\n%s\nwant (git pack-refs --all --prune):\n%s", ours, theirs)
	}
	// Nothing left to pack: nothing is rewritten.
	if n, err := refs.Pack(dir, peeler(t, dir)); n != 0 || err != nil {
		t.Errorf("second Pack = %d, %v", n, err)
	}
	// Updates and deletes of packed refs work as before, and git agrees.
	if err := refs.Apply(dir, refs.Update{Name: "refs/heads/a/b", Old: c1, New: c2}); err != nil {
		t.Fatal(err)
	}
	if err := refs.Apply(dir, refs.Update{Name: "refs/tags/v1", Old: gittest.Run(t, dir, "rev-parse", "refs/tags/v1"), New: refs.ZeroID}); err != nil {
		t.Fatal(err)
	}
	gittest.Run(t, gitCopy, "update-ref", "refs/heads/a/b", c2, c1)
	gittest.Run(t, gitCopy, "update-ref", "-d", "refs/tags/v1")
	if got, want := forEachRef(t, dir), forEachRef(t, gitCopy); got != want {
		t.Errorf("after updates:\n%s\nwant:\n%s", got, want)
	}
	if got, want := gittest.Run(t, dir, "show-ref", "-d"), gittest.Run(t, gitCopy, "show-ref", "-d"); got != want {
		t.Errorf("show-ref -d after updates:\n%s\nwant:\n%s", got, want)
	}
}

func TestEachPrefixes(t *testing.T) {
	dir, c1, c2 := mustRepo(t)
	var us []refs.Update
	for i := range 50 {
		us = append(us, refs.Update{Name: fmt.Sprintf("refs/pull/%d/head", i), Old: refs.ZeroID, New: c1})
		us = append(us, refs.Update{Name: fmt.Sprintf("refs/tags/t%02d", i), Old: refs.ZeroID, New: c2})
	}
	for _, err := range refs.ApplyBatch(dir, us, refs.BatchOptions{Atomic: true}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := refs.Pack(dir, peeler(t, dir)); err != nil {
		t.Fatal(err)
	}
	// Some loose again, hiding packed ones or new.
	for _, u := range []refs.Update{
		{Name: "refs/pull/7/head", Old: c1, New: c2},
		{Name: "refs/pull/7-x", Old: refs.ZeroID, New: c2},
		{Name: "refs/tags/t10", Old: c2, New: c1},
		{Name: "refs/tags/t3", Old: refs.ZeroID, New: c1},
	} {
		if err := refs.Apply(dir, u); err != nil {
			t.Fatal(err)
		}
	}
	all, err := refs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := listString(t, dir), forEachRef(t, dir); got != want {
		t.Fatalf("List:\n%s\nwant:\n%s", got, want)
	}
	for _, ps := range [][]string{
		nil, {""}, {"refs/"}, {"refs/tags/"}, {"refs/tags/t1"}, {"refs/pull/7"}, {"refs/pull/7/"},
		{"refs/tags/", "refs/heads/"}, {"refs/heads/main", "refs/tags/main", "refs/heads/"},
		{"refs/zzz"}, {"HEAD"}, {"re"}, {"refs/tags/t49"}, {"refs/tags/t3", "refs/pull/1"},
	} {
		var want []refs.Ref
		for _, r := range all {
			if len(ps) == 0 || slices.ContainsFunc(ps, func(p string) bool { return strings.HasPrefix(r.Name, p) }) {
				want = append(want, r)
			}
		}
		var got []refs.Ref
		for r, err := range refs.Each(dir, ps...) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Each(%q) =\n%v\nwant\n%v", ps, got, want)
		}
	}
}

// TestPackRacesUpdates packs again and again while updates create, move
// and delete refs, loose and packed; every update that succeeded shows in
// the end and git reads the result.
func TestPackRacesUpdates(t *testing.T) {
	dir, c1, c2 := mustRepo(t)
	tag := gittest.Run(t, dir, "rev-parse", "refs/tags/v1")
	ids := []string{c1, c2, tag}
	const writers, refsEach, rounds = 4, 20, 30
	// Half the writers create refs into packed-refs whenever a batch
	// creates a few.
	defer func(n int) { *refs.PackedCreates = n }(*refs.PackedCreates)
	*refs.PackedCreates = 3
	peel := peeler(t, dir)
	final := make([]map[string]string, writers)
	applied := make([]int, writers) // updates that went in, per writer
	var wg sync.WaitGroup
	for w := range writers {
		final[w] = make(map[string]string)
		wg.Go(func() {
			cur := final[w]
			for round := range rounds {
				var us []refs.Update
				for i := range refsEach {
					// Branches hold commits, tags also the annotated tag.
					name, choice := fmt.Sprintf("refs/heads/w%d/r%d", w, i), ids[:2]
					if i%2 == 1 {
						name, choice = fmt.Sprintf("refs/tags/w%d-%d", w, i), ids
					}
					old := cur[name]
					if old == "" {
						old = refs.ZeroID
					}
					next := choice[(round+i)%len(choice)]
					if (round+i)%5 == 4 {
						next = refs.ZeroID
					}
					if old == refs.ZeroID && next == refs.ZeroID {
						continue
					}
					us = append(us, refs.Update{Name: name, Old: old, New: next})
				}
				opts := refs.BatchOptions{Atomic: round%3 == 0}
				if w%2 == 0 {
					opts.Peel = peel
				}
				for i, err := range refs.ApplyBatch(dir, us, opts) {
					if err != nil {
						continue // locked by Pack or the abort of its batch: stays as it was
					}
					applied[w]++
					if us[i].New == refs.ZeroID {
						delete(cur, us[i].Name)
					} else {
						cur[us[i].Name] = us[i].New
					}
				}
			}
		})
	}
	var stopped atomic.Bool
	done := make(chan struct{})
	packs := 0
	var packErr error
	go func() {
		defer close(done)
		p := peeler(t, dir)
		for {
			_, err := refs.Pack(dir, p)
			if errors.Is(err, refs.ErrLocked) {
				continue // deletes held packed-refs: try again
			}
			if err != nil {
				packErr = err
				return
			}
			packs++
			if stopped.Load() {
				return
			}
		}
	}()
	wg.Wait()
	stopped.Store(true)
	<-done
	if packErr != nil {
		t.Fatal(packErr)
	}
	// The race is only a race if updates went in while packing went on.
	for w, n := range applied {
		if n == 0 {
			t.Fatalf("writer %d applied no update beside %d packs", w, packs)
		}
	}
	want := map[string]string{"refs/heads/main": c2, "refs/heads/old": c1, "refs/tags/light": c1, "refs/tags/v1": tag}
	for _, m := range final {
		for k, v := range m {
			want[k] = v
		}
	}
	got := map[string]string{}
	rs, err := refs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		got[r.Name] = r.ID
	}
	if !maps.Equal(got, want) {
		t.Errorf("after %d packs: refs\n%v\nwant\n%v", packs, got, want)
	}
	if _, err := refs.Pack(dir, peeler(t, dir)); err != nil {
		t.Fatal(err)
	}
	if got, want := listString(t, dir), forEachRef(t, dir); got != want {
		t.Errorf("List after the last Pack:\n%s\nwant (git):\n%s", got, want)
	}
	gittest.Run(t, dir, "fsck", "--strict")
	t.Logf("%d packs during the updates", packs)
}

// TestApplyBatchPacked: a batch creating many refs writes them into
// packed-refs, fully peeled, beside the loose update and the delete of the
// same batch; git reads the result as it reads its own. Atomic, a stale
// update leaves everything as it was; with packed-refs locked by someone
// else, the created refs go loose. Pack then removes the directories left
// empty.
func TestApplyBatchPacked(t *testing.T) {
	z := refs.ZeroID
	dir, c1, c2 := mustRepo(t)
	gitCopy := copyRepo(t, dir)
	v1 := gittest.Run(t, dir, "rev-parse", "refs/tags/v1")
	batch := func(tag string, n int) []refs.Update {
		var us []refs.Update
		for i := range n {
			us = append(us, refs.Update{Name: fmt.Sprintf("refs/pull/%s%d/head", tag, i), Old: z, New: []string{c1, c2}[i%2]})
			us = append(us, refs.Update{Name: fmt.Sprintf("refs/tags/%s%d", tag, i), Old: z, New: []string{c1, v1}[i%2]})
		}
		return us
	}
	stdin := func(us []refs.Update) string {
		var b strings.Builder
		for _, u := range us {
			fmt.Fprintf(&b, "update %s %s %s\n", u.Name, u.New, u.Old)
		}
		return b.String()
	}
	us := append(batch("a", 60), refs.Update{Name: "refs/heads/old", Old: c1, New: c2}, refs.Update{Name: "refs/tags/light", Old: c1, New: z})
	for i, err := range refs.ApplyBatch(dir, us, refs.BatchOptions{Peel: peeler(t, dir)}) {
		if err != nil {
			t.Fatalf("%s: %v", us[i].Name, err)
		}
	}
	gittest.Cmd{Dir: gitCopy, Stdin: stdin(us)}.Run(t, "update-ref", "--stdin")
	if got, want := gittest.Run(t, dir, "show-ref", "-d"), gittest.Run(t, gitCopy, "show-ref", "-d"); got != want {
		t.Fatalf("show-ref -d:\n%s\nwant:\n%s", got, want)
	}
	if got, want := listString(t, dir), forEachRef(t, gitCopy); got != want {
		t.Fatalf("List:\n%s\nwant:\n%s", got, want)
	}
	if got := looseFiles(t, dir); len(got) != 1 || !strings.HasSuffix(got[0], filepath.FromSlash("refs/heads/old")) {
		t.Fatalf("files under refs/: %v, want only the moved refs/heads/old", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "packed-refs")); !strings.HasPrefix(string(b), "# pack-refs with: peeled fully-peeled sorted \n") {
		t.Fatalf("packed-refs starts %q", string(b[:min(len(b), 60)]))
	}
	gittest.Run(t, dir, "fsck", "--full", "--strict")

	// Atomic, one update stale: nothing moves, no lock is left.
	before := forEachRef(t, dir)
	us = append(batch("b", 60), refs.Update{Name: "refs/heads/main", Old: c1, New: c2})
	errs := refs.ApplyBatch(dir, us, refs.BatchOptions{Atomic: true, Peel: peeler(t, dir)})
	if !errors.Is(errs[len(us)-1], refs.ErrStale) || !errors.Is(errs[0], refs.ErrAborted) {
		t.Fatalf("atomic errs: %v ... %v", errs[0], errs[len(us)-1])
	}
	if got := forEachRef(t, dir); got != before {
		t.Fatal("an aborted atomic batch changed refs")
	}
	if got := looseFiles(t, dir); len(got) != 1 {
		t.Fatalf("files under refs/ after an aborted batch: %v", got)
	}

	// packed-refs locked by another process: the refs are made loose.
	lock := filepath.Join(dir, "packed-refs.lock")
	os.WriteFile(lock, nil, 0o644)
	us = batch("c", 60)
	for i, err := range refs.ApplyBatch(dir, us, refs.BatchOptions{Peel: peeler(t, dir)}) {
		if err != nil {
			t.Fatalf("%s: %v", us[i].Name, err)
		}
	}
	if _, err := os.Stat(lock); err != nil {
		t.Fatal("someone else's packed-refs.lock was removed")
	}
	os.Remove(lock)
	gittest.Cmd{Dir: gitCopy, Stdin: stdin(us)}.Run(t, "update-ref", "--stdin")
	if got, want := forEachRef(t, dir), forEachRef(t, gitCopy); got != want {
		t.Fatalf("after the loose batch:\n%s\nwant:\n%s", got, want)
	}
	if got := looseFiles(t, dir); len(got) != 1+len(us) {
		t.Fatalf("%d files under refs/, want %d", len(got), 1+len(us))
	}
	gittest.Run(t, dir, "fsck", "--full", "--strict")

	// Pack removes the directories the locks of the packed batches left.
	if _, err := refs.Pack(dir, peeler(t, dir)); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "refs", "pull")); len(ents) > 0 {
		t.Fatalf("%d directories left under refs/pull after Pack", len(ents))
	}
	if got, want := gittest.Run(t, dir, "show-ref", "-d"), gittest.Run(t, gitCopy, "show-ref", "-d"); got != want {
		t.Fatalf("show-ref -d after Pack:\n%s\nwant:\n%s", got, want)
	}
}

// TestApplyBatchInitial: creates into a repository with no ref go
// straight into packed-refs with no lock file per ref, as git's clone
// writes them, and git reads the result as its own. A lock someone holds
// under refs/ sends the batch the usual way, where that ref fails; a
// name given twice fails the second time; atomic, a bad name leaves
// everything as it was.
func TestApplyBatchInitial(t *testing.T) {
	z := refs.ZeroID
	dir, c1, c2 := mustRepo(t)
	v1 := gittest.Run(t, dir, "rev-parse", "refs/tags/v1")
	for _, name := range strings.Fields(gittest.Run(t, dir, "for-each-ref", "--format=%(refname)")) {
		gittest.Run(t, dir, "update-ref", "-d", name)
	}
	empty := copyRepo(t, dir)
	batch := func(n int) []refs.Update {
		var us []refs.Update
		for i := range n {
			us = append(us, refs.Update{Name: fmt.Sprintf("refs/pull/%d/head", i), Old: z, New: []string{c1, c2}[i%2]})
			us = append(us, refs.Update{Name: fmt.Sprintf("refs/tags/r%d", i), Old: z, New: []string{c1, v1}[i%2]})
		}
		return us
	}
	stdin := func(us []refs.Update) string {
		var b strings.Builder
		for _, u := range us {
			fmt.Fprintf(&b, "create %s %s\n", u.Name, u.New)
		}
		return b.String()
	}

	us := batch(60)
	for i, err := range refs.ApplyBatch(dir, us, refs.BatchOptions{Peel: peeler(t, dir)}) {
		if err != nil {
			t.Fatalf("%s: %v", us[i].Name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "refs", "pull")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("refs/pull was made (%v): the refs were locked one by one", err)
	}
	gitCopy := copyRepo(t, empty)
	gittest.Cmd{Dir: gitCopy, Stdin: stdin(us)}.Run(t, "update-ref", "--stdin")
	if got, want := gittest.Run(t, dir, "show-ref", "-d"), gittest.Run(t, gitCopy, "show-ref", "-d"); got != want {
		t.Fatalf("show-ref -d:\n%s\nwant:\n%s", got, want)
	}
	if got, want := listString(t, dir), forEachRef(t, gitCopy); got != want {
		t.Fatalf("List:\n%s\nwant:\n%s", got, want)
	}
	gittest.Run(t, dir, "fsck", "--full", "--strict")

	// Someone holds refs/tags/r7's lock: the usual way, where only that
	// ref fails and the lock stays.
	dir2 := copyRepo(t, empty)
	held := filepath.Join(dir2, "refs", "tags", "r7.lock")
	if err := os.WriteFile(held, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	errs := refs.ApplyBatch(dir2, us, refs.BatchOptions{Peel: peeler(t, dir2)})
	for i, err := range errs {
		if (us[i].Name == "refs/tags/r7") != (err != nil) {
			t.Fatalf("%s: %v", us[i].Name, err)
		}
	}
	if !errors.Is(errs[15], refs.ErrLocked) {
		t.Fatalf("refs/tags/r7: %v, want ErrLocked", errs[15])
	}
	if _, err := os.Stat(held); err != nil {
		t.Fatal("someone else's lock was removed")
	}
	if _, err := os.Stat(filepath.Join(dir2, "refs", "pull")); err != nil {
		t.Fatal("the usual way made no lock directories")
	}

	// A name twice: the second fails, the first is made.
	dir3 := copyRepo(t, empty)
	us3 := append(batch(60), refs.Update{Name: "refs/tags/r3", Old: z, New: c2})
	errs = refs.ApplyBatch(dir3, us3, refs.BatchOptions{Peel: peeler(t, dir3)})
	if !errors.Is(errs[len(us3)-1], refs.ErrLocked) || errs[7] != nil {
		t.Fatalf("duplicate: first %v, second %v", errs[7], errs[len(us3)-1])
	}
	if got := gittest.Run(t, dir3, "rev-parse", "refs/tags/r3"); got != us3[7].New {
		t.Fatalf("refs/tags/r3 is %s, want the first update's %s", got, us3[7].New)
	}

	// Atomic, one bad name: nothing is written.
	dir4 := copyRepo(t, empty)
	us4 := append(batch(60), refs.Update{Name: "refs/heads/bad..name", Old: z, New: c1})
	errs = refs.ApplyBatch(dir4, us4, refs.BatchOptions{Atomic: true, Peel: peeler(t, dir4)})
	if !errors.Is(errs[0], refs.ErrAborted) || errs[len(us4)-1] == nil || errors.Is(errs[len(us4)-1], refs.ErrAborted) {
		t.Fatalf("atomic errs: %v ... %v", errs[0], errs[len(us4)-1])
	}
	if got := forEachRef(t, dir4); got != "" {
		t.Fatalf("an aborted batch made refs:\n%s", got)
	}
}
