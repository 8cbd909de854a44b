// Package lfs serves Git LFS over SSH: git-lfs's pure SSH transfer
// protocol (git-lfs-transfer, docs/proposals/ssh_adapter.md in the
// git-lfs repository) and the content-addressed object store behind it.
//
// Objects live inside the repository they were uploaded to, as the
// git-lfs client keeps them in a bare repository:
//
//	REPO.git/lfs/objects/OID[0:2]/OID[2:4]/OID
//
// so that removing or renaming a repository takes its objects along, and
// an object is served only from the repository it was uploaded to. An
// upload is written to REPO.git/lfs/incoming/, hashed and counted while
// it streams, and renamed into place only when its SHA-256 and size are
// the ones the client claimed.
package lfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"gatehouse"
	"gatehouse/repos"
)

// Store keeps LFS objects beside repositories.
type Store struct {
	// Dir returns the directory of repository owner/name, checked to lie
	// inside the repositories root (repos.Service.Dir).
	Dir func(owner, name string) (string, error)
}

// ErrMismatch says that uploaded data did not hash or count to what the
// client claimed; nothing was stored. It wraps gatehouse.ErrInvalid.
var ErrMismatch = fmt.Errorf("object data does not match its oid and size: %w", gatehouse.ErrInvalid)

// ValidOID reports whether oid is a SHA-256 in lower-case hex, the only
// object name the store accepts (it becomes a file name).
func ValidOID(oid string) bool {
	if len(oid) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(oid); i++ {
		if c := oid[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// root is the lfs folder of owner/name.
func (s *Store) root(owner, name string) (string, error) {
	dir, err := s.Dir(owner, name)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "lfs"), nil
}

// path is where object oid of owner/name lives.
func (s *Store) path(owner, name, oid string) (string, error) {
	if !ValidOID(oid) {
		return "", fmt.Errorf("oid %q: %w", oid, gatehouse.ErrInvalid)
	}
	root, err := s.root(owner, name)
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "objects", oid[0:2], oid[2:4], oid), nil
}

// Size returns the size of object oid of owner/name; ErrNotFound if it
// is not stored there.
func (s *Store) Size(owner, name, oid string) (int64, error) {
	p, err := s.path(owner, name, oid)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("object %s: %w", oid, gatehouse.ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Open opens object oid of owner/name for reading, with its size;
// ErrNotFound if it is not stored there.
func (s *Store) Open(owner, name, oid string) (*os.File, int64, error) {
	p, err := s.path(owner, name, oid)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("object %s: %w", oid, gatehouse.ErrNotFound)
	}
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// Put stores object oid of size bytes for owner/name, read from r. It
// reads at most size+1 bytes; the data is stored only if r ends after
// exactly size bytes whose SHA-256 is oid (ErrMismatch otherwise). The
// file is written under a temporary name, synced and renamed, so a
// reader sees the whole object or none; an error leaves nothing behind.
// Storing an object that is there already replaces it with identical
// content.
func (s *Store) Put(ctx context.Context, owner, name, oid string, size int64, r io.Reader) error {
	dst, err := s.path(owner, name, oid)
	if err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("size %d: %w", size, gatehouse.ErrInvalid)
	}
	root, _ := s.root(owner, name)
	incoming := filepath.Join(root, "incoming")
	if err := os.MkdirAll(incoming, 0o755); err != nil {
		return err
	}
	sweepIncoming(incoming, time.Now().Add(-staleIncoming))
	f, err := os.CreateTemp(incoming, oid[:16]+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if f != nil {
			f.Close()
		}
		if tmp != "" {
			os.Remove(tmp)
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), &ctxReader{ctx: ctx, r: io.LimitReader(r, size+1)})
	if err != nil {
		return fmt.Errorf("receive object %s: %w", oid, err)
	}
	if n != size || hex.EncodeToString(h.Sum(nil)) != oid {
		return fmt.Errorf("object %s: %d bytes received for %d claimed: %w", oid, n, size, ErrMismatch)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	f = nil
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	tmp = ""
	return nil
}

// staleIncoming is how old a temporary upload file must be before an
// upload removes it: only a server killed midway leaves one (an upload
// that fails removes its own), and none takes a day.
const staleIncoming = 24 * time.Hour

// sweepIncoming removes the temporary upload files last written before
// cutoff. Errors are ignored: the next upload tries again.
func sweepIncoming(dir string, cutoff time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() && info.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// Usage sums the sizes of the objects stored for owner/name; 0 for a
// repository that has none.
func (s *Store) Usage(ctx context.Context, owner, name string) (int64, error) {
	root, err := s.root(owner, name)
	if err != nil {
		return 0, err
	}
	return repos.DirSize(ctx, filepath.Join(root, "objects"))
}

// ctxReader stops reading once ctx is done: an upload from a client that
// went away ends at the next read.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
