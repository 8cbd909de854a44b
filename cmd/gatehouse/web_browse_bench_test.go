package main_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkBrowsePages times the code browsing pages over HTTP, from the
// request to the last byte, on the real server: the repository page
// (refs, log, README), the root tree and src/, a 500-line file and a
// commit. On
// GATEHOUSE_BENCH_REPO (bench/run.sh's medium.git, copied in as
// alice/code; GATEHOUSE_BENCH_COMMIT names the commit, else its tip),
// else on the page test's small repository.
func BenchmarkBrowsePages(b *testing.B) {
	s, base := MustRunWeb(b)
	file, commit := "src/main.go", "main"
	if src := os.Getenv("GATEHOUSE_BENCH_REPO"); src != "" {
		s.User("alice")
		s.MustCLI("repo", "create", "alice/code")
		var dst string
		filepath.WalkDir(s.Data, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() && strings.HasSuffix(p, filepath.Join("alice", "code.git")) {
				dst = p
				return fs.SkipAll
			}
			return nil
		})
		if dst == "" {
			b.Fatal("alice/code.git not found under the data folder")
		}
		if out, err := exec.Command("bash", "-c", `rm -rf "$2" && cp -a "$1" "$2"`, "cp", src, dst).CombinedOutput(); err != nil {
			b.Fatalf("copy: %v %s", err, out)
		}
		file = "src/bytes/buffer.go"
		if c := os.Getenv("GATEHOUSE_BENCH_COMMIT"); c != "" {
			commit = c
		}
	} else {
		browseFixture(b, s)
	}
	p := newPanelClient(b, base)
	p.login(s.LoginLink("alice", base))
	client := p.c
	pages := []struct{ name, path string }{
		{"repo", "/repos/alice/code"},
		{"tree", "/repos/alice/code/tree?ref=main"},
		{"tree-src", "/repos/alice/code/tree?ref=main&path=src"},
		{"file", "/repos/alice/code/blob?ref=main&path=" + url.QueryEscape(file)},
		{"commit", "/repos/alice/code/commit?ref=" + commit},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				res, err := client.Get(base + p.path)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Fatalf("%s: %s", p.path, res.Status)
				}
				b.ReportMetric(float64(n), "bytes/page")
			}
		})
	}
}
