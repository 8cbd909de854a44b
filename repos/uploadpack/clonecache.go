package uploadpack

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/lockfile"
)

// The full-clone cache keeps the pack sent for a clone (no haves, no
// shallow, no filter) in the repository's gatehouse-cache folder, named
// by a hash of everything the pack depends on: the wants, every
// advertised ref (include-tag sends the tags among them) and the
// capabilities that change the bytes (ofs-delta, include-tag). Objects
// never change under an id, so while the refs are the same the pack is
// still right; once they change the key does, and the old entry is
// never matched again and is pruned. Side-band framing is applied while
// streaming, so clients with different framings share an entry.
//
// Entries are written to a temporary file and renamed into place, so a
// reader sees a whole pack or none, and concurrent clones each write
// their own. A cached file is the pack followed by the CRC-32C of the
// pack, checked while the pack is streamed (hardware CRC-32C costs a
// fraction of the SHA-1 the pack carries, which the client checks
// anyway); a damaged one is cut short before its trailer (the client
// cannot accept it) and removed.
const (
	cacheDir = "gatehouse-cache"
	// cacheKeep is how many packs are kept: the newest by use. Tips
	// change with every push, so two cover the current tips and the
	// ones a slow clone may still be streaming.
	cacheKeep = 2
	// cacheMaxBytes bounds one cached pack; a larger clone is not kept.
	cacheMaxBytes = 4 << 30
	// cacheTmpPattern names the temporary files packs are written to;
	// each is locked by its writer while it writes (see SweepCache).
	cacheTmpPattern = "tmp-*.pack"
)

var errCacheCorrupt = errors.New("uploadpack: cached pack is damaged")

// cloneKey returns the cache key of req, or false when req is not a full
// clone.
func cloneKey(req *request, adv *advertisement, common []plumbing.Hash) (string, bool) {
	if len(common) > 0 || len(req.edges) > 0 || len(req.shallow) > 0 || req.deepens() || req.filter.kind != filterNone || len(req.wants) == 0 {
		return "", false
	}
	h := sha256.New()
	fmt.Fprintf(h, "gatehouse clone v2 ofs=%t tags=%t\n", req.ofsDelta, req.includeTag)
	wants := slices.Clone(req.wants)
	slices.SortFunc(wants, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
	for _, w := range wants {
		fmt.Fprintf(h, "want %s\n", w)
	}
	for _, r := range adv.refs {
		fmt.Fprintf(h, "ref %s %s %s\n", r.id, r.peeled, r.name)
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

func cachePath(gitDir, key string) string {
	return filepath.Join(gitDir, cacheDir, "clone-"+key+".pack")
}

// sendCached streams the cached pack for key to w, if there is one, and
// returns its object count. found is false when there is none; err is
// set when streaming failed, after which the pack on w is cut short.
func sendCached(gitDir, key string, w io.Writer) (objects int, found bool, err error) {
	path := cachePath(gitDir, key)
	f, err := os.Open(path)
	if err != nil {
		return 0, false, nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() < 12+20+4 {
		os.Remove(path)
		return 0, false, nil
	}
	now := time.Now()
	os.Chtimes(path, now, now) // recently used: pruned last
	r := bufio.NewReaderSize(f, 64<<10)
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || string(hdr[:8]) != "PACK\x00\x00\x00\x02" {
		os.Remove(path)
		return 0, false, nil
	}
	objects = int(binary.BigEndian.Uint32(hdr[8:]))
	sum := crc32.New(castagnoli)
	sum.Write(hdr[:])
	if _, err := w.Write(hdr[:]); err != nil {
		return 0, true, err
	}
	if _, err := io.CopyN(io.MultiWriter(w, sum), r, fi.Size()-12-20-4); err != nil {
		return 0, true, err
	}
	var tail [20 + 4]byte
	if _, err := io.ReadFull(r, tail[:]); err != nil {
		os.Remove(path)
		return 0, true, fmt.Errorf("%w: %s", errCacheCorrupt, path)
	}
	sum.Write(tail[:20])
	if binary.BigEndian.Uint32(tail[20:]) != sum.Sum32() {
		os.Remove(path)
		return 0, true, fmt.Errorf("%w: %s", errCacheCorrupt, path)
	}
	if _, err := w.Write(tail[:20]); err != nil {
		return 0, true, err
	}
	return objects, true, nil
}

// castagnoli is the CRC-32C table, computed in hardware where there is
// support.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// cacheWriter passes a pack on to w and keeps a copy in a temporary file
// of the cache; failing to keep the copy only drops it.
type cacheWriter struct {
	w    io.Writer
	tmp  *os.File
	lock *lockfile.Lock // on tmp, held until it is installed or dropped
	buf  *bufio.Writer
	n    int64  // bytes copied
	crc  uint32 // CRC-32C of the copy
	fail bool
}

// newCacheWriter returns nil when the cache folder cannot be written.
func newCacheWriter(gitDir string, w io.Writer) *cacheWriter {
	dir := filepath.Join(gitDir, cacheDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil
	}
	tmp, err := os.CreateTemp(dir, cacheTmpPattern)
	if err != nil {
		return nil
	}
	// A sweep may take the file for a dead writer's between its creation
	// and this lock; then it is gone, and this clone is not cached.
	lock, err := lockfile.TryLock(tmp.Name())
	if err != nil {
		tmp.Close()
		return nil
	}
	return &cacheWriter{w: w, tmp: tmp, lock: lock, buf: bufio.NewWriterSize(tmp, 256<<10)}
}

func (c *cacheWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if c.n += int64(n); c.n > cacheMaxBytes {
		c.fail = true
	}
	if !c.fail && n > 0 {
		if _, werr := c.buf.Write(p[:n]); werr != nil {
			c.fail = true
		}
		c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	}
	return n, err
}

// abort drops the copy.
func (c *cacheWriter) abort() {
	c.tmp.Close()
	os.Remove(c.tmp.Name())
	c.lock.Release()
}

// install puts the copy in place under key, then prunes the cache.
func (c *cacheWriter) install(gitDir, key string) {
	var crc [4]byte
	binary.BigEndian.PutUint32(crc[:], c.crc)
	if c.fail {
		c.abort()
		return
	}
	if _, err := c.buf.Write(crc[:]); err != nil || c.buf.Flush() != nil || c.tmp.Close() != nil {
		c.abort()
		return
	}
	if err := os.Rename(c.tmp.Name(), cachePath(gitDir, key)); err != nil {
		c.abort()
		return
	}
	c.lock.Release()
	pruneCache(gitDir)
}

// pruneCache keeps the cacheKeep most recently used packs and removes
// the temporary files of writers that are gone (SweepCache). A clone
// still streaming a removed pack keeps reading it: the file lives until
// closed.
func pruneCache(gitDir string) {
	dir := filepath.Join(gitDir, cacheDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type packFile struct {
		name  string
		mtime time.Time
	}
	var packs []packFile
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(e.Name(), "tmp-"):
			removeIfDead(filepath.Join(dir, e.Name()))
		case strings.HasPrefix(e.Name(), "clone-"):
			packs = append(packs, packFile{e.Name(), fi.ModTime()})
		}
	}
	slices.SortFunc(packs, func(a, b packFile) int { return b.mtime.Compare(a.mtime) })
	for _, p := range packs[min(len(packs), cacheKeep):] {
		os.Remove(filepath.Join(dir, p.name))
	}
}

// CacheTemp is a temporary file of the clone cache whose writer is gone
// (a server killed while a clone streamed).
type CacheTemp struct {
	Path  string
	Bytes int64
}

// SweepCache lists the clone cache's temporary files in the repository at
// gitDir whose writer is gone, and removes them when remove is set. A
// writer locks its file for as long as it writes (lockfile), so one that
// can be locked is dead, whatever its age; one still written, by this
// process or another, is left alone.
//
// Errors: I/O errors; what was found before one is returned with it.
func SweepCache(gitDir string, remove bool) ([]CacheTemp, error) {
	if !lockfile.Supported {
		return nil, nil
	}
	paths, err := filepath.Glob(filepath.Join(gitDir, cacheDir, cacheTmpPattern))
	if err != nil {
		return nil, err
	}
	var dead []CacheTemp
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if !remove && fi.Size() == 0 {
			continue // holds nothing, and may be a writer's not locked yet
		}
		l, err := lockfile.TryLock(p)
		if errors.Is(err, lockfile.ErrBusy) || errors.Is(err, lockfile.ErrGone) || errors.Is(err, fs.ErrNotExist) {
			continue // being written, or removed meanwhile
		}
		if err != nil {
			return dead, fmt.Errorf("uploadpack: clone cache: %w", err)
		}
		if remove {
			err = os.Remove(p)
		}
		l.Release()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return dead, fmt.Errorf("uploadpack: clone cache: %w", err)
		}
		dead = append(dead, CacheTemp{Path: p, Bytes: fi.Size()})
	}
	return dead, nil
}

// removeIfDead removes the temporary file at path if its writer is gone.
func removeIfDead(path string) {
	if l, err := lockfile.TryLock(path); err == nil {
		os.Remove(path)
		l.Release()
	}
}
