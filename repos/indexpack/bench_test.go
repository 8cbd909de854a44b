package indexpack_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/gittest"
	"gatehouse/repos/indexpack"
)

// BenchmarkReceive indexes a whole pack pushed into an empty repository
// and checks it is connected:
// the pack of GATEHOUSE_BENCH_REPO (e.g. bench/out/repos/*/medium.git)
// when set, else a small generated one.
func BenchmarkReceive(b *testing.B) {
	var packFile string
	if dir := os.Getenv("GATEHOUSE_BENCH_REPO"); dir != "" {
		m, _ := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.pack"))
		if len(m) != 1 {
			b.Skip("GATEHOUSE_BENCH_REPO must have exactly one pack")
		}
		packFile = m[0]
	} else {
		if _, err := exec.LookPath("git"); err != nil {
			b.Fatal("these tests drive the real git: install it (./test.sh says how)")
		}
		src := b.TempDir()
		gittest.Run(b, src, "init", "-q", "--bare")
		script := `set -e; for i in $(seq 1 200); do printf 'blob\nmark :%d\ndata <<EOF\n' $i; for j in $(seq 1 40); do echo "line $j of version $i"; done; printf 'EOF\ncommit refs/heads/main\ncommitter A <a@x> %d +0000\ndata 2\nc\nM 644 :%d f%d\n' $((1700000000+i)) $i $((i%7)); done`
		gen := exec.Command("bash", "-c", script+" | git -C "+src+" fast-import --quiet")
		if out, err := gen.CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		gittest.Run(b, src, "repack", "-adq")
		m, _ := filepath.Glob(filepath.Join(src, "objects", "pack", "*.pack"))
		packFile = m[0]
	}
	src := filepath.Dir(filepath.Dir(filepath.Dir(packFile)))
	tips := strings.Fields(gittest.Run(b, src, "for-each-ref", "--format=%(objectname)"))
	data, err := os.ReadFile(packFile)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		repo := b.TempDir()
		gittest.Run(b, repo, "init", "-q", "--bare")
		f, err := os.Open(packFile)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		in, err := indexpack.Receive(context.Background(), repo, f, indexpack.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := in.CheckConnected(context.Background(), tips); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		in.Abort()
		f.Close()
		b.StartTimer()
	}
}
