package browse_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"gatehouse"
	"gatehouse/repos/browse"
)

// benchBrowser returns a Browser on the repository the benchmarks read:
// GATEHOUSE_BENCH_REPO (bench/run.sh's medium.git, whose
// src/bytes/buffer.go has 500 lines), else the tests' fixture, and a
// 500-line file in it.
func benchBrowser(b *testing.B) (*browse.Browser, *gatehouse.Repo, string) {
	dir := os.Getenv("GATEHOUSE_BENCH_REPO")
	if dir == "" {
		br, r, _ := fixture(b)
		return br, r, "src/main.go"
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		b.Fatal(err)
	}
	return &browse.Browser{Dir: func(string, string) (string, error) { return dir, nil }}, &gatehouse.Repo{Owner: "o", Name: "r"}, "src/bytes/buffer.go"
}

// BenchmarkPages reads what each browsing page reads: the repository
// page (refs, 20 commits of log, README), the root tree, a 500-line
// file, and the tip commit with its diff.
func BenchmarkPages(b *testing.B) {
	br, r, file := benchBrowser(b)
	ctx := context.Background()
	b.Run("log", func(b *testing.B) {
		for b.Loop() {
			if _, err := br.Overview(ctx, r, 20); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tree", func(b *testing.B) {
		for b.Loop() {
			if _, err := br.Tree(ctx, r, "main", ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("file", func(b *testing.B) {
		for b.Loop() {
			f, err := br.File(ctx, r, "main", file)
			if err != nil || f.Content == nil {
				b.Fatal(err, f)
			}
		}
	})
	b.Run("commit", func(b *testing.B) {
		for b.Loop() {
			if _, err := br.Commit(ctx, r, "main"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
