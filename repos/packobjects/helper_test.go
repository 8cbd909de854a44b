package packobjects_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/gittest"
)

// fixtureRoot holds the repositories built once per test binary run.
var fixtureRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "packobjects-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// history generates a deterministic history of text files, each commit
// editing a few of them, so that git's packs hold long delta chains.
type history struct {
	rnd     *rand.Rand
	files   map[string][]string // path -> lines
	paths   []string
	commits int
}

func newHistory(seed uint64) *history {
	return &history{rnd: rand.New(rand.NewPCG(seed, seed+1)), files: map[string][]string{}}
}

func (h *history) line() string {
	const words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau"
	w := strings.Fields(words)
	var b strings.Builder
	for i := 0; i < 4+h.rnd.IntN(8); i++ {
		b.WriteString(w[h.rnd.IntN(len(w))])
		b.WriteByte(' ')
	}
	fmt.Fprintf(&b, "%d", h.rnd.IntN(1e6))
	return b.String()
}

// edit changes one file: a new file now and then, else edits and appends
// a few lines of an existing one.
func (h *history) edit() string {
	if len(h.paths) < 8 || h.rnd.IntN(20) == 0 {
		p := fmt.Sprintf("dir%d/sub%d/file%d.txt", h.rnd.IntN(4), h.rnd.IntN(3), len(h.paths))
		lines := make([]string, 50+h.rnd.IntN(200))
		for i := range lines {
			lines[i] = h.line()
		}
		h.files[p] = lines
		h.paths = append(h.paths, p)
		return p
	}
	p := h.paths[h.rnd.IntN(len(h.paths))]
	lines := h.files[p]
	for range 1 + h.rnd.IntN(3) {
		lines[h.rnd.IntN(len(lines))] = h.line()
	}
	for range h.rnd.IntN(4) {
		lines = append(lines, h.line())
	}
	h.files[p] = lines
	return p
}

// fastImport appends n commits to refs/heads/main of the repository at
// dir through git fast-import, which writes them as one new pack.
func (h *history) fastImport(tb testing.TB, dir string, n int) {
	tb.Helper()
	var s bytes.Buffer
	for i := range n {
		fmt.Fprintf(&s, "commit refs/heads/main\ncommitter T <t@example.com> %d +0000\n", 1700000000+h.commits)
		msg := fmt.Sprintf("commit %d\n", h.commits)
		fmt.Fprintf(&s, "data %d\n%s", len(msg), msg)
		if i == 0 && h.commits > 0 {
			s.WriteString("from refs/heads/main^0\n")
		}
		for range 1 + h.rnd.IntN(3) {
			p := h.edit()
			body := strings.Join(h.files[p], "\n") + "\n"
			fmt.Fprintf(&s, "M 100644 inline %s\ndata %d\n%s", p, len(body), body)
		}
		s.WriteString("\n")
		h.commits++
	}
	gittest.Cmd{Dir: dir, Stdin: s.String()}.Run(tb, "fast-import", "--quiet")
}

// commitLoose makes n commits in dir's work tree with plain git commands,
// which leave their objects loose.
func (h *history) commitLoose(tb testing.TB, dir string, n int) {
	tb.Helper()
	for range n {
		p := h.edit()
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(strings.Join(h.files[p], "\n")+"\n"), 0o644); err != nil {
			tb.Fatal(err)
		}
		gittest.Run(tb, dir, "add", p)
		gittest.Run(tb, dir, "commit", "-q", "-m", fmt.Sprintf("loose %d", h.commits))
		h.commits++
	}
}

func initRepo(tb testing.TB, dir string, bare bool) {
	tb.Helper()
	args := []string{"init", "-q", "-b", "main"}
	if bare {
		args = append(args, "--bare")
	}
	gittest.Run(tb, "", append(args, dir)...)
}

var fixtures struct {
	sync.Mutex
	dirs map[string]string
}

// fixture builds a repository once per run and returns its git dir.
func fixture(tb testing.TB, name string, build func(tb testing.TB, dir string) string) string {
	tb.Helper()
	fixtures.Lock()
	defer fixtures.Unlock()
	if d, ok := fixtures.dirs[name]; ok {
		return d
	}
	d := build(tb, filepath.Join(fixtureRoot, name))
	if fixtures.dirs == nil {
		fixtures.dirs = map[string]string{}
	}
	fixtures.dirs[name] = d
	return d
}

// gcRepo: 300 commits, repacked into one delta-compressed pack.
func gcRepo(tb testing.TB) string {
	return fixture(tb, "gc", func(tb testing.TB, dir string) string {
		initRepo(tb, dir, true)
		newHistory(1).fastImport(tb, dir, 300)
		gittest.Run(tb, dir, "-c", "pack.threads=1", "repack", "-adfq") // one thread: the same pack every run
		return dir
	})
}

// multiRepo: one repacked pack, a second pack kept from a thin fetch
// (index-pack --fix-thin: REF_DELTAs whose bases were appended at its
// end), loose objects on top, and a stray .pack without an index.
func multiRepo(tb testing.TB) string {
	return fixture(tb, "multi", func(tb testing.TB, dir string) string {
		h := newHistory(2)
		initRepo(tb, dir, false)
		h.fastImport(tb, dir, 150)
		gittest.Run(tb, dir, "repack", "-adq")
		up := dir + "-upstream"
		gittest.Run(tb, "", "clone", "-q", "--bare", "--no-local", dir, up)
		h.fastImport(tb, up, 100)
		gittest.Run(tb, up, "repack", "-adq")
		gittest.Run(tb, dir, "-c", "fetch.unpackLimit=1", "fetch", "-q", up, "main")
		gittest.Run(tb, dir, "reset", "-q", "--hard", "FETCH_HEAD")
		h.commitLoose(tb, dir, 5)
		gd := filepath.Join(dir, ".git")
		if err := os.WriteFile(filepath.Join(gd, "objects", "pack", "pack-"+strings.Repeat("0", 40)+".pack"), []byte("PACK junk"), 0o444); err != nil {
			tb.Fatal(err)
		}
		return gd
	})
}

// mediumRepo is the benchmark's repository: 1000 commits, repacked.
func mediumRepo(tb testing.TB) string {
	return fixture(tb, "medium", func(tb testing.TB, dir string) string {
		initRepo(tb, dir, true)
		newHistory(3).fastImport(tb, dir, 1000)
		gittest.Run(tb, dir, "-c", "pack.threads=1", "repack", "-adfq") // one thread: the same pack every run
		return dir
	})
}

// objects lists the objects git rev-list --objects finds for args.
func objects(tb testing.TB, gitDir string, args ...string) []plumbing.Hash {
	tb.Helper()
	out, _ := gittest.Cmd{Dir: gitDir}.Output(tb, append([]string{"rev-list", "--objects"}, args...)...)
	var hs []plumbing.Hash
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		hs = append(hs, plumbing.NewHash(strings.Fields(l)[0]))
	}
	return hs
}

func hashSet(hs []plumbing.Hash) map[plumbing.Hash]bool {
	m := make(map[plumbing.Hash]bool, len(hs))
	for _, h := range hs {
		m[h] = true
	}
	return m
}

// packSize is the total size of the repository's packs.
func packSize(tb testing.TB, gitDir string) int64 {
	tb.Helper()
	ms, _ := filepath.Glob(filepath.Join(gitDir, "objects", "pack", "*.pack"))
	var n int64
	for _, m := range ms {
		fi, err := os.Stat(m)
		if err != nil {
			tb.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// indexed lists the objects of a pack index, sorted, via git show-index.
func indexed(tb testing.TB, idxPath string) []string {
	tb.Helper()
	idx, err := os.ReadFile(idxPath)
	if err != nil {
		tb.Fatal(err)
	}
	out, _ := gittest.Cmd{Stdin: string(idx)}.Output(tb, "show-index")
	var ids []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(l); len(f) >= 2 {
			ids = append(ids, f[1])
		}
	}
	sort.Strings(ids)
	return ids
}

// bigRepo: a 1.5 MB incompressible file edited in place over 30 commits
// beside ordinary small files, repacked: its whole entry is larger than
// the writer's read window, and its deltas resolve to a large object.
func bigRepo(tb testing.TB) string {
	return fixture(tb, "big", func(tb testing.TB, dir string) string {
		initRepo(tb, dir, true)
		h := newHistory(4)
		h.fastImport(tb, dir, 5)
		raw := make([]byte, 1<<20+100<<10)
		for i := range raw {
			raw[i] = byte(h.rnd.Uint32())
		}
		big := []byte(base64.StdEncoding.EncodeToString(raw))
		var s bytes.Buffer
		for i := range 30 {
			for range 3 {
				big[h.rnd.IntN(len(big))] = 'A' + byte(i%26)
			}
			fmt.Fprintf(&s, "commit refs/heads/main\ncommitter T <t@example.com> %d +0000\ndata 4\nbig\n", 1700100000+i)
			if i == 0 {
				s.WriteString("from refs/heads/main^0\n")
			}
			fmt.Fprintf(&s, "M 100644 inline big.txt\ndata %d\n%s\n\n", len(big), big)
		}
		gittest.Cmd{Dir: dir, Stdin: s.String()}.Run(tb, "fast-import", "--quiet")
		h.fastImport(tb, dir, 5)
		gittest.Run(tb, dir, "-c", "pack.threads=1", "repack", "-adfq") // one thread: the same pack every run
		return dir
	})
}
