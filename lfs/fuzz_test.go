package lfs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse"
	"gatehouse/keys"
	"gatehouse/lfs"
	"gatehouse/repos/pktline"
)

// session is one git-lfs-transfer request stream: pkt-lines, with a
// delimiter before each body and a flush after each request.
func session(reqs ...[]string) []byte {
	var b bytes.Buffer
	w := pktline.NewWriter(&b)
	for _, r := range reqs {
		for _, l := range r {
			if l == "\x01" {
				w.Delim()
				continue
			}
			w.WriteString(l)
		}
		w.Flush()
	}
	return b.Bytes()
}

// FuzzServeLFS feeds arbitrary request streams to an upload session with
// locking. Whatever comes in, the server must not panic, and every object
// it stored must be the bytes its name says; nothing may stay behind in
// the incoming folder.
func FuzzServeLFS(f *testing.F) {
	data := []byte("hello lfs\n")
	sum := sha256.Sum256(data)
	id := hex.EncodeToString(sum[:])
	f.Add(session([]string{"version 1\n"}, []string{"batch\n", "operation=upload\n", "\x01", id + " 10\n"}))
	f.Add(append(session([]string{"version 1\n"}, []string{"put-object " + id + "\n", "size=10\n", "\x01"}), []byte("000ehello lfs\n0000")...))
	f.Add(session([]string{"put-object " + strings.Repeat("0", 64) + "\n", "size=3\n", "\x01", "abc"}))
	f.Add(session([]string{"lock\n", "path=a/b.bin\n", "refname=refs/heads/main\n"}, []string{"list-lock\n", "limit=5\n"}, []string{"unlock 1\n", "force=true\n"}))
	f.Add(session([]string{"verify-object " + id + "\n", "size=10\n"}, []string{"get-object " + id + "\n"}, []string{"quit\n"}))
	f.Add(session([]string{"frobnicate\n", "x=y\n"}))

	dir := f.TempDir()
	db, err := keys.Open(filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	repoRoot := filepath.Join(dir, "repos")
	srv := &lfs.Server{
		Store: &lfs.Store{Dir: func(owner, name string) (string, error) {
			return filepath.Join(repoRoot, owner, name+".git"), nil
		}},
		Locks:         keys.NewLFSLockStore(db),
		MaxObjectSize: 1 << 16,
	}
	alice := &gatehouse.User{ID: 1, Name: "alice"}
	ctx := gatehouse.NewContextWithActor(context.Background(), gatehouse.Actor{User: alice})
	repo := &gatehouse.Repo{ID: 1, Owner: "alice", Name: "r"}

	f.Fuzz(func(t *testing.T, in []byte) {
		for _, op := range []gatehouse.LFSOperation{gatehouse.LFSUpload, gatehouse.LFSDownload} {
			srv.ServeLFS(ctx, gatehouse.LFSSession{
				Repo:      repo,
				Operation: op,
				Stdin:     bytes.NewReader(in),
				Stdout:    io.Discard,
				Authorize: func(context.Context, gatehouse.Operation) error { return gatehouse.ErrForbidden },
			})
		}
		filepath.Walk(filepath.Join(repoRoot, "alice", "r.git", "lfs"), func(p string, fi os.FileInfo, err error) error {
			if err != nil || !fi.Mode().IsRegular() {
				return nil
			}
			if strings.Contains(p, string(filepath.Separator)+"incoming"+string(filepath.Separator)) {
				t.Fatalf("left in incoming: %s", p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			got := sha256.Sum256(b)
			if hex.EncodeToString(got[:]) != filepath.Base(p) {
				t.Fatalf("stored %s holds other bytes", p)
			}
			return nil
		})
	})
}
