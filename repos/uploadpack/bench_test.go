package uploadpack

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/packobjects"
)

// benchRepo returns the repository the benchmarks serve: the one named by
// GATEHOUSE_BENCH_REPO (e.g. bench/out/repos/*/medium.git), else one
// generated here (400 commits over 7 files, repacked with a bitmap).
func benchRepo(b *testing.B) string {
	b.Helper()
	if dir := os.Getenv("GATEHOUSE_BENCH_REPO"); dir != "" {
		return dir
	}
	if _, err := exec.LookPath("git"); err != nil {
		b.Fatal("these tests drive the real git: install it (./test.sh says how)")
	}
	dir := filepath.Join(b.TempDir(), "bench.git")
	script := `set -e; git init -q --bare "$1"; for i in $(seq 1 400); do printf 'blob\nmark :%d\ndata <<EOF\n' $i; for j in $(seq 1 40); do echo "line $j of version $i"; done; printf 'EOF\ncommit refs/heads/main\ncommitter A <a@x> %d +0000\ndata 2\nc\nM 644 :%d d%d/f%d\n' $((1700000000+i)) $i $((i%5)) $((i%7)); done | git -C "$1" fast-import --quiet; git -C "$1" repack -adbq`
	cmd := exec.Command("bash", "-c", script, "gen", dir)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("generate: %v\n%s", err, out)
	}
	return dir
}

// fullCloneSession opens dir and returns a session with its advertisement
// and a request wanting every advertised tip, as a mirror clone does.
func fullCloneSession(b *testing.B, dir string) (*session, *advertisement, *request) {
	b.Helper()
	s := &session{ctx: context.Background(), dir: dir}
	fs, err := openStore(dir)
	if err != nil {
		b.Fatal(err)
	}
	s.fs = fs
	s.g = newGraph(&ctxStorer{objectReader: s.fs, ctx: s.ctx})
	s.g.dir = dir
	adv, err := s.advertisement()
	if err != nil {
		b.Fatal(err)
	}
	req := &request{ofsDelta: true, includeTag: true}
	seen := map[plumbing.Hash]bool{}
	for _, r := range adv.refs {
		if !seen[r.id] {
			seen[r.id] = true
			req.wants = append(req.wants, r.id)
		}
	}
	return s, adv, req
}

// BenchmarkEnumerate lists the objects of a full clone with the bitmap.
func BenchmarkEnumerate(b *testing.B) { benchEnumerate(b, true) }

// BenchmarkEnumerateWalk lists them by walking commits and trees.
func BenchmarkEnumerateWalk(b *testing.B) { benchEnumerate(b, false) }

func benchEnumerate(b *testing.B, useBitmap bool) {
	dir := benchRepo(b)
	b.ReportAllocs()
	for b.Loop() {
		s, adv, req := fullCloneSession(b, dir)
		if !useBitmap {
			s.g.dir = ""
		}
		objs, err := s.g.objectsToSend(s.ctx, req, adv, nil, s.fs.EncodedObjectSize, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(objs)), "objects")
		s.fs.Close()
	}
}

// BenchmarkFullClone enumerates and writes the pack of a full clone the
// way sendPack does (the store reopened and a collection between the
// two), and reports the peak of the heap in use, sampled every
// millisecond: the memory a clone costs the server beyond its baseline.
func BenchmarkFullClone(b *testing.B) {
	dir := benchRepo(b)
	b.ReportAllocs()
	var peak uint64
	for b.Loop() {
		runtime.GC() // the previous round's garbage is not this one's
		stop := samplePeakHeap(&peak)
		s, adv, req := fullCloneSession(b, dir)
		objs, err := s.g.objectsToSend(s.ctx, req, adv, nil, s.fs.EncodedObjectSize, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.reopen(); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		st, err := packobjects.Write(s.ctx, dir, objs, packobjects.Options{OfsDelta: true}, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		stop()
		b.SetBytes(st.Bytes)
		s.fs.Close()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

// samplePeakHeap records in *peak the largest HeapInuse seen until the
// returned function is called.
func samplePeakHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var ms runtime.MemStats
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			*peak = max(*peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}
