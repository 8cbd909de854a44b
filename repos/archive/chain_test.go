package archive_test

import (
	"archive/tar"
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

	"gatehouse"
	"gatehouse/gittest"
	"gatehouse/repos/archive"
	"gatehouse/repos/pktline"
)

// chainRepo makes a bare repository whose main has n commits of one
// file, big.bin, of size bytes, each version changing four runs of 1 KiB,
// tagged v0, v1, ... git fast-import packs each version as a delta
// against the one before, so main has the version at the end of a chain
// of depth n-1 and v0 the whole one. The versions are returned if keep
// is set.
func chainRepo(t *testing.T, size, n int, keep bool) (repo string, versions [][]byte) {
	t.Helper()
	repo = filepath.Join(t.TempDir(), "repo.git")
	os.MkdirAll(repo, 0o755)
	gittest.Run(t, repo, "init", "-q", "--bare", "-b", "main")
	seed := [32]byte{byte(size), byte(n)}
	rng := rand.NewChaCha8(seed)
	b := make([]byte, size)
	rng.Read(b)
	pr, pw := io.Pipe()
	go func() {
		// Streamed: n versions of a large file need not be in memory.
		w := bufio.NewWriter(pw)
		for v := range n {
			for range 4 {
				at := int(rng.Uint64() % uint64(size-1024))
				rng.Read(b[at : at+1024])
			}
			if keep {
				versions = append(versions, bytes.Clone(b))
			}
			fmt.Fprintf(w, "blob\nmark :%d\ndata %d\n%s\n", v+1, size, b)
			fmt.Fprintf(w, "commit refs/heads/main\nmark :%d\ncommitter C <c@example.com> %d +0000\ndata 2\nv\nM 100644 :%d big.bin\n\n",
				n+v+1, 1700000000+v, v+1)
			// A tag per version, to archive it by.
			fmt.Fprintf(w, "reset refs/tags/v%d\nfrom :%d\n\n", v, n+v+1)
		}
		pw.CloseWithError(w.Flush())
	}()
	gittest.Cmd{Dir: repo, Input: pr}.Run(t, "-c", "fastimport.unpackLimit=0", "fast-import", "--quiet", "--depth=4095")
	pr.Close()
	return repo, versions
}

// tarFiles serves a tar archive of treeish and returns its files.
func tarFiles(t *testing.T, repo, treeish string, opts archive.Options) map[string][]byte {
	t.Helper()
	var out bytes.Buffer
	if err := archive.Serve(context.Background(), repo, bytes.NewReader(request("--format=tar", treeish)), &out, opts); err != nil {
		t.Fatalf("Serve: %v (%q)", err, firstLine(t, out.Bytes()))
	}
	var data bytes.Buffer
	r := pktline.NewReader(bufio.NewReader(&out))
	if _, line, err := r.ReadLine(); err != nil || line != "ACK" {
		t.Fatalf("answer %q: %v", line, err)
	}
	if kind, _, err := r.Read(); err != nil || kind != pktline.FlushPkt {
		t.Fatalf("no flush after ACK: %v", err)
	}
	for {
		kind, pkt, err := r.Read()
		if err != nil || kind == pktline.FlushPkt {
			break
		}
		if len(pkt) > 0 && pkt[0] == pktline.BandData {
			data.Write(pkt[1:])
		}
	}
	files := map[string][]byte{}
	tr := tar.NewReader(&data)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		files[h.Name] = b
	}
}

// TestDeepChain archives every version of a file kept in a deep delta
// chain and gets each back exactly.
func TestDeepChain(t *testing.T) {
	repo, versions := chainRepo(t, 256<<10, 40, true)
	if !strings.Contains(gittest.Run(t, repo, "verify-pack", "-v", packIdx(t, repo)), "chain length = 39: 1 object") {
		t.Fatal("no chain of depth 39")
	}
	for v := range versions {
		files := tarFiles(t, repo, fmt.Sprintf("v%d", v), archive.Options{})
		if !bytes.Equal(files["big.bin"], versions[v]) {
			t.Fatalf("version %d: %d bytes differ from what was committed (%d files)", v, len(files["big.bin"]), len(files))
		}
	}
}

// TestMaxObjectSize: a file over the per-file bound is refused with a
// message saying so, before anything is sent.
func TestMaxObjectSize(t *testing.T) {
	repo := newRepo(t) // big.txt: 11000 bytes
	var out bytes.Buffer
	err := archive.Serve(context.Background(), repo, bytes.NewReader(request("main")), &out, archive.Options{MaxObjectSize: 10000})
	want := "NACK file 'big.txt' is larger than the server's limit of 10000 bytes per file"
	if got := firstLine(t, out.Bytes()); got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if !errors.Is(err, gatehouse.ErrInvalid) {
		t.Errorf("Serve returned %v", err)
	}
}

// TestDeepChainMemory archives the file at the end of a depth-24 delta
// chain of 4 MiB versions in a child process and compares its peak
// memory with archiving the undeltified first version: rebuilding the
// deep one may hold a few versions (a base, a result, the base cache),
// never one per level of the chain.
func TestDeepChainMemory(t *testing.T) {
	const size = 4 << 20
	repo, _ := chainRepo(t, size, 25, false)
	peak := func(ref string) int64 {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestArchiveChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ARCHIVE_CHILD_REPO="+repo, "ARCHIVE_CHILD_REF="+ref)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		// The child's own high-water mark: rusage's would include this
		// process's at the fork.
		_, kb, ok := strings.Cut(string(out), "VmHWM:")
		n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.Fields(kb + " x")[0], "kB")), 10, 64)
		if !ok || err != nil {
			t.Fatalf("child's peak memory not found in %q", out)
		}
		return n << 10
	}
	whole, deep := peak("v0"), peak("main")
	t.Logf("peak RSS: %d MiB for the whole version, %d MiB for the deepest", whole>>20, deep>>20)
	if extra := deep - whole; extra > 16*size {
		t.Errorf("the deepest version took %d MiB more than the whole one, over 16 versions' worth", extra>>20)
	}
}

// TestArchiveChild is TestDeepChainMemory's child: it archives
// $ARCHIVE_CHILD_REF of $ARCHIVE_CHILD_REPO to nowhere.
func TestArchiveChild(t *testing.T) {
	repo := os.Getenv("ARCHIVE_CHILD_REPO")
	if repo == "" {
		return // not a child
	}
	err := archive.Serve(context.Background(), repo, bytes.NewReader(request("--format=tar", os.Getenv("ARCHIVE_CHILD_REF"))), io.Discard, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			fmt.Println(line)
		}
	}
}

// packIdx is the index of the repository's one pack.
func packIdx(t *testing.T, repo string) string {
	t.Helper()
	idx, _ := filepath.Glob(filepath.Join(repo, "objects", "pack", "*.idx"))
	if len(idx) != 1 {
		t.Fatalf("packs: %v", idx)
	}
	return idx[0]
}
