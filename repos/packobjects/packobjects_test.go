package packobjects_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"gatehouse/gittest"
	"gatehouse/repos/packobjects"
)

// receive indexes pack in the repository client as a fetching git would,
// checks it with verify-pack and returns the new index's path.
func receive(t *testing.T, client string, pack []byte, fixThin bool) string {
	t.Helper()
	args := []string{"index-pack", "--stdin", "--strict"}
	if fixThin {
		args = append(args, "--fix-thin")
	}
	out, _ := gittest.Cmd{Dir: client, Stdin: string(pack)}.Output(t, args...)
	f := strings.Fields(out)
	if len(f) != 2 {
		t.Fatalf("index-pack said %q", out)
	}
	idx := filepath.Join(client, "objects", "pack", "pack-"+f[1]+".idx")
	gittest.Run(t, client, "verify-pack", idx)
	return idx
}

// newClient makes an empty bare repository holding, if base is set, the
// objects reachable from base in src, as a client that fetched it before.
func newClient(t *testing.T, src, base string) string {
	t.Helper()
	client := filepath.Join(t.TempDir(), "client.git")
	initRepo(t, client, true)
	if base != "" {
		pack, _ := gittest.Cmd{Dir: src, Stdin: base + "\n"}.Output(t, "pack-objects", "--revs", "-q", "--stdout")
		gittest.Cmd{Dir: client, Stdin: pack}.Run(t, "index-pack", "--stdin")
		id := gittest.Run(t, src, "rev-parse", base)
		gittest.Run(t, client, "update-ref", "refs/heads/base", id)
	}
	return client
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name string
		repo func(testing.TB) string
		revs []string // what the client wants
		base string   // what the client has
		thin bool
		ofs  bool
	}{
		{name: "gc/all/ofs", repo: gcRepo, revs: []string{"--all"}, ofs: true},
		{name: "gc/all/ref", repo: gcRepo, revs: []string{"--all"}},
		{name: "gc/subset/ofs", repo: gcRepo, revs: []string{"HEAD", "^HEAD~50"}, base: "HEAD~50", ofs: true},
		{name: "gc/subset/ref", repo: gcRepo, revs: []string{"HEAD", "^HEAD~50"}, base: "HEAD~50"},
		{name: "gc/subset/thin/ofs", repo: gcRepo, revs: []string{"HEAD", "^HEAD~50"}, base: "HEAD~50", thin: true, ofs: true},
		{name: "gc/subset/thin/ref", repo: gcRepo, revs: []string{"HEAD", "^HEAD~50"}, base: "HEAD~50", thin: true},
		{name: "big/all/ofs", repo: bigRepo, revs: []string{"--all"}, ofs: true},
		{name: "big/subset/ofs", repo: bigRepo, revs: []string{"HEAD", "^HEAD~10"}, base: "HEAD~10", ofs: true},
		{name: "big/subset/thin/ref", repo: bigRepo, revs: []string{"HEAD", "^HEAD~10"}, base: "HEAD~10", thin: true},
		{name: "multi/all/ofs", repo: multiRepo, revs: []string{"--all"}, ofs: true},
		{name: "multi/all/ref", repo: multiRepo, revs: []string{"--all"}},
		{name: "multi/subset/ofs", repo: multiRepo, revs: []string{"HEAD", "^HEAD~120"}, base: "HEAD~120", ofs: true},
		{name: "multi/subset/thin/ofs", repo: multiRepo, revs: []string{"HEAD", "^HEAD~120"}, base: "HEAD~120", thin: true, ofs: true},
		{name: "multi/subset/thin/ref", repo: multiRepo, revs: []string{"HEAD", "^HEAD~120"}, base: "HEAD~120", thin: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.repo(t)
			want := objects(t, src, tt.revs...)
			var have map[plumbing.Hash]bool
			opts := packobjects.Options{OfsDelta: tt.ofs}
			if tt.thin {
				have = hashSet(objects(t, src, tt.base))
				opts.ClientHas = func(h plumbing.Hash) bool { return have[h] }
			}
			var buf bytes.Buffer
			st, err := packobjects.Write(context.Background(), src, want, opts, &buf)
			if err != nil {
				t.Fatal(err)
			}
			pack := buf.Bytes()
			if n := binary.BigEndian.Uint32(pack[8:12]); int(n) != len(want) || st.Objects != len(want) {
				t.Fatalf("pack header says %d objects, stats %d, want %d", n, st.Objects, len(want))
			}
			if st.Bytes != int64(len(pack)) {
				t.Errorf("Stats.Bytes = %d, wrote %d", st.Bytes, len(pack))
			}
			if sum := st.Reused + st.ReusedDeltas + st.Thin + st.Recompressed; sum != st.Objects {
				t.Errorf("stats do not add up: %+v", st)
			}
			t.Logf("%+v (on disk %d bytes)", st, packSize(t, src))

			// Without thin-pack, index-pack is not given --fix-thin, so
			// it fails on any delta whose base is not in the pack.
			client := newClient(t, src, tt.base)
			idx := receive(t, client, pack, tt.thin)
			got := indexed(t, idx)
			var wantIDs []string
			for _, h := range want {
				wantIDs = append(wantIDs, h.String())
			}
			sort.Strings(wantIDs)
			if tt.thin {
				// --fix-thin appends the bases the client had.
				var extra []string
				got = slices.DeleteFunc(got, func(id string) bool {
					if !slices.Contains(wantIDs, id) {
						extra = append(extra, id)
						return true
					}
					return false
				})
				for _, id := range extra {
					if !have[plumbing.NewHash(id)] {
						t.Errorf("pack holds %s, neither asked for nor a client's base", id)
					}
				}
			}
			if !slices.Equal(got, wantIDs) {
				t.Fatalf("pack holds %d objects, asked for %d", len(got), len(wantIDs))
			}
			tip := gittest.Run(t, src, "rev-parse", "HEAD")
			gittest.Run(t, client, "update-ref", "refs/heads/main", tip)
			gittest.Run(t, client, "fsck", "--full", "--strict", "--no-progress")

			// How much was reused.
			reused := st.Reused + st.ReusedDeltas + st.Thin
			switch {
			case tt.name == "gc/all/ofs" || tt.name == "big/all/ofs":
				if reused*100 < st.Objects*95 || st.Recompressed != 0 {
					t.Errorf("reused %d of %d: %+v", reused, st.Objects, st)
				}
				disk := packSize(t, src)
				if d := st.Bytes - disk; d*100 > disk*3 || -d*100 > disk*3 {
					t.Errorf("pack of %d bytes, %d on disk", st.Bytes, disk)
				}
				// All of a single pack, written in pack order with its
				// entries copied: the very bytes on disk.
				ms, _ := filepath.Glob(filepath.Join(src, "objects", "pack", "*.pack"))
				if disk, _ := os.ReadFile(ms[0]); !bytes.Equal(disk, pack) {
					t.Errorf("full pack differs from the one on disk")
				}
			case tt.thin:
				if st.Thin == 0 {
					t.Errorf("no thin deltas: %+v", st)
				}
				if tt.repo(t) == gcRepo(t) && st.Recompressed != 0 {
					t.Errorf("resolved %d objects despite a thin pack: %+v", st.Recompressed, st)
				}
			case tt.base != "" && tt.repo(t) != bigRepo(t):
				if st.Thin != 0 || st.Recompressed == 0 {
					t.Errorf("want bases resolved, not thin: %+v", st)
				}
			}
			if reused*100 < st.Objects*80 {
				t.Errorf("reused only %d of %d", reused, st.Objects)
			}
		})
	}
}

// A pack that git wrote with REF_DELTAs (a kept thin fetch) is part of
// multiRepo; check that some of its deltas really are ref-deltas, or the
// "base comes later" path is not being tested.
func TestMultiRepoHasRefDeltas(t *testing.T) {
	src := multiRepo(t)
	ms, _ := filepath.Glob(filepath.Join(src, "objects", "pack", "*.idx"))
	found := false
	for _, m := range ms {
		out, _ := gittest.Cmd{Dir: src}.Output(t, "verify-pack", "-v", m)
		// verify-pack -v marks deltas with depth and base; a base that
		// lies after its delta in the pack can only be a ref-delta.
		offs := map[string]int{}
		type d struct {
			off  int
			base string
		}
		var ds []d
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			if len(f) < 5 || len(f[0]) != 40 {
				continue
			}
			off, _ := strconv.Atoi(f[4])
			offs[f[0]] = off
			if len(f) == 7 {
				ds = append(ds, d{off, f[6]})
			}
		}
		for _, x := range ds {
			if offs[x.base] > x.off {
				found = true
			}
		}
	}
	if !found {
		t.Skip("git kept no pack with forward ref-deltas; the path is untested here")
	}
}

func TestWriteDuplicates(t *testing.T) {
	src := gcRepo(t)
	want := objects(t, src, "HEAD~290")
	var buf bytes.Buffer
	st, err := packobjects.Write(context.Background(), src, append(want, want...), packobjects.Options{OfsDelta: true}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if st.Objects != len(want) {
		t.Fatalf("%d objects written, want %d", st.Objects, len(want))
	}
	receive(t, newClient(t, src, ""), buf.Bytes(), false)
}

func TestWriteNotFound(t *testing.T) {
	src := gcRepo(t)
	want := append(objects(t, src, "HEAD~290"), plumbing.NewHash(strings.Repeat("ab", 20)))
	var buf bytes.Buffer
	_, err := packobjects.Write(context.Background(), src, want, packobjects.Options{}, &buf)
	if !errors.Is(err, plumbing.ErrObjectNotFound) {
		t.Fatalf("err = %v, want ErrObjectNotFound", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("%d bytes written before failing", buf.Len())
	}
}

// Damage one byte inside a pack entry's compressed data: the write must
// fail on the CRC instead of passing the entry on.
func TestWriteCorruptEntry(t *testing.T) {
	// gc: a small entry, checked from the read window; big: one larger
	// than the window, checked in a first pass before it is sent.
	for name, repo := range map[string]func(testing.TB) string{"gc": gcRepo, "big": bigRepo} {
		t.Run(name, func(t *testing.T) { testCorruptEntry(t, repo(t), name == "big") })
	}
}

// A damaged index is refused before anything is written.
func TestWriteCorruptIndex(t *testing.T) {
	src := filepath.Join(t.TempDir(), "copy.git")
	gittest.Run(t, "", "clone", "-q", "--bare", "--no-local", gcRepo(t), src)
	ms, _ := filepath.Glob(filepath.Join(src, "objects", "pack", "*.idx"))
	data, err := os.ReadFile(ms[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	os.Chmod(ms[0], 0o644)
	if err := os.WriteFile(ms[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err = packobjects.Write(context.Background(), src, objects(t, gcRepo(t), "HEAD~290"), packobjects.Options{}, &buf)
	if !errors.Is(err, packobjects.ErrCorrupt) || buf.Len() != 0 {
		t.Fatalf("err = %v with %d bytes written, want ErrCorrupt and none", err, buf.Len())
	}
}

func testCorruptEntry(t *testing.T, orig string, large bool) {
	src := filepath.Join(t.TempDir(), "copy.git")
	gittest.Run(t, "", "clone", "-q", "--bare", "--no-local", orig, src)
	ms, _ := filepath.Glob(filepath.Join(src, "objects", "pack", "*.idx"))
	if len(ms) != 1 {
		t.Fatalf("%d packs", len(ms))
	}
	idx, err := os.ReadFile(ms[0])
	if err != nil {
		t.Fatal(err)
	}
	var offs []int
	for _, l := range strings.Split(gittest.Cmd{Dir: src, Stdin: string(idx)}.Run(t, "show-index"), "\n") {
		off, _ := strconv.Atoi(strings.Fields(l)[0])
		offs = append(offs, off)
	}
	packPath := strings.TrimSuffix(ms[0], ".idx") + ".pack"
	data, err := os.ReadFile(packPath)
	if err != nil {
		t.Fatal(err)
	}
	offs = append(offs, len(data)-20)
	sort.Ints(offs)
	// The largest entry: its middle is surely compressed data.
	best := 0
	for i := 1; i+1 < len(offs); i++ {
		if offs[i+1]-offs[i] > offs[best+1]-offs[best] {
			best = i
		}
	}
	if size := offs[best+1] - offs[best]; large != (size > 256<<10) {
		t.Fatalf("largest entry is %d bytes; this case wants one %s the read window", size, map[bool]string{true: "above", false: "within"}[large])
	}
	data[(offs[best]+offs[best+1])/2] ^= 0x40
	os.Chmod(packPath, 0o644)
	if err := os.WriteFile(packPath, data, 0o644); err != nil {
		t.Fatal(err)
	}

	var buf bytes.Buffer
	_, err = packobjects.Write(context.Background(), src, objects(t, src, "--all"), packobjects.Options{OfsDelta: true}, &buf)
	if !errors.Is(err, packobjects.ErrCorrupt) || !strings.Contains(err.Error(), "CRC") {
		t.Fatalf("err = %v, want a CRC mismatch", err)
	}
	// The output has the on-disk layout; nothing of the damaged entry
	// may have reached it.
	if buf.Len() > offs[best] {
		t.Fatalf("%d bytes written, the damaged entry starts at %d", buf.Len(), offs[best])
	}
	t.Log(err)
}

// Memory does not grow with the size of what is sent: writing a pack of
// several MB allocates about the index, the read window, the output
// buffer and a few dozen bytes per object.
func TestWriteMemory(t *testing.T) {
	src := bigRepo(t)
	want := objects(t, src, "--all")
	ms, _ := filepath.Glob(filepath.Join(src, "objects", "pack", "*.idx"))
	fi, err := os.Stat(ms[0])
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	st, err := packobjects.Write(context.Background(), src, want, packobjects.Options{OfsDelta: true}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	// The read window (256 KiB), the output buffer (64 KiB), the index,
	// some slack, and per object at most 100 bytes.
	limit := uint64(fi.Size()) + 400<<10 + 100*uint64(len(want))
	t.Logf("pack %d bytes, %d objects: allocated %d bytes (limit %d)", st.Bytes, st.Objects, alloc, limit)
	if uint64(st.Bytes) < 2*limit {
		t.Fatalf("the fixture's pack (%d bytes) is too small to tell", st.Bytes)
	}
	if alloc > limit {
		t.Fatalf("allocated %d bytes for a %d-byte pack", alloc, st.Bytes)
	}
}

// cancelAfter cancels its context once n bytes have come through.
type cancelAfter struct {
	n      int
	got    int
	cancel context.CancelFunc
}

func (c *cancelAfter) Write(b []byte) (int, error) {
	c.got += len(b)
	if c.got >= c.n {
		c.cancel()
	}
	return len(b), nil
}

func TestWriteCancel(t *testing.T) {
	src := gcRepo(t)
	want := objects(t, src, "--all")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var buf bytes.Buffer
	if _, err := packobjects.Write(ctx, src, want, packobjects.Options{}, &buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: err = %v", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("cancelled before: %d bytes written", buf.Len())
	}

	// Cancelled after the first buffer's worth: the writer must stop
	// within a few objects, well before the end.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	w := &cancelAfter{n: 1, cancel: cancel}
	_, err := packobjects.Write(ctx, src, want, packobjects.Options{}, w)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled during: err = %v", err)
	}
	if total := packSize(t, src); int64(w.got) > total/2 {
		t.Fatalf("wrote %d of about %d bytes after cancelling", w.got, total)
	}
}

// The progress lines look like git's.
func TestWriteProgress(t *testing.T) {
	src := gcRepo(t)
	var prog bytes.Buffer
	want := objects(t, src, "HEAD~280")
	if _, err := packobjects.Write(context.Background(), src, want, packobjects.Options{Progress: &prog}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(prog.String(), "Writing objects: 100% ("+strconv.Itoa(len(want))+"/"+strconv.Itoa(len(want))+"), done.\n") {
		t.Fatalf("progress %q", prog.String())
	}
}

// BenchmarkWrite compares a full-clone pack of the medium repository
// written by reuse against go-git's encoder (which deltifies again).
func BenchmarkWrite(b *testing.B) {
	src := mediumRepo(b)
	want := objects(b, src, "--all")
	b.Run("packwrite", func(b *testing.B) {
		b.ReportAllocs()
		var size int64
		for b.Loop() {
			st, err := packobjects.Write(context.Background(), src, want, packobjects.Options{OfsDelta: true}, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			size = st.Bytes
		}
		b.ReportMetric(float64(size), "pack-bytes")
		b.ReportMetric(float64(len(want)), "objects")
	})
	b.Run("gogit-encoder", func(b *testing.B) {
		b.ReportAllocs()
		var cw countWriter
		for b.Loop() {
			cw = 0
			st := filesystem.NewStorage(osfs.New(src), cache.NewObjectLRU(16*cache.MiByte))
			if _, err := packfile.NewEncoder(&cw, st, false).Encode(want, 10); err != nil {
				b.Fatal(err)
			}
			st.Close()
		}
		b.ReportMetric(float64(cw), "pack-bytes")
		b.ReportMetric(float64(len(want)), "objects")
	})
	// For scale: git itself, given the same list (B/op is only this
	// process's side of the pipe).
	b.Run("git-pack-objects", func(b *testing.B) {
		b.ReportAllocs()
		var list bytes.Buffer
		for _, h := range want {
			list.WriteString(h.String() + "\n")
		}
		var size int
		for b.Loop() {
			out, _, err := gittest.Cmd{Dir: src, Stdin: list.String()}.Exec(b, "pack-objects", "-q", "--delta-base-offset", "--stdout")
			if err != nil {
				b.Fatal(err)
			}
			size = len(out)
		}
		b.ReportMetric(float64(size), "pack-bytes")
		b.ReportMetric(float64(len(want)), "objects")
	})
}

type countWriter int64

func (c *countWriter) Write(b []byte) (int, error) {
	*c += countWriter(len(b))
	return len(b), nil
}
