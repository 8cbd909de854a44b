package odb_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/gittest"
	"gatehouse/repos/odb"
)

// versions returns n versions of a file of size bytes: random text at
// first, each next one changing a few small runs, so git deltas each
// against the one before.
func versions(seed uint64, size, n int) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, size)
	for i := range b {
		b[i] = 'a' + byte(rng.IntN(26))
		if rng.IntN(64) == 0 {
			b[i] = '\n'
		}
	}
	out := make([][]byte, n)
	for v := range out {
		for range 4 {
			at := rng.IntN(size - 64)
			for i := at; i < at+32; i++ {
				b[i] = '0' + byte(rng.IntN(10))
			}
		}
		out[v] = bytes.Clone(b)
	}
	return out
}

// chainRepo makes a bare repository whose main has n commits, each
// changing data.txt (a version from versions), a small file in a nested
// tree, with a symlink and an annotated tag, packed by git repack with
// delta chains up to depth deep (REF_DELTAs instead of OFS_DELTAs if
// ref), then two more commits left loose. It returns the repository and
// the id of data.txt's last packed version.
func chainRepo(t testing.TB, size, n, depth int, ref bool) (string, plumbing.Hash) {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo.git")
	gittest.Run(t, "", "init", "-q", "--bare", "-b", "main", repo)
	vs := versions(uint64(size), size, n+2)
	// fast-import writes the history in one go; it leaves fewer objects
	// than fastimport.unpackLimit (100) loose.
	importVersions := func(from, to int) {
		var in bytes.Buffer
		for i := from; i < to; i++ {
			fmt.Fprintf(&in, "commit refs/heads/main\ncommitter C <c@example.com> %d +0000\ndata 3\nv%d\n", 1700000000+i, i%10)
			if i == from && from > 0 {
				in.WriteString("from refs/heads/main^0\n")
			}
			fmt.Fprintf(&in, "M 100644 inline data.txt\ndata %d\n%s\n", len(vs[i]), vs[i])
			small := fmt.Sprintf("version %d\n", i)
			fmt.Fprintf(&in, "M 100644 inline a/b/small.txt\ndata %d\n%s\n", len(small), small)
			fmt.Fprintf(&in, "M 120000 inline link\ndata 8\ndata.txt\n\n")
			if i == 1 {
				fmt.Fprintf(&in, "tag v1\nfrom refs/heads/main\ntagger C <c@example.com> 1700000000 +0000\ndata 6\na tag\n\n")
			}
		}
		gittest.Cmd{Dir: repo, Stdin: in.String()}.Run(t, "fast-import", "--quiet")
	}
	importVersions(0, n)
	gittest.Run(t, repo, "-c", "repack.useDeltaBaseOffset="+strconv.FormatBool(!ref), "-c", "pack.threads=1",
		"repack", "-adfq", "--depth="+strconv.Itoa(depth), "--window=250")
	last := gittest.Run(t, repo, "rev-parse", "main:data.txt")
	importVersions(n, n+2)
	return repo, plumbing.NewHash(last)
}

// maxDepth is the deepest delta chain git reports in the repository's
// packs.
func maxDepth(t testing.TB, repo string) int {
	t.Helper()
	idxs, _ := filepath.Glob(filepath.Join(repo, "objects", "pack", "*.idx"))
	deepest := 0
	for _, idx := range idxs {
		for _, line := range strings.Split(gittest.Run(t, repo, "verify-pack", "-v", idx), "\n") {
			// "SHA TYPE SIZE PACKED OFFSET DEPTH BASE" for deltas.
			if f := strings.Fields(line); len(f) == 7 && len(f[0]) == 40 {
				d, _ := strconv.Atoi(f[5])
				deepest = max(deepest, d)
			}
		}
	}
	return deepest
}

// catFileAll returns every object of the repository as git reads it.
func catFileAll(t testing.TB, repo string) map[plumbing.Hash]object {
	t.Helper()
	out, _ := gittest.Cmd{Dir: repo}.Output(t, "cat-file", "--batch-all-objects", "--batch", "--unordered")
	objs := make(map[plumbing.Hash]object)
	br := bufio.NewReader(strings.NewReader(out))
	for {
		line, err := br.ReadString('\n')
		if err == io.EOF {
			return objs
		}
		f := strings.Fields(line)
		if err != nil || len(f) != 3 {
			t.Fatalf("cat-file line %q: %v", line, err)
		}
		n, _ := strconv.Atoi(f[2])
		data := make([]byte, n+1)
		if _, err := io.ReadFull(br, data); err != nil {
			t.Fatal(err)
		}
		typ, _ := plumbing.ParseObjectType(f[1])
		objs[plumbing.NewHash(f[0])] = object{typ, data[:n]}
	}
}

type object struct {
	typ  plumbing.ObjectType
	data []byte
}

// TestReaderMatchesGit reads every object of repositories with deep
// delta chains, OFS and REF deltas, packed and loose, and compares type,
// size and content with git's, with and without a base cache.
func TestReaderMatchesGit(t *testing.T) {
	for _, ref := range []bool{false, true} {
		repo, _ := chainRepo(t, 64<<10, 60, 50, ref)
		if d := maxDepth(t, repo); d < 40 {
			t.Fatalf("deepest chain is %d, want a deep one", d)
		}
		if loose, _ := filepath.Glob(filepath.Join(repo, "objects", "??", "*")); len(loose) == 0 {
			t.Fatal("no loose objects")
		}
		want := catFileAll(t, repo)
		for _, cache := range []int64{-1, 256 << 10, 0} {
			t.Run(fmt.Sprintf("ref=%v,cache=%d", ref, cache), func(t *testing.T) {
				r := odb.OpenReader(repo, odb.Limits{BaseCacheSize: cache})
				defer r.Close()
				var buf []byte
				for id, w := range want {
					typ, data, err := r.ReadWhole(id, w.typ, buf)
					if err != nil || typ != w.typ || !bytes.Equal(data, w.data) {
						t.Fatalf("ReadWhole(%s) = %v (%d bytes) %v, want %v %d", id, typ, len(data), err, w.typ, len(w.data))
					}
					buf = data
					other := plumbing.BlobObject
					if w.typ == other {
						other = plumbing.TreeObject
					}
					if _, _, err := r.ReadWhole(id, other, nil); !errors.Is(err, plumbing.ErrObjectNotFound) {
						t.Fatalf("ReadWhole(%s) as a %s: %v, want not found", id, other, err)
					}
					typ, size, err := r.Header(id)
					if err != nil || typ != w.typ || size != int64(len(w.data)) {
						t.Fatalf("Header(%s) = %v %d %v, want %v %d", id, typ, size, err, w.typ, len(w.data))
					}
					typ, size, rc, err := r.Read(id)
					if err != nil {
						t.Fatalf("Read(%s): %v", id, err)
					}
					got, err := io.ReadAll(rc)
					rc.Close()
					if err != nil || typ != w.typ || size != int64(len(w.data)) || !bytes.Equal(got, w.data) {
						t.Fatalf("Read(%s) = %v %d (%d bytes) %v, want %v %d", id, typ, size, len(got), err, w.typ, len(w.data))
					}
				}
			})
		}
	}
}

func TestReaderNotFound(t *testing.T) {
	repo, _ := chainRepo(t, 4<<10, 3, 10, false)
	r := odb.OpenReader(repo, odb.Limits{})
	defer r.Close()
	missing := plumbing.NewHash("0123456789012345678901234567890123456789")
	if _, _, err := r.Header(missing); !errors.Is(err, plumbing.ErrObjectNotFound) {
		t.Errorf("Header of a missing object: %v", err)
	}
	if _, _, _, err := r.Read(missing); !errors.Is(err, plumbing.ErrObjectNotFound) {
		t.Errorf("Read of a missing object: %v", err)
	}
}

// TestReaderMaxObjectSize: an object over the bound is refused from its
// header, whether it is stored whole or as a delta, packed or loose.
func TestReaderMaxObjectSize(t *testing.T) {
	repo, last := chainRepo(t, 64<<10, 5, 10, false)
	loose := plumbing.NewHash(gittest.Run(t, repo, "rev-parse", "main:data.txt"))
	r := odb.OpenReader(repo, odb.Limits{MaxObjectSize: 32 << 10})
	defer r.Close()
	for _, id := range []plumbing.Hash{last, loose} {
		if _, _, err := r.Header(id); !errors.Is(err, odb.ErrTooLarge) {
			t.Errorf("Header(%s): %v, want ErrTooLarge", id, err)
		}
		if _, _, _, err := r.Read(id); !errors.Is(err, odb.ErrTooLarge) {
			t.Errorf("Read(%s): %v, want ErrTooLarge", id, err)
		}
	}
	small := plumbing.NewHash(gittest.Run(t, repo, "rev-parse", "main~3:a/b/small.txt"))
	if _, _, err := r.Header(small); err != nil {
		t.Errorf("Header of a small object: %v", err)
	}
}

// TestReaderCorruptPack: damaged pack data is reported as ErrCorrupt,
// never as wrong content.
func TestReaderCorruptPack(t *testing.T) {
	repo, _ := chainRepo(t, 16<<10, 10, 10, false)
	want := catFileAll(t, repo)
	packs, _ := filepath.Glob(filepath.Join(repo, "objects", "pack", "*.pack"))
	data, err := os.ReadFile(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		i := 12 + rng.IntN(len(data)-32)
		data[i] ^= byte(1 + rng.IntN(255))
	}
	os.Chmod(packs[0], 0o644)
	if err := os.WriteFile(packs[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := odb.OpenReader(repo, odb.Limits{})
	defer r.Close()
	bad := 0
	for id, w := range want {
		_, _, rc, err := r.Read(id)
		if err == nil {
			var got []byte
			got, err = io.ReadAll(rc)
			rc.Close()
			if err == nil && !bytes.Equal(got, w.data) {
				t.Fatalf("%s: wrong content without an error", id)
			}
		}
		if err != nil {
			bad++
			if !errors.Is(err, odb.ErrCorrupt) && !errors.Is(err, plumbing.ErrObjectNotFound) {
				t.Errorf("%s: %v, want ErrCorrupt", id, err)
			}
		}
	}
	if bad == 0 {
		t.Fatal("no object reported damaged")
	}
}
