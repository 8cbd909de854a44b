package odb_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// git runs git in dir with a fixed environment, failing the test on error.
func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=A", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=C", "GIT_COMMITTER_EMAIL=c@example.com",
		"GIT_AUTHOR_DATE=1700000000 +0000", "GIT_COMMITTER_DATE=1700000000 +0000")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out.Bytes())
	}
	return strings.TrimSpace(out.String())
}

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
// changing data.txt (a version from versions), a small file and a
// nested tree, packed with delta chains up to depth deep (REF_DELTAs
// instead of OFS_DELTAs if ref), then two more commits left loose. It
// returns the repository and the id of data.txt's last packed version.
func chainRepo(t testing.TB, size, n, depth int, ref bool) (string, plumbing.Hash) {
	t.Helper()
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	git(t, dir, "init", "-q", "-b", "main", work)
	os.MkdirAll(filepath.Join(work, "a", "b"), 0o755)
	vs := versions(uint64(size), size, n+2)
	for i, v := range vs {
		os.WriteFile(filepath.Join(work, "data.txt"), v, 0o644)
		os.WriteFile(filepath.Join(work, "a", "b", "small.txt"), []byte(fmt.Sprintf("version %d\n", i)), 0o644)
		if i == 0 {
			os.Symlink("data.txt", filepath.Join(work, "link"))
		}
		git(t, work, "add", "-A")
		git(t, work, "commit", "-q", "-m", fmt.Sprintf("version %d", i))
		if i == 1 {
			git(t, work, "tag", "-a", "-m", "a tag", "v1")
		}
		if i == n-1 {
			git(t, work, "-c", "repack.useDeltaBaseOffset="+strconv.FormatBool(!ref), "-c", "pack.threads=1",
				"repack", "-adfq", "--depth="+strconv.Itoa(depth), "--window=250")
		}
	}
	last := git(t, work, "rev-parse", "HEAD~2:data.txt")
	bare := filepath.Join(dir, "repo.git")
	git(t, dir, "init", "-q", "--bare", "-b", "main", bare)
	// The packed objects as git packed them, the last commits loose.
	copyDir(t, filepath.Join(work, ".git", "objects"), filepath.Join(bare, "objects"))
	copyDir(t, filepath.Join(work, ".git", "refs"), filepath.Join(bare, "refs"))
	return bare, plumbing.NewHash(last)
}

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o444)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// maxDepth is the deepest delta chain git reports in the repository's
// packs.
func maxDepth(t testing.TB, repo string) int {
	t.Helper()
	idxs, _ := filepath.Glob(filepath.Join(repo, "objects", "pack", "*.idx"))
	deepest := 0
	for _, idx := range idxs {
		for _, line := range strings.Split(git(t, repo, "verify-pack", "-v", idx), "\n") {
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
	cmd := exec.Command("git", "cat-file", "--batch-all-objects", "--batch", "--unordered")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git cat-file: %v", err)
	}
	objs := make(map[plumbing.Hash]object)
	br := bufio.NewReader(bytes.NewReader(out))
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
		want := catFileAll(t, repo)
		for _, cache := range []int64{-1, 256 << 10, 0} {
			t.Run(fmt.Sprintf("ref=%v,cache=%d", ref, cache), func(t *testing.T) {
				r := odb.OpenReader(repo, odb.Limits{BaseCacheSize: cache})
				defer r.Close()
				for id, w := range want {
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
	loose := plumbing.NewHash(git(t, repo, "rev-parse", "main:data.txt"))
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
	small := plumbing.NewHash(git(t, repo, "rev-parse", "main~3:a/b/small.txt"))
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
