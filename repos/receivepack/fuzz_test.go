package receivepack_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/gittest"
	"gatehouse/repos/receivepack"
)

// fuzzRepo makes a small bare repository with two commits on main and
// returns its directory, main's commit and the commit before it.
func fuzzRepo(tb testing.TB) (dir, head, parent string) {
	tb.Helper()
	work := tb.TempDir()
	gittest.Run(tb, work, "init", "-q", "-b", "main")
	for i := 0; i < 2; i++ {
		gittest.Run(tb, work, "commit", "-q", "--allow-empty", "-m", fmt.Sprint("c", i))
	}
	dir = filepath.Join(tb.TempDir(), "r.git")
	gittest.Run(tb, work, "clone", "-q", "--bare", work, dir)
	return dir, gittest.Run(tb, work, "rev-parse", "HEAD"), gittest.Run(tb, work, "rev-parse", "HEAD~1")
}

// fuzzCopy copies the repository, so each input starts from the same refs.
func fuzzCopy(tb testing.TB, src string) string {
	dst := filepath.Join(tb.TempDir(), "r.git")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return dst
}

func fuzzPkt(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

// emptyPack is a valid pack with no objects: what git sends for a push
// that needs none.
const emptyPack = "PACK\x00\x00\x00\x02\x00\x00\x00\x00\x02\x9d\x08\x82\x3b\xd8\xa8\xea\xb5\x10\xad\x6a\xc7\x5c\x82\x3c\xfd\x3e\xd3\x1e"

// FuzzServe drives receive-pack with arbitrary client input against a
// fresh copy of a small repository, with a CheckRef that refuses one ref:
// it must return, never panic or hang, and leave refs only ever pointing
// at objects the repository has.
func FuzzServe(f *testing.F) {
	src, head, parent := fuzzRepo(f)
	zero := strings.Repeat("0", 40)
	caps := "\x00report-status delete-refs side-band-64k quiet atomic ofs-delta\n"
	f.Add([]byte("0000"))
	f.Add([]byte(fuzzPkt(zero+" "+head+" refs/heads/new"+caps) + "0000" + emptyPack))
	f.Add([]byte(fuzzPkt(head+" "+parent+" refs/heads/main"+caps) + "0000" + emptyPack))
	f.Add([]byte(fuzzPkt(head+" "+zero+" refs/heads/main"+caps) + "0000"))
	f.Add([]byte(fuzzPkt(zero+" "+head+" refs/heads/denied"+caps) + fuzzPkt(zero+" "+head+" refs/heads/ok\n") + "0000" + emptyPack))
	f.Add([]byte(fuzzPkt(zero+" "+head+" refs/heads/../x"+caps) + "0000" + emptyPack))
	f.Add([]byte(fuzzPkt("shallow "+head+"\n") + fuzzPkt(zero+" "+head+" refs/heads/s"+caps) + "0000" + emptyPack))
	f.Add([]byte(fuzzPkt(zero+" "+head+" refs/heads/new"+caps) + "0000" + "PACK\x00\x00\x00\x02\x00\x00\x00\x05garbage"))
	f.Fuzz(func(t *testing.T, in []byte) {
		dir := fuzzCopy(t, src)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		opts := receivepack.Options{MaxPackSize: 1 << 20, CheckRef: func(u gatehouse.RefUpdate) error {
			if u.Name == "refs/heads/denied" {
				return fmt.Errorf("denied by test")
			}
			return nil
		}}
		done := make(chan struct{})
		go func() {
			defer close(done)
			receivepack.Serve(ctx, dir, bytes.NewReader(in), io.Discard, opts)
		}()
		// The input is all in memory, so Serve has nothing to wait for:
		// taking until the context's deadline is a hang.
		select {
		case <-done:
		case <-ctx.Done():
			<-done
			t.Fatalf("Serve hung until its deadline on %q", in)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "refs", "heads", "denied")); err == nil {
			t.Fatalf("refused ref written: %s", b)
		}
		// Whatever happened, the repository is consistent. git fsck is
		// the slow part, so it runs only when a ref changed.
		if fuzzRefs(t, dir) == fuzzRefs(t, src) {
			return
		}
		if _, out, err := (gittest.Cmd{Dir: dir}).Exec(t, "fsck", "--connectivity-only", "--no-dangling"); err != nil {
			t.Fatalf("fsck after %q: %v\n%s", in, err, out)
		}
	})
}

// fuzzRefs is a digest of a repository's refs: loose ref files and
// packed-refs, names and contents.
func fuzzRefs(tb testing.TB, dir string) string {
	var b strings.Builder
	filepath.WalkDir(filepath.Join(dir, "refs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			c, _ := os.ReadFile(p)
			fmt.Fprintf(&b, "%s %s\n", p[len(dir):], c)
		}
		return nil
	})
	c, _ := os.ReadFile(filepath.Join(dir, "packed-refs"))
	b.Write(c)
	return b.String()
}
