package uploadpack_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/gittest"
	"gatehouse/repos/uploadpack"
)

// fuzzRepo makes a small bare repository with two commits on main and a
// tag, and returns its directory and main's commit.
func fuzzRepo(tb testing.TB) (dir, head string) {
	tb.Helper()
	work := tb.TempDir()
	gittest.Run(tb, work, "init", "-q", "-b", "main")
	for i := 0; i < 2; i++ {
		gittest.Run(tb, work, "commit", "-q", "--allow-empty", "-m", fmt.Sprint("c", i))
	}
	gittest.Run(tb, work, "tag", "-a", "-m", "t", "v1")
	dir = filepath.Join(tb.TempDir(), "r.git")
	gittest.Run(tb, work, "clone", "-q", "--bare", work, dir)
	return dir, gittest.Run(tb, work, "rev-parse", "HEAD")
}

func fuzzPkt(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

// FuzzServe drives upload-pack, v0 and v2, with arbitrary client input
// against a small repository: it must return (an error is fine), never
// panic or hang.
func FuzzServe(f *testing.F) {
	dir, head := fuzzRepo(f)
	f.Add(false, []byte("0000"))
	f.Add(false, []byte(fuzzPkt("want "+head+" multi_ack_detailed side-band-64k ofs-delta\n")+"0000"+fuzzPkt("done\n")))
	f.Add(false, []byte(fuzzPkt("want "+head+"\n")+fuzzPkt("deepen 1\n")+"0000"+fuzzPkt("have "+head+"\n")+fuzzPkt("done\n")))
	f.Add(false, []byte(fuzzPkt("want "+strings.Repeat("0", 40)+"\n")+"0000"))
	f.Add(true, []byte(fuzzPkt("command=ls-refs\n")+"0001"+fuzzPkt("peel\n")+fuzzPkt("symrefs\n")+fuzzPkt("ref-prefix refs/heads/\n")+"0000"))
	f.Add(true, []byte(fuzzPkt("command=fetch\n")+"0001"+fuzzPkt("want "+head+"\n")+fuzzPkt("filter blob:none\n")+fuzzPkt("done\n")+"0000"))
	f.Add(true, []byte(fuzzPkt("command=fetch\n")+"0001"+fuzzPkt("want "+head+"\n")+fuzzPkt("have "+head+"\n")+"0000"))
	f.Add(true, []byte("0000"))
	f.Fuzz(func(t *testing.T, v2 bool, in []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		opts := uploadpack.Options{}
		if v2 {
			opts.Protocol = "version=2"
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			uploadpack.Serve(ctx, dir, bytes.NewReader(in), io.Discard, opts)
		}()
		// The input is all in memory, so Serve has nothing to wait for:
		// taking until the context's deadline is a hang.
		select {
		case <-done:
		case <-ctx.Done():
			<-done
			t.Fatalf("Serve hung until its deadline on %q", in)
		}
	})
}
