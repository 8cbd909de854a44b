package uploadpack_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/repos/uploadpack"
)

// manyRefsRepo makes a bare repository with 20,000 refs over one commit
// and one annotated tag, as a mirror of a busy project has: 10,000
// refs/pull/N/head, 5,000 branches and 5,000 annotated tags; the
// objects in a pack, the refs packed (git pack-refs --all) or all loose.
func manyRefsRepo(b *testing.B, packed bool) string {
	b.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		b.Fatal("these tests drive the real git: install it (./test.sh says how)")
	}
	dir := filepath.Join(b.TempDir(), "refs.git")
	run := func(stdin string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+b.TempDir(),
			"GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@x", "GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@x")
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("git %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "init", "-q", "--bare", dir).CombinedOutput(); err != nil {
		b.Fatalf("init: %v\n%s", err, out)
	}
	tree := run("", "mktree")
	c := run("", "commit-tree", "-m", "c", tree)
	tag := run(fmt.Sprintf("object %s\ntype commit\ntag t\ntagger a <a@x> 1700000000 +0000\n\nt\n", c), "mktag")
	var in strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&in, "create refs/pull/%d/head %s\n", i, c)
	}
	for i := range 5000 {
		fmt.Fprintf(&in, "create refs/heads/b%d %s\ncreate refs/tags/v%d %s\n", i, c, i, tag)
	}
	fmt.Fprintf(&in, "create refs/heads/main %s\n", c)
	run(in.String(), "update-ref", "--stdin")
	run("", "repack", "-adq")
	if packed {
		run("", "pack-refs", "--all")
	} else if err := os.Remove(filepath.Join(dir, "packed-refs")); err != nil && !os.IsNotExist(err) {
		b.Fatal(err)
	}
	return dir
}

// benchServe answers the same request again and again, discarding the
// answer.
func benchServe(b *testing.B, packed bool, protocol, request string) {
	dir := manyRefsRepo(b, packed)
	var n int64
	b.ReportAllocs()
	for b.Loop() {
		w := &countWriter{}
		err := uploadpack.Serve(context.Background(), dir, strings.NewReader(request), w, uploadpack.Options{Protocol: protocol})
		if err != nil {
			b.Fatal(err)
		}
		n = w.n
	}
	b.ReportMetric(float64(n), "bytes/op")
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)

// BenchmarkAdvertiseManyRefs is the v0 advertisement of 20,000 refs,
// answered by a client that wants nothing (ls-remote).
func BenchmarkAdvertiseManyRefs(b *testing.B) {
	for _, packed := range []bool{false, true} {
		b.Run(map[bool]string{false: "loose", true: "packed"}[packed], func(b *testing.B) {
			benchServe(b, packed, "", "0000")
		})
	}
}

// BenchmarkLsRefsManyRefs is v2 ls-refs of 20,000 refs: all of them with
// peeled tags (ls-remote), and one branch by ref-prefix (a fetch of it).
func BenchmarkLsRefsManyRefs(b *testing.B) {
	all := pkt("command=ls-refs") + "0001" + pkt("peel") + pkt("symrefs") + "0000" + "0000"
	one := pkt("command=ls-refs") + "0001" + pkt("peel") + pkt("symrefs") +
		pkt("ref-prefix b4999") + pkt("ref-prefix refs/b4999") + pkt("ref-prefix refs/tags/b4999") +
		pkt("ref-prefix refs/heads/b4999") + pkt("ref-prefix refs/remotes/b4999") + pkt("ref-prefix refs/remotes/b4999/HEAD") +
		"0000" + "0000"
	for _, packed := range []bool{false, true} {
		name := map[bool]string{false: "loose", true: "packed"}[packed]
		b.Run("all/"+name, func(b *testing.B) { benchServe(b, packed, "version=2", all) })
		b.Run("prefix/"+name, func(b *testing.B) { benchServe(b, packed, "version=2", one) })
	}
}
