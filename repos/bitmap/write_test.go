package bitmap_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/gittest"
	"gatehouse/repos/bitmap"
	"gatehouse/repos/odb"
)

// history makes a repository with fast-import: a main line of n commits,
// a side branch merged back, an annotated tag, a file shared by many
// trees, and one unreachable blob; then one pack without a bitmap.
func history(tb testing.TB, n int) string {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Fatal("these tests drive the real git: install it (./test.sh says how)")
	}
	dir := tb.TempDir()
	gittest.Run(tb, dir, "init", "-q", "--bare")
	var s strings.Builder
	mark := 0
	commit := func(ref string, from int, merge int, t int, files map[string]string) int {
		for name, body := range files {
			mark++
			fmt.Fprintf(&s, "blob\nmark :%d\ndata %d\n%s\n", mark, len(body), body)
			files[name] = ":" + strconv.Itoa(mark)
		}
		mark++
		fmt.Fprintf(&s, "commit %s\nmark :%d\ncommitter A <a@x> %d +0000\ndata 2\nc\n", ref, mark, 1700000000+t)
		if from > 0 {
			fmt.Fprintf(&s, "from :%d\n", from)
		}
		if merge > 0 {
			fmt.Fprintf(&s, "merge :%d\n", merge)
		}
		names := make([]string, 0, len(files))
		for name := range files {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			fmt.Fprintf(&s, "M 644 %s %s\n", files[name], name)
		}
		return mark
	}
	last := 0
	var fork int
	for i := range n {
		last = commit("refs/heads/main", last, 0, i, map[string]string{
			fmt.Sprintf("d%d/f%d", i%5, i%11): fmt.Sprintf("v%d\n", i),
			"shared/README":                   "same\n",
		})
		if i == n/3 {
			fork = last
		}
	}
	side := fork
	for i := range 30 {
		side = commit("refs/heads/side", side, 0, n+i, map[string]string{fmt.Sprintf("side/s%d", i%4): fmt.Sprintf("s%d\n", i)})
	}
	last = commit("refs/heads/main", last, side, 2*n, map[string]string{"merged": "yes\n"})
	fmt.Fprintf(&s, "tag v1\nfrom :%d\ntagger A <a@x> 1700000000 +0000\ndata 3\nv1\n", fork)
	fmt.Fprintf(&s, "blob\ndata 9\norphaned\n")
	gittest.Cmd{Dir: dir, Stdin: s.String()}.Run(tb, "fast-import", "--quiet")
	gittest.Run(tb, dir, "repack", "-adq")
	return dir
}

// packInput describes the repository's one pack, with real git's answers.
func packInput(tb testing.TB, dir string) (bitmap.Input, string) {
	tb.Helper()
	idxs, _ := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.idx"))
	if len(idxs) != 1 {
		tb.Fatalf("%d packs", len(idxs))
	}
	idxData, err := os.ReadFile(idxs[0])
	if err != nil {
		tb.Fatal(err)
	}
	type ent struct {
		off uint64
		id  string
	}
	var ents []ent
	for _, line := range strings.Split(gittest.Cmd{Dir: dir, Stdin: string(idxData)}.Run(tb, "show-index"), "\n") {
		f := strings.Fields(line)
		off, _ := strconv.ParseUint(f[0], 10, 64)
		ents = append(ents, ent{off, f[1]})
	}
	slices.SortFunc(ents, func(a, b ent) int { return int(a.off) - int(b.off) })
	var ids strings.Builder
	for _, e := range ents {
		ids.WriteString(e.id + "\n")
	}
	types := strings.Fields(gittest.Cmd{Dir: dir, Stdin: ids.String()}.Run(tb, "cat-file", "--batch-check=%(objecttype)"))
	in := bitmap.Input{}
	for i, e := range ents {
		t, err := plumbing.ParseObjectType(types[i])
		if err != nil {
			tb.Fatal(err)
		}
		in.Objects = append(in.Objects, bitmap.PackObject{ID: plumbing.NewHash(e.id), Type: t})
	}
	copy(in.Checksum[:], idxData[len(idxData)-40:])
	for _, line := range strings.Split(gittest.Run(tb, dir, "log", "--all", "--format=%H %T %ct %P"), "\n") {
		f := strings.Fields(line)
		t, _ := strconv.ParseInt(f[2], 10, 64)
		c := bitmap.Commit{ID: plumbing.NewHash(f[0]), Tree: plumbing.NewHash(f[1]), Time: t}
		for _, p := range f[3:] {
			c.Parents = append(c.Parents, plumbing.NewHash(p))
		}
		in.Commits = append(in.Commits, c)
	}
	for _, id := range strings.Fields(gittest.Run(tb, dir, "for-each-ref", "--format=%(objectname)^{commit}")) {
		in.Tips = append(in.Tips, plumbing.NewHash(gittest.Run(tb, dir, "rev-parse", id)))
	}
	objects := odb.OpenReader(dir, odb.Limits{})
	tb.Cleanup(func() { objects.Close() })
	in.ReadTree = func(id plumbing.Hash, buf []byte) ([]byte, error) {
		_, _, r, err := objects.Read(id)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(r)
	}
	return in, strings.TrimSuffix(idxs[0], ".idx")
}

func TestWriteAcceptedByGit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int
		budget int // bytes of uncompressed sets; 0: default
	}{
		{name: "short", n: 40},
		{name: "long", n: 450},
		{name: "long, sets compressed", n: 450, budget: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.budget > 0 {
				defer bitmap.SetRawBudget(tc.budget)()
			}
			dir := history(t, tc.n)
			in, base := packInput(t, dir)
			var buf bytes.Buffer
			st, err := bitmap.Write(context.Background(), &buf, in)
			if err != nil {
				t.Fatal(err)
			}
			if want := min(len(in.Commits), 100+len(in.Commits)/100); st.Selected < want {
				t.Errorf("%d commits selected, want at least %d", st.Selected, want)
			}
			if err := os.WriteFile(base+".bitmap", buf.Bytes(), 0o444); err != nil {
				t.Fatal(err)
			}
			for _, tip := range in.Tips {
				// git compares the bitmap with its own walk, dying on a difference.
				_, msg := gittest.Cmd{Dir: dir}.Output(t, "rev-list", "--test-bitmap", tip.String())
				if !strings.Contains(msg, "OK!") {
					t.Fatalf("--test-bitmap %s: %s", tip, msg)
				}
			}
			gittest.Run(t, dir, "fsck", "--full", "--no-dangling")
			// git itself answers from the bitmap with the same objects.
			want := gittest.Run(t, dir, "rev-list", "--objects", "--no-object-names", "--all")
			got := gittest.Run(t, dir, "rev-list", "--objects", "--no-object-names", "--all", "--use-bitmap-index")
			if !sameLines(got, want) {
				t.Errorf("git with the bitmap lists other objects than without")
			}

			x, err := bitmap.OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for i, c := range in.Commits {
				s, ok, err := x.Reach(c.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					continue
				}
				checked++
				if i%7 != 0 && !slices.Contains(in.Tips, c.ID) {
					continue // comparing each one with git is slow
				}
				var got []string
				s.Each(func(b int) { got = append(got, x.Hash(b).String()) })
				want := strings.Fields(gittest.Run(t, dir, "rev-list", "--objects", "--no-object-names", c.ID.String()))
				if !sameLines(strings.Join(got, "\n"), strings.Join(want, "\n")) {
					t.Fatalf("commit %s: bitmap has %d objects, git lists %d", c.ID, len(got), len(want))
				}
			}
			if checked != st.Selected {
				t.Errorf("reader finds %d bitmaps, writer wrote %d", checked, st.Selected)
			}
		})
	}
}

func sameLines(a, b string) bool {
	x, y := strings.Fields(a), strings.Fields(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func TestWriteIncomplete(t *testing.T) {
	dir := history(t, 10)
	in, _ := packInput(t, dir)
	// Drop a blob from the pack's object list.
	for i, o := range in.Objects {
		if o.Type == plumbing.BlobObject {
			in.Objects = slices.Delete(in.Objects, i, i+1)
			break
		}
	}
	if _, err := bitmap.Write(context.Background(), io.Discard, in); err == nil {
		t.Fatal("wrote a bitmap for a pack missing a blob")
	}
}
