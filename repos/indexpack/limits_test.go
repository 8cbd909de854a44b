package indexpack_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/gittest"
	"gatehouse/repos/indexpack"
	"gatehouse/repos/indexpack/packtest"
)

// allocated returns the bytes allocated while f ran (all goroutines).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// zeros is an endless source of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// bigTree is a well-formed tree of n entries.
func bigTree(n int) []byte {
	var b []byte
	id := plumbing.ComputeHash(plumbing.BlobObject, []byte("x\n"))
	for i := 0; i < n; i++ {
		b = append(b, fmt.Sprintf("100644 f%06d\x00", i)...)
		b = append(b, id[:]...)
	}
	return b
}

// bomb is a whole object of type t holding base, then a delta on it
// copying the whole base over and over into an object of n bytes.
func bomb(t plumbing.ObjectType, base []byte, n int64) *packtest.Pack {
	var ops []packtest.Op
	for left := n; left > 0; left -= int64(len(base)) {
		ops = append(ops, packtest.Copy(0, min(left, int64(len(base)))))
	}
	return packtest.New(packtest.Whole(t, base), packtest.OFS(0, packtest.Delta(int64(len(base)), n, ops...)))
}

// TestReceiveObjectTooLarge refuses objects over their limit from the
// sizes their headers declare, before memory is allocated for them or
// the work done: the allocation bound would fail otherwise.
func TestReceiveObjectTooLarge(t *testing.T) {
	hugeCommit := packtest.New(packtest.Entry{Type: plumbing.CommitObject, Size: 300 << 20, Reader: io.LimitReader(zeros{}, 300<<20)})
	hugeBlob := packtest.New(packtest.Entry{Type: plumbing.BlobObject, Size: 200 << 20, Reader: io.LimitReader(zeros{}, 200<<20)})
	hugeDelta := packtest.New(packtest.Whole(plumbing.BlobObject, nil),
		packtest.Entry{Type: plumbing.OFSDeltaObject, Size: 150 << 20, Reader: io.LimitReader(zeros{}, 150<<20)})
	tests := []struct {
		name string
		pack *packtest.Pack
		opts indexpack.Options
		want string
	}{
		// 64 KiB of zeros and one delta copying it 8192 times: about
		// 170 bytes that once made the server build 512 MiB.
		{"delta bomb", bomb(plumbing.BlobObject, make([]byte, 64<<10), 512<<20), indexpack.Options{},
			"builds an object of 512 MiB, over the 100 MiB limit"},
		// Within the blob limit, over the tree limit: known only once
		// the base's type is, in resolve.
		{"tree delta bomb", bomb(plumbing.TreeObject, bigTree(2000), 64<<20), indexpack.Options{},
			"is 64 MiB, over the 32 MiB limit"},
		{"huge commit", hugeCommit, indexpack.Options{}, "commit at offset 12 is 300 MiB, over the 4 MiB limit"},
		{"huge blob", hugeBlob, indexpack.Options{}, "blob at offset 12 is 200 MiB, over the 100 MiB limit"},
		{"huge delta data", hugeDelta, indexpack.Options{}, "is 150 MiB, over the 100 MiB limit"},
		{"blob over a lower limit", packtest.New(packtest.Whole(plumbing.BlobObject, make([]byte, 2000))),
			indexpack.Options{MaxObjectSize: 1000}, "blob at offset 12 is 2000 bytes, over the 1000 bytes limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := bareRepo(t, "", "")
			before := objectsListing(t, repo)
			r := tt.pack.Reader()
			defer r.Close()
			var err error
			alloc := allocated(func() {
				var in *indexpack.Incoming
				in, err = indexpack.Receive(context.Background(), repo, r, tt.opts)
				if err == nil {
					in.Abort()
				}
			})
			t.Logf("%v; allocated %d KiB", err, alloc>>10)
			if !errors.Is(err, indexpack.ErrObjectTooLarge) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrObjectTooLarge saying %q", err, tt.want)
			}
			if alloc > 64<<20 {
				t.Errorf("allocated %d MiB refusing it", alloc>>20)
			}
			assertUnchanged(t, repo, before)
		})
	}
}

// TestDeltaBombIsSmall: the bomb above is as small as the one reported.
func TestDeltaBombIsSmall(t *testing.T) {
	if n := len(bomb(plumbing.BlobObject, make([]byte, 64<<10), 512<<20).Bytes()); n > 200 {
		t.Fatalf("bomb is %d bytes", n)
	}
}

// chain is a whole blob of size bytes and depth deltas, each on the one
// before, each adding 8 bytes; it returns the pack and the last id.
func chain(depth, size int) ([]byte, plumbing.Hash) {
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	entries := []packtest.Entry{packtest.Whole(plumbing.BlobObject, data)}
	for i := 1; i <= depth; i++ {
		tail := fmt.Appendf(nil, "%08d", i)
		entries = append(entries, packtest.OFS(i-1, packtest.Delta(int64(len(data)), int64(len(data)+8),
			packtest.Copy(0, int64(len(data))), packtest.Insert(tail))))
		data = append(data, tail...)
	}
	return packtest.New(entries...).Bytes(), plumbing.ComputeHash(plumbing.BlobObject, data)
}

// TestReceiveDeepChain resolves a long chain of objects each larger than
// the memory allowed for delta bases in one application per link: the
// allocations stay linear in the chain's content. (Rebuilding each base
// from the chain's start, as before, is quadratic: the watch below
// cancels it once it is clearly so.)
func TestReceiveDeepChain(t *testing.T) {
	const depth, size = 2000, 32 << 10
	data, last := chain(depth, size)
	repo := bareRepo(t, "", "")
	// Each link inflates its delta and builds its result once.
	linear := uint64(depth) * (size + 8*depth) * 3
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	type result struct {
		in  *indexpack.Incoming
		err error
	}
	done := make(chan result, 1)
	go func() {
		in, err := indexpack.Receive(ctx, repo, bytes.NewReader(data), indexpack.Options{DeltaBaseCacheLimit: size / 2})
		done <- result{in, err}
	}()
	var res result
	var over uint64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case res = <-done:
			break wait
		case <-tick.C:
			var now runtime.MemStats
			runtime.ReadMemStats(&now)
			if a := now.TotalAlloc - before.TotalAlloc; a > linear && over == 0 {
				over = a
				cancel()
			}
		}
	}
	if over != 0 {
		t.Fatalf("allocated %d MiB for a chain of %d MiB (bound %d MiB): %v", over>>20, uint64(depth)*(size+4*depth)>>20, linear>>20, res.err)
	}
	if res.err != nil {
		t.Fatal(res.err)
	}
	defer res.in.Abort()
	if typ, err := res.in.Type(last.String()); err != nil || typ != plumbing.BlobObject {
		t.Fatalf("last link: %v %v", typ, err)
	}
	if res.in.Len() != depth+1 {
		t.Fatalf("Len = %d", res.in.Len())
	}
}

// TestReceiveChainDepth accepts chains as deep as git writes and refuses
// deeper ones as corrupt.
func TestReceiveChainDepth(t *testing.T) {
	for _, tt := range []struct {
		depth int
		ok    bool
	}{{4095, true}, {4096, false}} {
		t.Run(fmt.Sprint(tt.depth), func(t *testing.T) {
			data, last := chain(tt.depth, 16)
			repo := bareRepo(t, "", "")
			before := objectsListing(t, repo)
			in, err := receive(t, repo, data, indexpack.Options{})
			if !tt.ok {
				if !errors.Is(err, indexpack.ErrCorrupt) || !strings.Contains(err.Error(), "deeper than 4095") {
					t.Fatalf("err = %v, want ErrCorrupt for the depth", err)
				}
				assertUnchanged(t, repo, before)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := in.Install(); err != nil {
				t.Fatal(err)
			}
			if got := gittest.Run(t, repo, "cat-file", "-s", last.String()); got != fmt.Sprint(16+8*tt.depth) {
				t.Fatalf("last link is %s bytes", got)
			}
			gittest.Run(t, repo, "verify-pack", installedPacks(t, repo)[0])
		})
	}
}

// TestReceiveCancelStopsResolving: a client gone while a long delta is
// applied stops the work, with ctx's error, and leaves no goroutine.
func TestReceiveCancelStopsResolving(t *testing.T) {
	// A 1 GiB blob from 64 KiB: seconds of hashing, and no memory, as
	// a blob nobody builds on is not kept.
	data := bomb(plumbing.BlobObject, make([]byte, 64<<10), 1<<30).Bytes()
	repo := bareRepo(t, "", "")
	before := objectsListing(t, repo)
	goroutines := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := time.AfterFunc(50*time.Millisecond, cancel)
	defer stop.Stop()
	var err error
	alloc := allocated(func() {
		_, err = indexpack.Receive(ctx, repo, bytes.NewReader(data), indexpack.Options{MaxObjectSize: 1 << 30})
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if alloc > 64<<20 {
		t.Errorf("allocated %d MiB", alloc>>20)
	}
	// Receive waits for its workers; allow the timer's goroutine a moment.
	for i := 0; runtime.NumGoroutine() > goroutines && i < 100; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines left, %d before:\n%s", n, goroutines, buf[:runtime.Stack(buf, true)])
	}
	assertUnchanged(t, repo, before)
}

// TestReceiveDeltaTreeOverBudget resolves a bushy tree of deltas, OFS and
// REF, with no memory for bases at all: every base dropped and needed
// again is rebuilt from the nearest one kept, and every object comes out
// right.
func TestReceiveDeltaTreeOverBudget(t *testing.T) {
	const n = 300
	datas := [][]byte{bytes.Repeat([]byte("base line\n"), 200)}
	entries := []packtest.Entry{packtest.Whole(plumbing.BlobObject, datas[0])}
	x := uint32(7)
	for i := 1; i < n; i++ {
		x = x*1103515245 + 12345
		b := int(x>>8) % i
		if i > 3 && x&0x30000 != 0 {
			b = i - 1 - int(x>>20)%3 // mostly near the end: deep chains
		}
		tail := fmt.Appendf(nil, "object %d on %d\n", i, b)
		base := datas[b]
		delta := packtest.Delta(int64(len(base)), int64(len(base)+len(tail)), packtest.Copy(0, int64(len(base))), packtest.Insert(tail))
		if x&0x100000 != 0 {
			entries = append(entries, packtest.REF(plumbing.ComputeHash(plumbing.BlobObject, base), delta))
		} else {
			entries = append(entries, packtest.OFS(b, delta))
		}
		datas = append(datas, append(bytes.Clone(base), tail...))
	}
	repo := bareRepo(t, "", "")
	in, err := receive(t, repo, packtest.New(entries...).Bytes(), indexpack.Options{DeltaBaseCacheLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range datas {
		id := plumbing.ComputeHash(plumbing.BlobObject, d).String()
		if typ, err := in.Type(id); err != nil || typ != plumbing.BlobObject {
			t.Fatalf("object %d (%s): %v %v", i, id, typ, err)
		}
	}
	if err := in.Install(); err != nil {
		t.Fatal(err)
	}
	gittest.Run(t, repo, "verify-pack", installedPacks(t, repo)[0])
}
