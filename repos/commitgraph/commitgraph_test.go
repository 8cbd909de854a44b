package commitgraph_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/gittest"
	"gatehouse/repos/commitgraph"
)

const logFormat = "--format=%H %T %P %ct"

func needGit(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Fatal("these tests drive the real git: install it (./test.sh says how)")
	}
}

// repo is a test repository and a few of its non-commit objects.
type repo struct {
	dir        string
	nonCommits []plumbing.Hash // a tree, a blob, an annotated tag
}

// newRepo builds, with commit-tree, a history of two roots, a run of
// plain commits, a merge, two octopus merges (4 and 3 parents) and a
// commit dated past 2^32 seconds, branches pointing into it, and an
// annotated tag.
func newRepo(tb testing.TB) repo {
	tb.Helper()
	needGit(tb)
	dir := tb.TempDir()
	gittest.Run(tb, dir, "init", "-q", "-b", "main")
	when := int64(1_000_000_000)
	var blob string
	commit := func(msg string, parents ...string) string {
		when += 3600
		blob = gittest.Cmd{Dir: dir, Stdin: msg}.Run(tb, "hash-object", "-w", "--stdin")
		tree := gittest.Cmd{Dir: dir, Stdin: "100644 blob " + blob + "\t" + msg + "\n"}.Run(tb, "mktree")
		args := []string{"commit-tree", tree, "-m", msg}
		for _, p := range parents {
			args = append(args, "-p", p)
		}
		date := fmt.Sprintf("GIT_COMMITTER_DATE=@%d +0000", when)
		return gittest.Cmd{Dir: dir, Env: []string{date, "GIT_AUTHOR_DATE=@1000000000 +0000"}}.Run(tb, args...)
	}
	root := commit("root")
	line := root
	for i := range 20 {
		line = commit("line"+strconv.Itoa(i), line)
	}
	var sides []string
	for i := range 4 {
		sides = append(sides, commit("side"+strconv.Itoa(i), root))
	}
	merge := commit("merge", line, sides[0])
	octo4 := commit("octopus4", merge, sides[1], sides[2], sides[3])
	other := commit("other-root")
	when = 5_000_000_000 // needs the 33rd bit
	far := commit("far", other)
	octo3 := commit("octopus3", octo4, far, sides[0])
	tip := commit("tip", octo3)
	gittest.Run(tb, dir, "update-ref", "refs/heads/main", tip)
	gittest.Run(tb, dir, "update-ref", "refs/heads/side", sides[3])
	gittest.Run(tb, dir, "update-ref", "refs/heads/far", far)
	gittest.Cmd{Dir: dir, Env: []string{"GIT_COMMITTER_DATE=@1000000000 +0000"}}.Run(tb, "tag", "-a", "-m", "v1", "v1", merge)
	r := repo{dir: dir}
	for _, rev := range []string{"main^{tree}", "v1", "main:tip"} {
		r.nonCommits = append(r.nonCommits, plumbing.NewHash(gittest.Run(tb, dir, "rev-parse", rev)))
	}
	r.nonCommits = append(r.nonCommits, plumbing.NewHash(blob), plumbing.ZeroHash)
	return r
}

// parseLog reads `git log --all` lines in logFormat.
func parseLog(tb testing.TB, out string) []commitgraph.Commit {
	tb.Helper()
	var cs []commitgraph.Commit
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 3 {
			tb.Fatalf("log line %q", line)
		}
		when, err := strconv.ParseInt(f[len(f)-1], 10, 64)
		if err != nil {
			tb.Fatal(err)
		}
		c := commitgraph.Commit{ID: plumbing.NewHash(f[0]), Tree: plumbing.NewHash(f[1]), When: when}
		for _, p := range f[2 : len(f)-1] {
			c.Parents = append(c.Parents, plumbing.NewHash(p))
		}
		cs = append(cs, c)
	}
	return cs
}

// expect fills in the generation numbers, both kinds, as git defines
// them: levels from the roots, and corrected dates.
func expect(cs []commitgraph.Commit) map[plumbing.Hash]commitgraph.Commit {
	m := make(map[plumbing.Hash]commitgraph.Commit, len(cs))
	for _, c := range cs {
		m[c.ID] = c
	}
	var visit func(id plumbing.Hash) commitgraph.Commit
	visit = func(id plumbing.Hash) commitgraph.Commit {
		c := m[id]
		if c.Generation != 0 {
			return c
		}
		c.Generation, c.CorrectedDate = 1, c.When
		for _, p := range c.Parents {
			pc := visit(p)
			c.Generation = max(c.Generation, pc.Generation+1)
			c.CorrectedDate = max(c.CorrectedDate, pc.CorrectedDate+1)
		}
		m[id] = c
		return c
	}
	for _, c := range cs {
		visit(c.ID)
	}
	return m
}

// checkGraph compares every commit of want with g.
func checkGraph(t *testing.T, g *commitgraph.Graph, want map[plumbing.Hash]commitgraph.Commit, v2 bool) {
	t.Helper()
	if g.Len() != len(want) {
		t.Errorf("Len %d, want %d", g.Len(), len(want))
	}
	if g.GenerationV2() != v2 {
		t.Errorf("GenerationV2 %v, want %v", g.GenerationV2(), v2)
	}
	for id, w := range want {
		if !v2 {
			w.CorrectedDate = 0
		}
		c, ok := g.Lookup(id)
		if !ok {
			t.Errorf("%s missing", id)
			continue
		}
		if c.ID != w.ID || c.Tree != w.Tree || !slices.Equal(c.Parents, w.Parents) || c.When != w.When ||
			c.Generation != w.Generation || c.CorrectedDate != w.CorrectedDate {
			t.Errorf("%s:\n got %+v\nwant %+v", id, c, w)
		}
	}
	n := 0
	for c := range g.All() {
		if _, ok := want[c.ID]; !ok {
			t.Errorf("All yields %s", c.ID)
		}
		n++
	}
	if n != len(want) {
		t.Errorf("All yields %d commits, want %d", n, len(want))
	}
}

func graphPath(dir string) string {
	return filepath.Join(dir, ".git", "objects", "info", "commit-graph")
}

func TestOpenGitGraph(t *testing.T) {
	r := newRepo(t)
	log := gittest.Run(t, r.dir, "log", "--all", logFormat)
	cs := parseLog(t, log)
	if len(cs) < 30 {
		t.Fatalf("only %d commits", len(cs))
	}
	gittest.Run(t, r.dir, "commit-graph", "write", "--reachable")
	g, err := commitgraph.Open(filepath.Join(r.dir, ".git"))
	if err != nil {
		t.Fatal(err)
	}
	checkGraph(t, g, expect(cs), true)
	for _, id := range r.nonCommits {
		if _, ok := g.Lookup(id); ok {
			t.Errorf("Lookup(%s) found a non-commit", id)
		}
	}
}

func TestWriteVerifiedByGit(t *testing.T) {
	r := newRepo(t)
	gitDir := filepath.Join(r.dir, ".git")
	log := gittest.Run(t, r.dir, "log", "--all", logFormat)
	cs := parseLog(t, log)
	want := expect(cs)

	// Reverse the input: Write must not depend on its order.
	slices.Reverse(cs)
	if err := commitgraph.Write(gitDir, cs); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(graphPath(r.dir))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o444 {
		t.Errorf("mode %v, want 0444", st.Mode().Perm())
	}
	gittest.Run(t, r.dir, "commit-graph", "verify")
	if got := gittest.Run(t, r.dir, "log", "--all", logFormat); got != log {
		t.Errorf("git log with our graph:\n%s\nwant:\n%s", got, log)
	}
	if got, want := gittest.Run(t, r.dir, "log", "--all", "--topo-order", "--format=%H"),
		gittest.Run(t, r.dir, "-c", "core.commitGraph=false", "log", "--all", "--topo-order", "--format=%H"); got != want {
		t.Errorf("topo-order with our graph:\n%s\nwithout:\n%s", got, want)
	}
	g, err := commitgraph.Open(gitDir)
	if err != nil {
		t.Fatal(err)
	}
	checkGraph(t, g, want, false)

	// Git's own file for the same history holds the same levels.
	gittest.Run(t, r.dir, "commit-graph", "write", "--reachable")
	gg, err := commitgraph.Open(gitDir)
	if err != nil {
		t.Fatal(err)
	}
	for c := range g.All() {
		gc, _ := gg.Lookup(c.ID)
		if gc.Generation != c.Generation {
			t.Errorf("%s: level %d, git's %d", c.ID, c.Generation, gc.Generation)
		}
	}

	// Writing again replaces the read-only file and leaves no temporary.
	if err := commitgraph.Write(gitDir, cs); err != nil {
		t.Fatal(err)
	}
	gittest.Run(t, r.dir, "commit-graph", "verify")
	ents, _ := os.ReadDir(filepath.Dir(graphPath(r.dir)))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "tmp_graph_") {
			t.Errorf("left %s", e.Name())
		}
	}
}

func TestSplitChain(t *testing.T) {
	r := newRepo(t)
	gitDir := filepath.Join(r.dir, ".git")
	all := parseLog(t, gittest.Run(t, r.dir, "log", "--all", logFormat))

	// Three layers: side, then far, then main on top.
	gittest.Run(t, r.dir, "update-ref", "-d", "refs/heads/main")
	gittest.Run(t, r.dir, "update-ref", "-d", "refs/heads/far")
	gittest.Run(t, r.dir, "tag", "-d", "v1")
	gittest.Run(t, r.dir, "commit-graph", "write", "--reachable", "--split=no-merge")
	side := parseLog(t, gittest.Run(t, r.dir, "log", "--all", logFormat))
	// The far commit is the first dated past 2^32.
	farID := all[slices.IndexFunc(all, func(c commitgraph.Commit) bool { return c.When == 5_000_003_600 })].ID
	gittest.Run(t, r.dir, "update-ref", "refs/heads/far", farID.String())
	gittest.Run(t, r.dir, "commit-graph", "write", "--reachable", "--split=no-merge")
	mainID := all[0].ID // log starts at the newest commit, main's tip
	gittest.Run(t, r.dir, "update-ref", "refs/heads/main", mainID.String())
	gittest.Run(t, r.dir, "commit-graph", "write", "--reachable", "--split=no-merge")

	chainFile := filepath.Join(gitDir, "objects", "info", "commit-graphs", "commit-graph-chain")
	chain, err := os.ReadFile(chainFile)
	if err != nil {
		t.Fatal(err)
	}
	layers := strings.Fields(string(chain))
	if len(layers) != 3 {
		t.Fatalf("%d layers; side %d commits", len(layers), len(side))
	}
	g, err := commitgraph.Open(gitDir)
	if err != nil {
		t.Fatal(err)
	}
	checkGraph(t, g, expect(all), true)

	// Without its top file the chain is its lower layers; without the
	// bottom one, nothing.
	top := filepath.Join(filepath.Dir(chainFile), "graph-"+layers[2]+".graph")
	if err := os.Rename(top, top+".away"); err != nil {
		t.Fatal(err)
	}
	g, err = commitgraph.Open(gitDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g.Lookup(mainID); ok {
		t.Error("found a commit of the missing layer")
	}
	for _, c := range side {
		if _, ok := g.Lookup(c.ID); !ok {
			t.Errorf("lower layer lacks %s", c.ID)
		}
	}
	os.Rename(top, top+".away")
	bottom := filepath.Join(filepath.Dir(chainFile), "graph-"+layers[0]+".graph")
	if err := os.Rename(bottom, bottom+".away"); err != nil {
		t.Fatal(err)
	}
	if _, err := commitgraph.Open(gitDir); !errors.Is(err, commitgraph.ErrNone) {
		t.Errorf("chain without its base: %v", err)
	}
	if err := os.Rename(bottom+".away", bottom); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(top+".away", top); err != nil {
		t.Fatal(err)
	}

	// A layer must be the file its name says.
	renamed := strings.Repeat("0", 40)
	data, err := os.ReadFile(top)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(chainFile), "graph-"+renamed+".graph"), data, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(chainFile, []byte(layers[0]+"\n"+layers[1]+"\n"+renamed+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := commitgraph.Open(gitDir); !errors.Is(err, commitgraph.ErrCorrupt) {
		t.Errorf("misnamed layer: %v", err)
	}

	// Layers in the wrong order do not fit together.
	swapped := layers[1] + "\n" + layers[0] + "\n" + layers[2] + "\n"
	if err := os.WriteFile(chainFile, []byte(swapped), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := commitgraph.Open(gitDir); !errors.Is(err, commitgraph.ErrCorrupt) {
		t.Errorf("swapped chain: %v", err)
	}
}

func TestOpenNone(t *testing.T) {
	if _, err := commitgraph.Open(t.TempDir()); !errors.Is(err, commitgraph.ErrNone) {
		t.Fatalf("empty dir: %v", err)
	}
}

// writeRaw installs data as dir's commit-graph.
func writeRaw(tb testing.TB, dir string, data []byte) {
	tb.Helper()
	p := filepath.Join(dir, "objects", "info")
	if err := os.MkdirAll(p, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, "commit-graph"), data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// seedGraph returns testdata/commit-graph, which git 2.39 wrote for
// newRepo's history (with GDA2 and EDGE chunks).
func seedGraph(tb testing.TB) []byte {
	tb.Helper()
	data, err := os.ReadFile("testdata/commit-graph")
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// TestSeed keeps the file the corruption and fuzz tests start from
// worth starting from.
func TestSeed(t *testing.T) {
	dir := t.TempDir()
	writeRaw(t, dir, seedGraph(t))
	g, err := commitgraph.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	octopus := 0
	for c := range g.All() {
		if len(c.Parents) > 2 {
			octopus++
		}
	}
	if octopus < 2 || !g.GenerationV2() || g.Len() < 30 {
		t.Errorf("%d commits, %d octopus merges, generation v2 %v", g.Len(), octopus, g.GenerationV2())
	}
}

func TestCorrupt(t *testing.T) {
	data := seedGraph(t)
	dir := t.TempDir()
	for i := range data {
		d := bytes.Clone(data)
		d[i] ^= 0x20
		writeRaw(t, dir, d)
		if _, err := commitgraph.Open(dir); !errors.Is(err, commitgraph.ErrCorrupt) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
	for n := range len(data) {
		writeRaw(t, dir, data[:n])
		if _, err := commitgraph.Open(dir); !errors.Is(err, commitgraph.ErrCorrupt) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
}

// chunks returns the offset of each chunk of a commit-graph, and under
// id+"end" where it ends.
func chunks(d []byte) map[string]int {
	m := map[string]int{}
	for i := range int(d[6]) {
		e := d[8+12*i:]
		m[string(e[:4])] = int(binary.BigEndian.Uint64(e[4:]))
		m[string(e[:4])+"end"] = int(binary.BigEndian.Uint64(e[16:]))
	}
	return m
}

// reseal recomputes a commit-graph's checksum after an edit.
func reseal(d []byte) {
	sum := sha1.Sum(d[:len(d)-20])
	copy(d[len(d)-20:], sum[:])
}

// TestCorruptSealed damages graphs whose checksums still match, as a
// buggy writer would, and checks the bounds and contents checks.
func TestCorruptSealed(t *testing.T) {
	data := seedGraph(t)
	c := chunks(data)
	n := int(binary.BigEndian.Uint32(data[c["OIDF"]+255*4:]))
	// firstOcto is the CDAT entry of a commit using EDGE.
	firstOcto := -1
	for i := range n {
		if binary.BigEndian.Uint32(data[c["CDAT"]+36*i+24:])&0x80000000 != 0 {
			firstOcto = i
			break
		}
	}
	if firstOcto < 0 {
		t.Fatal("no octopus in the graph")
	}
	put := func(d []byte, off int, v uint32) { binary.BigEndian.PutUint32(d[off:], v) }
	tests := []struct {
		name   string
		edit   func(d []byte)
		target error
	}{
		{"version 2", func(d []byte) { d[4] = 2 }, commitgraph.ErrNone},
		{"sha-256", func(d []byte) { d[5] = 2 }, commitgraph.ErrNone},
		{"bad signature", func(d []byte) { d[0] = 'X' }, commitgraph.ErrCorrupt},
		{"claims a base", func(d []byte) { d[7] = 1 }, commitgraph.ErrCorrupt},
		{"more chunks than listed", func(d []byte) { d[6]++ }, commitgraph.ErrCorrupt},
		{"chunk past the end", func(d []byte) {
			binary.BigEndian.PutUint64(d[8+4:], uint64(len(d)))
		}, commitgraph.ErrCorrupt},
		{"chunks overlapping the table", func(d []byte) {
			binary.BigEndian.PutUint64(d[8+4:], 8)
		}, commitgraph.ErrCorrupt},
		{"duplicate chunk", func(d []byte) { copy(d[8+12:], d[8:12]) }, commitgraph.ErrCorrupt},
		{"fanout too large", func(d []byte) { put(d, c["OIDF"]+255*4, uint32(n+1)) }, commitgraph.ErrCorrupt},
		{"fanout decreasing", func(d []byte) { put(d, c["OIDF"]+254*4, uint32(n+1)) }, commitgraph.ErrCorrupt},
		{"ids unsorted", func(d []byte) {
			a, b := c["OIDL"], c["OIDL"]+20
			tmp := bytes.Clone(d[a : a+20])
			copy(d[a:a+20], d[b:b+20])
			copy(d[b:b+20], tmp)
		}, commitgraph.ErrCorrupt},
		{"parent out of range", func(d []byte) { put(d, c["CDAT"]+20, uint32(n)) }, commitgraph.ErrCorrupt},
		{"second parent out of range", func(d []byte) {
			put(d, c["CDAT"]+20, 0)
			put(d, c["CDAT"]+24, uint32(n+7))
		}, commitgraph.ErrCorrupt},
		{"second parent alone", func(d []byte) {
			put(d, c["CDAT"]+20, 0x70000000)
			put(d, c["CDAT"]+24, 0)
		}, commitgraph.ErrCorrupt},
		{"edge index out of range", func(d []byte) {
			put(d, c["CDAT"]+36*firstOcto+24, 0x80000000|0xffff)
		}, commitgraph.ErrCorrupt},
		{"edge out of range", func(d []byte) { put(d, c["EDGE"], uint32(n)) }, commitgraph.ErrCorrupt},
		{"edge list unterminated", func(d []byte) {
			// The last edge is the last parent of some octopus.
			last := c["EDGEend"] - 4
			put(d, last, binary.BigEndian.Uint32(d[last:])&^0x80000000)
		}, commitgraph.ErrCorrupt},
		{"GDO2 index out of range", func(d []byte) { put(d, c["GDA2"], 0x80000000) }, commitgraph.ErrCorrupt},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := bytes.Clone(data)
			tt.edit(d)
			reseal(d)
			writeRaw(t, dir, d)
			_, err := commitgraph.Open(dir)
			if !errors.Is(err, tt.target) {
				t.Fatalf("got %v, want %v", err, tt.target)
			}
			t.Log(err)
		})
	}
}

func TestWriteErrors(t *testing.T) {
	h := func(s string) plumbing.Hash { return plumbing.NewHash(strings.Repeat(s, 40)) }
	c := func(id string, when int64, parents ...string) commitgraph.Commit {
		cm := commitgraph.Commit{ID: h(id), Tree: h("e"), When: when}
		for _, p := range parents {
			cm.Parents = append(cm.Parents, h(p))
		}
		return cm
	}
	tests := []struct {
		name    string
		commits []commitgraph.Commit
	}{
		{"empty", nil},
		{"twice", []commitgraph.Commit{c("1", 1), c("1", 1)}},
		{"parent missing", []commitgraph.Commit{c("1", 1), c("2", 2, "3")}},
		{"own parent", []commitgraph.Commit{c("1", 1, "1")}},
		{"cycle", []commitgraph.Commit{c("0", 1), c("1", 1, "0", "3"), c("2", 2, "1"), c("3", 3, "2")}},
		{"negative time", []commitgraph.Commit{c("1", -1)}},
		{"time past 34 bits", []commitgraph.Commit{c("1", 1<<34)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := commitgraph.Write(dir, tt.commits); err == nil {
				t.Fatal("written")
			} else {
				t.Log(err)
			}
			if _, err := os.Stat(filepath.Join(dir, "objects", "info", "commit-graph")); err == nil {
				t.Fatal("file left")
			}
		})
	}
}

// synthetic returns n commits of a random history: mostly chains, some
// merges and octopus merges, ids random.
func synthetic(n int, seed uint64) []commitgraph.Commit {
	rng := rand.New(rand.NewPCG(seed, 1))
	cs := make([]commitgraph.Commit, n)
	for i := range cs {
		c := &cs[i]
		for j := range c.ID {
			c.ID[j] = byte(rng.Uint32())
			c.Tree[j] = byte(rng.Uint32())
		}
		c.When = 1_500_000_000 + int64(i)*60
		if i == 0 {
			continue
		}
		np := 1
		switch r := rng.IntN(100); {
		case r < 2:
			np = 0
		case r < 12:
			np = 2
		case r < 14:
			np = 3 + rng.IntN(4)
		}
		for range np {
			p := i - 1 - rng.IntN(min(i, 50))
			c.Parents = append(c.Parents, cs[p].ID)
		}
	}
	return cs
}

func TestWriteSynthetic(t *testing.T) {
	cs := synthetic(5000, 7)
	dir := t.TempDir()
	// Write makes objects/info if need be, never the repository itself.
	if err := commitgraph.Write(dir, cs); err == nil {
		t.Fatal("Write made a repository that was not there")
	}
	if err := os.Mkdir(filepath.Join(dir, "objects"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := commitgraph.Write(dir, cs); err != nil {
		t.Fatal(err)
	}
	g, err := commitgraph.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkGraph(t, g, expect(cs), false)
}

func BenchmarkLookup(b *testing.B) {
	const n = 100_000
	cs := synthetic(n, 3)
	dir := b.TempDir()
	if err := commitgraph.Write(dir, cs); err != nil {
		b.Fatal(err)
	}
	g, err := commitgraph.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("hit", func(b *testing.B) {
		var c commitgraph.Commit
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if !g.LookupInto(cs[i%n].ID, &c) {
				b.Fatal("missing")
			}
			i += 7919
		}
	})
	b.Run("hit-alloc", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, ok := g.Lookup(cs[i%n].ID); !ok {
				b.Fatal("missing")
			}
			i += 7919
		}
	})
	b.Run("miss", func(b *testing.B) {
		var c commitgraph.Commit
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			id := cs[i%n].ID
			id[19] ^= 1
			if g.LookupInto(id, &c) {
				b.Fatal("found")
			}
			i += 7919
		}
	})
}
