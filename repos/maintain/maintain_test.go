package maintain_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/gittest"
	"gatehouse/repos/commitgraph"
	"gatehouse/repos/maintain"

	"github.com/go-git/go-git/v5/plumbing"
)

// importCommits adds n commits to branch with fast-import, which writes
// one pack per run, as a push would.
func importCommits(tb testing.TB, dir, branch, base string, from, n int) {
	tb.Helper()
	var s strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&s, "commit refs/heads/%s\ncommitter A <a@x> %d +0000\ndata 2\nc\n", branch, 1700000000+i)
		if i == from && base != "" {
			fmt.Fprintf(&s, "from %s^0\n", base)
		}
		fmt.Fprintf(&s, "M 644 inline d%d/f%d\ndata <<EOF\n", i%3, i%17)
		for j := range 20 {
			fmt.Fprintf(&s, "line %d of %d\n", j, i)
		}
		s.WriteString("EOF\n")
	}
	gittest.Cmd{Dir: dir, Stdin: s.String()}.Run(tb, "-c", "fastimport.unpackLimit=1", "fast-import", "--quiet")
}

// manyPacks makes a repository of packs packs and three loose objects:
// an annotated tag and two unreachable blobs.
func manyPacks(tb testing.TB, packs int) string {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Fatal("these tests drive the real git: install it (./test.sh says how)")
	}
	dir := tb.TempDir()
	gittest.Run(tb, dir, "init", "-q", "--bare")
	for p := range packs {
		base := ""
		if p > 0 {
			base = "refs/heads/main"
		}
		importCommits(tb, dir, "main", base, p*15, 15)
	}
	gittest.Cmd{Dir: dir, Stdin: "blob\ndata 7\nlonely\n"}.Run(tb, "-c", "fastimport.unpackLimit=1", "fast-import", "--quiet")
	gittest.Run(tb, dir, "tag", "-a", "-m", "v1", "v1", "main~3")
	gittest.Run(tb, dir, "hash-object", "-w", "--stdin")
	return dir
}

func objects(tb testing.TB, dir string) string {
	tb.Helper()
	return gittest.Run(tb, dir, "cat-file", "--batch-all-objects", "--batch-check")
}

func packNames(tb testing.TB, dir, ext string) []string {
	tb.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "objects", "pack", "pack-*"+ext))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func checkRepo(tb testing.TB, dir string) {
	tb.Helper()
	gittest.Run(tb, dir, "fsck", "--full", "--strict", "--no-dangling")
	gittest.Run(tb, dir, "commit-graph", "verify")
	// The graph covers every commit the refs reach.
	all := strings.Fields(gittest.Run(tb, dir, "rev-list", "--all"))
	g, err := commitgraph.Open(dir)
	if err != nil {
		tb.Fatalf("commit-graph: %v", err)
	}
	for _, id := range all {
		if _, ok := g.Lookup(plumbing.NewHash(id)); !ok {
			tb.Fatalf("commit-graph lacks %s", id)
		}
	}
	for _, tip := range strings.Fields(gittest.Run(tb, dir, "for-each-ref", "--format=%(objectname)^{commit}")) {
		if out, errOut := (gittest.Cmd{Dir: dir}).Output(tb, "rev-list", "--test-bitmap", tip); !strings.Contains(out+errOut, "OK!") {
			tb.Fatalf("--test-bitmap %s: %s", tip, out+errOut)
		}
	}
}

func TestRepack(t *testing.T) {
	dir := manyPacks(t, 10)
	before := objects(t, dir)
	oldPacks := packNames(t, dir, ".pack")
	if len(oldPacks) != 10 {
		t.Fatalf("%d packs to start with", len(oldPacks))
	}
	if !maintain.Needed(dir) {
		t.Fatal("10 packs: not needed")
	}

	st, err := maintain.Repack(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.PacksIn != 10 || st.LooseIn != 3 || st.Pack == "" || st.Bitmaps == 0 || st.Commits != 150 || !st.CommitGraph {
		t.Errorf("stats %+v", st)
	}
	if got := objects(t, dir); got != before {
		t.Fatalf("objects before:\n%s\nafter:\n%s", before, got)
	}
	if bms := packNames(t, dir, ".bitmap"); len(bms) != 1 || filepath.Base(bms[0]) != st.Pack+".bitmap" {
		t.Fatalf("bitmaps %v", bms)
	}
	if n := len(packNames(t, dir, ".pack")); n != 11 {
		t.Fatalf("%d packs after the repack, want the old 10 kept and 1 new", n)
	}
	checkRepo(t, dir)
	// The new pack alone holds everything.
	packOnly := filepath.Join(t.TempDir(), "alone.git")
	gittest.Run(t, dir, "init", "-q", "--bare", packOnly)
	for _, ext := range []string{".pack", ".idx", ".bitmap"} {
		data, err := os.ReadFile(filepath.Join(dir, "objects", "pack", st.Pack+ext))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(packOnly, "objects", "pack", st.Pack+ext), data, 0o444)
	}
	if got := objects(t, packOnly); got != before {
		t.Fatalf("the new pack lacks objects:\n%s", got)
	}
	if maintain.Needed(dir) {
		t.Error("still needed after the repack")
	}

	// Within the grace period a second run deletes nothing.
	st2, err := maintain.Repack(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if st2.Removed != 0 || len(packNames(t, dir, ".pack")) != 11 {
		t.Fatalf("removed %d within the grace period", st2.Removed)
	}

	// Past it, the old packs and the packed loose object go.
	old := maintain.GracePeriod
	maintain.GracePeriod = 0
	defer func() { maintain.GracePeriod = old }()
	st3, err := maintain.Repack(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if st3.Removed != 10 {
		t.Errorf("removed %d packs, want 10", st3.Removed)
	}
	if packs := packNames(t, dir, ".pack"); len(packs) != 1 {
		t.Fatalf("packs left: %v", packs)
	}
	if got := objects(t, dir); got != before {
		t.Fatalf("objects lost:\n%s", got)
	}
	loose, _ := filepath.Glob(filepath.Join(dir, "objects", "??", "*"))
	if len(loose) != 0 {
		t.Errorf("loose objects left: %v", loose)
	}
	checkRepo(t, dir)
}

func TestRepackConcurrentPush(t *testing.T) {
	dir := manyPacks(t, 3)
	var pushed string
	defer maintain.SetHookListed(func(gitDir string) {
		// A push lands after the listing: new pack, new ref.
		importCommits(t, gitDir, "topic", "refs/heads/main", 1000, 4)
		pushed = gittest.Run(t, gitDir, "rev-parse", "topic")
	})()
	st, err := maintain.Repack(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	maintain.SetHookListed(nil)
	if pushed == "" {
		t.Fatal("hook did not run")
	}
	before := objects(t, dir)
	if !strings.Contains(before, pushed) {
		t.Fatal("pushed commit missing")
	}
	gittest.Run(t, dir, "fsck", "--full", "--strict", "--no-dangling")

	old := maintain.GracePeriod
	maintain.GracePeriod = 0
	defer func() { maintain.GracePeriod = old }()
	st2, err := maintain.Repack(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	// The first run's old packs are gone, the push's pack was repacked.
	if st2.Removed != st.PacksIn || st2.PacksIn != 2 {
		t.Errorf("first %+v, second %+v", st, st2)
	}
	if got := objects(t, dir); got != before {
		t.Fatalf("objects before:\n%s\nafter:\n%s", before, got)
	}
	checkRepo(t, dir)
}

func TestRepackBusy(t *testing.T) {
	dir := manyPacks(t, 1)
	// A lock file nobody holds (a run killed long ago, or a second ago)
	// is taken over at once.
	if err := os.WriteFile(filepath.Join(dir, "gatehouse-maintain.lock"), []byte("12345 1700000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var second error
	restore := maintain.SetHookListed(func(string) {
		_, second = maintain.Repack(context.Background(), dir)
	})
	defer restore()
	if _, err := maintain.Repack(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(second, maintain.ErrBusy) || second.Error() != "another repack is running" {
		t.Fatalf("repack during a repack: %v, want ErrBusy", second)
	}
	if _, err := os.Stat(filepath.Join(dir, "gatehouse-maintain.lock")); !os.IsNotExist(err) {
		t.Error("lock file left behind")
	}
}

// TestHelperRepackHeld is not a test: TestRepackKilled runs the test
// binary again with it, as a repack to be killed midway.
func TestHelperRepackHeld(t *testing.T) {
	dir := os.Getenv("GATEHOUSE_TEST_REPACK_HELD")
	if dir == "" {
		return
	}
	maintain.SetHookListed(func(string) {
		fmt.Println("listed")
		time.Sleep(time.Hour)
	})
	maintain.Repack(context.Background(), dir)
}

// A repack killed with SIGKILL leaves its lock file; the next repack
// takes it over at once, and is refused as busy only while it lives.
func TestRepackKilled(t *testing.T) {
	dir := manyPacks(t, 2)
	before := objects(t, dir)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRepackHeld$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GATEHOUSE_TEST_REPACK_HELD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "listed\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q", line)
	}
	if _, err := maintain.Repack(context.Background(), dir); !errors.Is(err, maintain.ErrBusy) {
		t.Fatalf("repack while another process repacks: %v, want ErrBusy", err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(dir, "gatehouse-maintain.lock")); err != nil {
		t.Fatalf("the killed repack left no lock file (%v): the test proves nothing", err)
	}
	st, err := maintain.Repack(context.Background(), dir)
	if err != nil {
		t.Fatalf("repack after the holder was killed: %v", err)
	}
	if st.PacksIn != 2 || st.Pack == "" {
		t.Fatalf("stats %+v", st)
	}
	if got := objects(t, dir); got != before {
		t.Fatalf("objects before:\n%s\nafter:\n%s", before, got)
	}
	checkRepo(t, dir)
}

func TestRepackCancelled(t *testing.T) {
	dir := manyPacks(t, 2)
	before := objects(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := maintain.Repack(ctx, dir); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if got := objects(t, dir); got != before {
		t.Fatal("objects changed")
	}
	left, _ := filepath.Glob(filepath.Join(dir, "objects", "pack", ".tmp-*"))
	if len(left) != 0 || len(packNames(t, dir, ".bitmap")) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// A repack packs the loose refs as git pack-refs --all --prune does, the
// peeled values of annotated tags (a tag of a tag too) included, and
// many loose refs alone make a repack needed.
func TestRepackPacksRefs(t *testing.T) {
	dir := manyPacks(t, 1)
	gittest.Run(t, dir, "tag", "-a", "-m", "outer", "v1-outer", "v1")
	for i := range 600 {
		gittest.Run(t, dir, "update-ref", fmt.Sprintf("refs/heads/topic/%03d", i), "main~1")
	}
	if !maintain.Needed(dir) {
		t.Fatal("600 loose refs: not needed")
	}
	refsBefore := gittest.Run(t, dir, "show-ref", "-d")
	// What git itself makes of the same refs.
	twin := filepath.Join(t.TempDir(), "twin.git")
	gittest.Run(t, "", "clone", "-q", "--mirror", dir, twin)
	gittest.Run(t, twin, "pack-refs", "--all", "--prune")

	st, err := maintain.Repack(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.RefsPacked != 603 {
		t.Errorf("packed %d refs, want 603 (600 topics, main, v1, v1-outer)", st.RefsPacked)
	}
	var loose []string
	filepath.WalkDir(filepath.Join(dir, "refs"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			loose = append(loose, path)
		}
		return nil
	})
	if len(loose) != 0 {
		t.Fatalf("%d loose refs left, e.g. %s", len(loose), loose[0])
	}
	got, err := os.ReadFile(filepath.Join(dir, "packed-refs"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(twin, "packed-refs"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("packed-refs differs from git's:\n%s\nwant\n%s", got, want)
	}
	if after := gittest.Run(t, dir, "show-ref", "-d"); after != refsBefore {
		t.Fatalf("refs changed:\n%s\nwant\n%s", after, refsBefore)
	}
	checkRepo(t, dir)
	if maintain.Needed(dir) {
		t.Error("still needed after the repack")
	}
}
