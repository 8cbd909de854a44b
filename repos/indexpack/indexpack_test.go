package indexpack_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/gittest"
	"gatehouse/repos/indexpack"
)

// fixture is a work repository with two commits on main: the second
// changes one line of a large text file, so a thin pack of it is a
// REF_DELTA against the first version.
type fixture struct {
	dir    string
	c1, c2 string
	blob1  string // big.txt in c1
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	gittest.Run(t, dir, "init", "-q", "-b", "main")
	var big strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&big, "line %d of a file that is long enough to be worth a delta\n", i)
	}
	os.WriteFile(filepath.Join(dir, "big.txt"), []byte(big.String()), 0o644)
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "small.txt"), []byte("small\n"), 0o644)
	gittest.Run(t, dir, "add", ".")
	gittest.Run(t, dir, "commit", "-q", "-m", "first")
	f := &fixture{dir: dir, c1: gittest.Run(t, dir, "rev-parse", "HEAD"), blob1: gittest.Run(t, dir, "rev-parse", "HEAD:big.txt")}
	os.WriteFile(filepath.Join(dir, "big.txt"), []byte(strings.Replace(big.String(), "line 1000 ", "LINE 1000 ", 1)), 0o644)
	gittest.Run(t, dir, "commit", "-q", "-am", "second")
	f.c2 = gittest.Run(t, dir, "rev-parse", "HEAD")
	return f
}

// packOf runs pack-objects with revs on stdin.
func (f *fixture) packOf(t *testing.T, revs string, extra ...string) []byte {
	t.Helper()
	args := append([]string{"pack-objects", "--stdout", "-q"}, extra...)
	out, _ := gittest.Cmd{Dir: f.dir, Stdin: revs}.Output(t, args...)
	return []byte(out)
}

// bareRepo returns an empty bare repository, or a bare clone of src at
// ref when src is not empty.
func bareRepo(t *testing.T, src, ref string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "r.git")
	gittest.Run(t, "", "init", "-q", "--bare", dir)
	if src != "" {
		gittest.Run(t, dir, "fetch", "-q", src, ref+":refs/heads/main")
	}
	return dir
}

// objectsListing lists everything under objects/, to compare before and after.
func objectsListing(t *testing.T, gitDir string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(gitDir, "objects")
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, rel)
		return nil
	})
	sort.Strings(out)
	return out
}

func installedPacks(t *testing.T, gitDir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(gitDir, "objects", "pack", "pack-*.idx"))
	return m
}

func receive(t *testing.T, gitDir string, data []byte, opts indexpack.Options) (*indexpack.Incoming, error) {
	t.Helper()
	in, err := indexpack.Receive(context.Background(), gitDir, bytes.NewReader(data), opts)
	if err == nil {
		t.Cleanup(in.Abort)
	}
	return in, err
}

func TestReceiveFullPack(t *testing.T) {
	f := newFixture(t)
	repo := bareRepo(t, "", "")
	in, err := receive(t, repo, f.packOf(t, "main\n", "--revs"), indexpack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if in.Len() != 8 {
		t.Errorf("Len = %d, want 8", in.Len())
	}
	if err := in.CheckConnected(context.Background(), []string{f.c2}); err != nil {
		t.Fatalf("CheckConnected: %v", err)
	}
	typ, err := in.Type(f.c2)
	if err != nil || typ != plumbing.CommitObject {
		t.Errorf("Type = %v, %v", typ, err)
	}
	if ok, err := in.IsAncestor(context.Background(), f.c1, f.c2); !ok || err != nil {
		t.Errorf("IsAncestor(c1, c2) = %v, %v", ok, err)
	}
	if ok, err := in.IsAncestor(context.Background(), f.c2, f.c1); ok || err != nil {
		t.Errorf("IsAncestor(c2, c1) = %v, %v", ok, err)
	}
	if len(installedPacks(t, repo)) != 0 {
		t.Fatal("pack visible before Install")
	}
	if err := in.Install(); err != nil {
		t.Fatal(err)
	}
	in.Abort()
	idx := installedPacks(t, repo)
	if len(idx) != 1 || filepath.Base(idx[0]) != "pack-"+in.Checksum()+".idx" {
		t.Fatalf("installed %v", idx)
	}
	gittest.Run(t, repo, "verify-pack", idx[0])
	gittest.Run(t, repo, "update-ref", "refs/heads/main", f.c2)
	gittest.Run(t, repo, "fsck", "--full", "--strict", "--no-dangling")
	if got := objectsListing(t, repo); strings.Contains(strings.Join(got, " "), "tmp_") {
		t.Errorf("quarantine left behind: %v", got)
	}
}

func TestReceiveThinPack(t *testing.T) {
	f := newFixture(t)
	repo := bareRepo(t, f.dir, f.c1)
	data := f.packOf(t, f.c2+"\n^"+f.c1+"\n", "--revs", "--thin")
	if n := binary.BigEndian.Uint32(data[8:12]); n != 3 {
		t.Fatalf("fixture pack has %d objects, want a thin pack of 3", n)
	}
	var progress bytes.Buffer
	in, err := receive(t, repo, data, indexpack.Options{Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if in.Len() != 4 {
		t.Errorf("Len = %d, want 4 (3 sent + 1 base)", in.Len())
	}
	if !strings.Contains(progress.String(), "completed with 1 local object") {
		t.Errorf("progress = %q", progress.String())
	}
	if err := in.CheckConnected(context.Background(), []string{f.c2}); err != nil {
		t.Fatal(err)
	}
	if err := in.Install(); err != nil {
		t.Fatal(err)
	}
	in.Abort()
	var ours string
	for _, idx := range installedPacks(t, repo) {
		if strings.Contains(idx, in.Checksum()) {
			ours = idx
		}
	}
	if ours == "" {
		t.Fatal("pack not installed")
	}
	// verify-pack resolves every delta within the pack alone.
	out := gittest.Run(t, repo, "verify-pack", "-v", ours)
	if !strings.Contains(out, f.blob1) {
		t.Errorf("base %s not appended:\n%s", f.blob1, out)
	}
	if strings.Contains(out, "missing") || strings.Contains(out, "bad") {
		t.Errorf("verify-pack:\n%s", out)
	}
	gittest.Run(t, repo, "update-ref", "refs/heads/main", f.c2)
	gittest.Run(t, repo, "fsck", "--full", "--strict", "--no-dangling")
}

func TestReceiveThinPackMissingBase(t *testing.T) {
	f := newFixture(t)
	repo := bareRepo(t, "", "")
	before := objectsListing(t, repo)
	_, err := receive(t, repo, f.packOf(t, f.c2+"\n^"+f.c1+"\n", "--revs", "--thin"), indexpack.Options{})
	if !errors.Is(err, indexpack.ErrMissingObject) {
		t.Fatalf("err = %v, want ErrMissingObject", err)
	}
	assertUnchanged(t, repo, before)
}

func assertUnchanged(t *testing.T, repo string, before []string) {
	t.Helper()
	if after := objectsListing(t, repo); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("objects changed:\nbefore %v\nafter  %v", before, after)
	}
}

func TestReceiveRefused(t *testing.T) {
	f := newFixture(t)
	good := f.packOf(t, "main\n", "--revs")
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	tests := []struct {
		name string
		data []byte
		opts indexpack.Options
		want error
	}{
		{"empty", nil, indexpack.Options{}, indexpack.ErrCorrupt},
		{"garbage", []byte("this is not a pack at all, not even close"), indexpack.Options{}, indexpack.ErrCorrupt},
		{"bad version", append([]byte("PACK\x00\x00\x00\x04"), good[8:]...), indexpack.Options{}, indexpack.ErrCorrupt},
		{"truncated", good[:len(good)/2], indexpack.Options{}, indexpack.ErrCorrupt},
		{"no trailer", good[:len(good)-20], indexpack.Options{}, indexpack.ErrCorrupt},
		{"corrupt checksum", flip(len(good) - 1), indexpack.Options{}, indexpack.ErrCorrupt},
		{"corrupt data", flip(len(good) / 2), indexpack.Options{}, indexpack.ErrCorrupt},
		{"too large", good, indexpack.Options{MaxSize: int64(len(good) / 2)}, indexpack.ErrTooLarge},
		{"too many objects", good, indexpack.Options{MaxObjects: 3}, indexpack.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := bareRepo(t, "", "")
			before := objectsListing(t, repo)
			_, err := receive(t, repo, tt.data, tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			assertUnchanged(t, repo, before)
		})
	}
}

// TestReceiveExactSize accepts a pack of exactly MaxSize bytes.
func TestReceiveExactSize(t *testing.T) {
	f := newFixture(t)
	data := f.packOf(t, "main\n", "--revs")
	if _, err := receive(t, bareRepo(t, "", ""), data, indexpack.Options{MaxSize: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
}

// TestReceiveStopsAtPackEnd returns once the pack is complete, with the
// stream still open: a client waits for the report there.
func TestReceiveStopsAtPackEnd(t *testing.T) {
	f := newFixture(t)
	data := f.packOf(t, "main\n", "--revs")
	repo := bareRepo(t, "", "")
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write(data)
	done := make(chan error, 1)
	go func() {
		in, err := indexpack.Receive(context.Background(), repo, pr, indexpack.Options{})
		if err == nil {
			in.Abort()
		}
		done <- err
	}()
	await(t, done, "Receive waited for data beyond the pack")
}

// await fails t unless ch gives nil within 20 seconds; stuck says what
// did not happen otherwise.
func await(t *testing.T, ch <-chan error, stuck string) {
	t.Helper()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal(stuck)
	}
}

type cancelReader struct {
	r      io.Reader
	cancel func()
	n      int
}

func (c *cancelReader) Read(p []byte) (int, error) {
	c.n++
	if c.n == 2 {
		c.cancel()
	}
	return c.r.Read(p[:min(len(p), 100)])
}

func TestReceiveCancelled(t *testing.T) {
	f := newFixture(t)
	repo := bareRepo(t, "", "")
	before := objectsListing(t, repo)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := indexpack.Receive(ctx, repo, &cancelReader{r: bytes.NewReader(f.packOf(t, "main\n", "--revs")), cancel: cancel}, indexpack.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	assertUnchanged(t, repo, before)
}

func TestAbortRemovesEverything(t *testing.T) {
	f := newFixture(t)
	repo := bareRepo(t, "", "")
	before := objectsListing(t, repo)
	in, err := receive(t, repo, f.packOf(t, "main\n", "--revs"), indexpack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in.Abort()
	in.Abort()
	assertUnchanged(t, repo, before)
}

func TestCheckConnectedMissing(t *testing.T) {
	f := newFixture(t)
	repo := bareRepo(t, "", "")
	// Only the commit: its tree and parent are nowhere.
	in, err := receive(t, repo, f.packOf(t, f.c2+"\n"), indexpack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.CheckConnected(context.Background(), []string{f.c2}); !errors.Is(err, indexpack.ErrMissingObject) {
		t.Fatalf("err = %v, want ErrMissingObject", err)
	}
	// An existing object needs nothing from the pack.
	repo2 := bareRepo(t, f.dir, f.c1)
	before := objectsListing(t, repo2)
	in2, err := receive(t, repo2, f.packOf(t, ""), indexpack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if in2.Len() != 0 {
		t.Fatalf("Len = %d", in2.Len())
	}
	if err := in2.CheckConnected(context.Background(), []string{f.c1}); err != nil {
		t.Fatal(err)
	}
	if err := in2.CheckConnected(context.Background(), []string{f.c2}); !errors.Is(err, indexpack.ErrMissingObject) {
		t.Fatalf("err = %v", err)
	}
	if err := in2.Install(); err != nil {
		t.Fatal(err)
	}
	in2.Abort()
	assertUnchanged(t, repo2, before)
}

// rawObject is an entry for a hand-built pack.
type rawObject struct {
	typ  plumbing.ObjectType
	ref  plumbing.Hash // for REF_DELTA
	data []byte
}

// buildPack writes a version 2 pack by hand.
func buildPack(objs ...rawObject) []byte {
	var b bytes.Buffer
	b.WriteString("PACK")
	binary.Write(&b, binary.BigEndian, uint32(2))
	binary.Write(&b, binary.BigEndian, uint32(len(objs)))
	for _, o := range objs {
		size := len(o.data)
		c := byte(o.typ)<<4 | byte(size&15)
		size >>= 4
		for size > 0 {
			b.WriteByte(c | 0x80)
			c = byte(size & 0x7f)
			size >>= 7
		}
		b.WriteByte(c)
		if o.typ == plumbing.REFDeltaObject {
			b.Write(o.ref[:])
		}
		zw := zlib.NewWriter(&b)
		zw.Write(o.data)
		zw.Close()
	}
	sum := sha1.Sum(b.Bytes())
	b.Write(sum[:])
	return b.Bytes()
}

func TestReceiveObjectChecks(t *testing.T) {
	blob := plumbing.ComputeHash(plumbing.BlobObject, []byte("x\n"))
	tree := func(mode, name string) []byte {
		return append([]byte(mode+" "+name+"\x00"), blob[:]...)
	}
	goodTree := tree("100644", "file")
	treeID := plumbing.ComputeHash(plumbing.TreeObject, goodTree)
	commit := func(hdr string) []byte {
		return []byte("tree " + treeID.String() + "\n" + hdr + "\nmsg\n")
	}
	const who = "A <a@example.com> 1700000000 +0000"
	tests := []struct {
		name string
		obj  rawObject
		ok   bool
	}{
		{"good tree", rawObject{typ: plumbing.TreeObject, data: goodTree}, true},
		{"tree .git", rawObject{typ: plumbing.TreeObject, data: tree("40000", ".GIT")}, false},
		{"tree ..", rawObject{typ: plumbing.TreeObject, data: tree("100644", "..")}, false},
		{"tree bad mode", rawObject{typ: plumbing.TreeObject, data: tree("100999", "f")}, false},
		{"tree truncated", rawObject{typ: plumbing.TreeObject, data: goodTree[:len(goodTree)-3]}, false},
		{"good commit", rawObject{typ: plumbing.CommitObject, data: commit("author " + who + "\ncommitter " + who + "\n")}, true},
		{"commit no author", rawObject{typ: plumbing.CommitObject, data: commit("committer " + who + "\n")}, false},
		{"commit bad date", rawObject{typ: plumbing.CommitObject, data: commit("author " + who + "\ncommitter A <a@b> soon +0000\n")}, false},
		{"good tag", rawObject{typ: plumbing.TagObject, data: []byte("object " + blob.String() + "\ntype blob\ntag v1\ntagger " + who + "\n\nhi\n")}, true},
		{"tag bad type", rawObject{typ: plumbing.TagObject, data: []byte("object " + blob.String() + "\ntype thing\ntag v1\n\nhi\n")}, false},
		{"blob anything", rawObject{typ: plumbing.BlobObject, data: []byte("\x00\xff")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := bareRepo(t, "", "")
			_, err := receive(t, repo, buildPack(tt.obj), indexpack.Options{})
			if tt.ok && err != nil {
				t.Fatal(err)
			}
			if !tt.ok && !errors.Is(err, indexpack.ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestReceiveDeltas(t *testing.T) {
	empty := plumbing.ComputeHash(plumbing.BlobObject, nil)
	// A delta against the empty blob: sizes 0 and 5, insert 5 bytes.
	hello := rawObject{typ: plumbing.REFDeltaObject, ref: empty, data: []byte("\x00\x05\x05hello")}
	helloID := plumbing.ComputeHash(plumbing.BlobObject, []byte("hello"))
	// A delta on that delta (its base comes later): copy 5 bytes, insert "!".
	bang := rawObject{typ: plumbing.REFDeltaObject, ref: helloID, data: []byte("\x05\x06\x90\x05\x01!")}
	tests := []struct {
		name string
		objs []rawObject
		want error
	}{
		{"chain out of order", []rawObject{bang, hello, {typ: plumbing.BlobObject}}, nil},
		{"bad base size", []rawObject{{typ: plumbing.BlobObject}, {typ: plumbing.REFDeltaObject, ref: empty, data: []byte("\x01\x05\x05hello")}}, indexpack.ErrCorrupt},
		{"copy out of bounds", []rawObject{{typ: plumbing.BlobObject, data: []byte("ab")}, {typ: plumbing.REFDeltaObject, ref: plumbing.ComputeHash(plumbing.BlobObject, []byte("ab")), data: []byte("\x02\x05\x90\x05")}}, indexpack.ErrCorrupt},
		{"missing base", []rawObject{hello}, indexpack.ErrMissingObject},
		{"duplicate", []rawObject{{typ: plumbing.BlobObject}, {typ: plumbing.BlobObject}}, indexpack.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := bareRepo(t, "", "")
			in, err := receive(t, repo, buildPack(tt.objs...), indexpack.Options{})
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil {
				return
			}
			if err := in.Install(); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"hello", "hello!"} {
				id := plumbing.ComputeHash(plumbing.BlobObject, []byte(want)).String()
				if got := gittest.Run(t, repo, "cat-file", "blob", id); got != want {
					t.Errorf("%s = %q, want %q", id, got, want)
				}
			}
			gittest.Run(t, repo, "verify-pack", installedPacks(t, repo)[0])
		})
	}
}

// TestReceiveThinPackBesideHalfInstalledPack: a pack without its index
// (an install in progress elsewhere, or a crash) must not hide the
// repository's other objects.
func TestReceiveThinPackBesideHalfInstalledPack(t *testing.T) {
	f := newFixture(t)
	repo := bareRepo(t, f.dir, f.c1)
	gittest.Run(t, repo, "repack", "-a", "-d", "-q")
	stray := filepath.Join(repo, "objects", "pack", "pack-"+strings.Repeat("ab", 20)+".pack")
	if err := os.WriteFile(stray, []byte("PACK"), 0o444); err != nil {
		t.Fatal(err)
	}
	in, err := receive(t, repo, f.packOf(t, f.c2+"\n^"+f.c1+"\n", "--revs", "--thin"), indexpack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.CheckConnected(context.Background(), []string{f.c2}); err != nil {
		t.Fatal(err)
	}
}

// randomBlobPack streams a pack of one incompressible blob of n bytes
// without holding it, so the test measures only what Receive keeps.
func randomBlobPack(n int64) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		sum := sha1.New()
		w := io.MultiWriter(pw, sum)
		hdr := []byte("PACK\x00\x00\x00\x02\x00\x00\x00\x01")
		w.Write(hdr)
		size := n
		c := byte(plumbing.BlobObject)<<4 | byte(size&15)
		for size >>= 4; size > 0; size >>= 7 {
			w.Write([]byte{c | 0x80})
			c = byte(size & 0x7f)
		}
		w.Write([]byte{c})
		zw, _ := zlib.NewWriterLevel(w, zlib.NoCompression)
		buf := make([]byte, 64<<10)
		var x uint64 = 88172645463325252
		for left := n; left > 0; left -= int64(len(buf)) {
			for i := 0; i+8 <= len(buf); i += 8 {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				binary.LittleEndian.PutUint64(buf[i:], x)
			}
			if _, err := zw.Write(buf[:min(left, int64(len(buf)))]); err != nil {
				return
			}
		}
		zw.Close()
		pw.Write(sum.Sum(nil))
		pw.Close()
	}()
	return pr
}

func TestReceiveLargePackBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("large pack")
	}
	repo := bareRepo(t, "", "")
	const size = 64 << 20
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	in, err := indexpack.Receive(context.Background(), repo, randomBlobPack(size), indexpack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Abort()
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB receiving a %d MiB pack", alloc>>10, size>>20)
	if alloc > size/4 {
		t.Errorf("allocated %d MiB receiving a %d MiB pack", alloc>>20, size>>20)
	}
	if err := in.Install(); err != nil {
		t.Fatal(err)
	}
	gittest.Run(t, repo, "verify-pack", installedPacks(t, repo)[0])
}

func TestCheckConnectedLinks(t *testing.T) {
	const who = "A <a@example.com> 1700000000 +0000"
	blobData := []byte("x\n")
	blob := plumbing.ComputeHash(plumbing.BlobObject, blobData)
	treeOf := func(mode string, id plumbing.Hash) []byte {
		return append([]byte(mode+" f\x00"), id[:]...)
	}
	commitOf := func(tree plumbing.Hash, msg string) []byte {
		return []byte("tree " + tree.String() + "\nauthor " + who + "\ncommitter " + who + "\n\n" + msg + "\n")
	}
	goodTree := treeOf("100644", blob)
	goodTreeID := plumbing.ComputeHash(plumbing.TreeObject, goodTree)
	goodCommit := commitOf(goodTreeID, "good")
	goodCommitID := plumbing.ComputeHash(plumbing.CommitObject, goodCommit)
	// A tree naming the good tree as if it were a file.
	wrongTree := treeOf("100644", goodTreeID)
	wrongCommit := commitOf(plumbing.ComputeHash(plumbing.TreeObject, wrongTree), "wrong type")
	// A tree no tip reaches, naming a blob that is nowhere.
	missing := plumbing.ComputeHash(plumbing.BlobObject, []byte("nowhere\n"))
	strayTree := treeOf("100644", missing)

	tests := []struct {
		name string
		objs []rawObject
		tip  plumbing.Hash
		want error
	}{
		{"connected", []rawObject{
			{typ: plumbing.BlobObject, data: blobData},
			{typ: plumbing.TreeObject, data: goodTree},
			{typ: plumbing.CommitObject, data: goodCommit},
		}, goodCommitID, nil},
		{"link of the wrong type", []rawObject{
			{typ: plumbing.BlobObject, data: blobData},
			{typ: plumbing.TreeObject, data: goodTree},
			{typ: plumbing.TreeObject, data: wrongTree},
			{typ: plumbing.CommitObject, data: wrongCommit},
		}, plumbing.ComputeHash(plumbing.CommitObject, wrongCommit), indexpack.ErrCorrupt},
		{"unreachable object with a missing link", []rawObject{
			{typ: plumbing.BlobObject, data: blobData},
			{typ: plumbing.TreeObject, data: goodTree},
			{typ: plumbing.CommitObject, data: goodCommit},
			{typ: plumbing.TreeObject, data: strayTree},
		}, goodCommitID, indexpack.ErrMissingObject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := bareRepo(t, "", "")
			in, err := receive(t, repo, buildPack(tt.objs...), indexpack.Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = in.CheckConnected(context.Background(), []string{tt.tip.String()})
			if tt.want == nil && err != nil {
				t.Fatalf("CheckConnected: %v", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			// The answer is remembered, not recomputed differently.
			if err2 := in.CheckConnected(context.Background(), []string{tt.tip.String()}); (err == nil) != (err2 == nil) {
				t.Fatalf("second call = %v, first %v", err2, err)
			}
		})
	}
}

// TestReceiveTakesWhatIsSent: what the client sends is taken off the
// connection as it comes, past the pack's end too, rather than as the
// parser gets to it (the pack waits on disk, not in the connection's
// buffers); bytes after the pack are dropped, the pack is kept exactly,
// and a pack that fits MaxSize is not refused for what follows it.
func TestReceiveTakesWhatIsSent(t *testing.T) {
	f := newFixture(t)
	data := f.packOf(t, "main\n", "--revs")
	repo := bareRepo(t, "", "")
	pr, pw := io.Pipe()
	defer pw.Close()
	sent := make(chan error, 1)
	go func() {
		_, err := pw.Write(append(slices.Clip(data), bytes.Repeat([]byte("junk"), 1000)...))
		sent <- err
	}()
	in, err := indexpack.Receive(context.Background(), repo, pr, indexpack.Options{MaxSize: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Abort()
	await(t, sent, "the bytes after the pack were never read")
	if err := in.Install(); err != nil {
		t.Fatal(err)
	}
	packs := installedPacks(t, repo)
	if len(packs) != 1 {
		t.Fatalf("packs: %v", packs)
	}
	st, err := os.Stat(strings.TrimSuffix(packs[0], ".idx") + ".pack")
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != int64(len(data)) {
		t.Fatalf("installed pack is %d bytes, sent %d", st.Size(), len(data))
	}
	gittest.Run(t, repo, "verify-pack", packs[0])
}
