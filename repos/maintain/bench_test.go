package maintain_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"gatehouse/repos/maintain"
)

// BenchmarkRepack repacks a copy of GATEHOUSE_BENCH_REPO (an absolute
// path, e.g. bench/out/repos/*/medium.git), else a generated repository
// of many packs. The original is never written to.
func BenchmarkRepack(b *testing.B) {
	src := os.Getenv("GATEHOUSE_BENCH_REPO")
	if src == "" {
		src = manyPacks(b, 20)
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "repo.git")
		if out, err := exec.Command("cp", "-r", src, dir).CombinedOutput(); err != nil {
			b.Fatalf("copy: %v\n%s", err, out)
		}
		b.StartTimer()
		st, err := maintain.Repack(context.Background(), dir)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(st.Objects), "objects")
	}
}
