package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"gatehouse/repos/odb"
)

// tailLen is how much of the end of an immutable file is compared before
// it is reused: a pack's or an index's trailing checksum.
const tailLen = 20

// copy puts the file src into the snapshot at rel and records it.
// immutable files (named by their content) are reused from the previous
// snapshot or hard-linked from the data folder when they can be.
func (t *taker) copy(src, rel string, immutable bool) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	dst := filepath.Join(t.snap, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if immutable {
		if p, ok := t.prev[rel]; ok && p.Size == fi.Size() {
			old := filepath.Join(t.prevDir, filepath.FromSlash(rel))
			if sameTail(src, old) && os.Link(old, dst) == nil {
				t.add(p)
				t.stats.Reused += p.Size
				t.countObject(rel, true)
				return nil
			}
		}
		t.countObject(rel, false)
		if os.Link(src, dst) == nil {
			f, err := t.hashed(rel, dst)
			if err != nil {
				return err
			}
			t.stats.Linked += f.Size
			return nil
		}
	}
	f, err := copyFile(src, dst, fi.Mode().Perm())
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	f.Path = rel
	t.add(f)
	t.stats.Copied += f.Size
	return nil
}

// countObject counts an object file of the repository being copied.
func (t *taker) countObject(rel string, reused bool) {
	if strings.HasPrefix(rel, "repos/") && isObjectFile(rel) {
		t.objectFiles++
		if reused {
			t.reusedObjects++
		}
	}
}

// copyIf is copy for a file that may not be there.
func (t *taker) copyIf(src, rel string, immutable bool) error {
	err := t.copy(src, rel, immutable)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// record adds a file already written into the snapshot.
func (t *taker) record(rel string) error {
	f, err := t.hashed(rel, filepath.Join(t.snap, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	t.stats.Copied += f.Size
	return nil
}

// hashed hashes the snapshot's file at path and records it as rel.
func (t *taker) hashed(rel, path string) (File, error) {
	f, err := hashFile(path)
	if err != nil {
		return File{}, fmt.Errorf("backup: %w", err)
	}
	f.Path = rel
	t.add(f)
	return f, nil
}

func (t *taker) add(f File) {
	t.m.Files = append(t.m.Files, f)
	t.stats.Files++
	t.stats.Bytes += f.Size
}

// copyFile copies src to the new file dst with mode perm, hashing what
// it writes, and syncs it.
func copyFile(src, dst string, perm fs.FileMode) (File, error) {
	in, err := os.Open(src)
	if err != nil {
		return File{}, err
	}
	defer in.Close()
	return writeFrom(in, -1, dst, perm)
}

// writeFrom writes r (n bytes, or to its end when n < 0) to the new file
// dst, hashing it, and syncs it. A dst left half-written is removed.
func writeFrom(r io.Reader, n int64, dst string, perm fs.FileMode) (File, error) {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return File{}, err
	}
	h := sha256.New()
	var written int64
	if n < 0 {
		written, err = io.Copy(io.MultiWriter(out, h), r)
	} else {
		written, err = io.CopyN(io.MultiWriter(out, h), r, n)
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return File{}, err
	}
	return File{Size: written, Mode: perm, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// hashFile reads the file at path and returns its size, mode and SHA-256.
func hashFile(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return File{}, err
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, err
	}
	return File{Size: n, Mode: fi.Mode().Perm(), SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// sameTail says whether the files a and b end with the same tailLen
// bytes (and are both there).
func sameTail(a, b string) bool {
	ta, err := tail(a)
	if err != nil {
		return false
	}
	tb, err := tail(b)
	return err == nil && bytes.Equal(ta, tb)
}

func tail(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	n := min(fi.Size(), tailLen)
	b := make([]byte, n)
	_, err = f.ReadAt(b, fi.Size()-n)
	return b, err
}

// listPacks names the packs of the repository at gitDir ("pack-<sum>"),
// by odb's one listing rule.
func listPacks(gitDir string) ([]string, error) {
	infos, err := odb.ListPacks(gitDir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(infos))
	for i, p := range infos {
		names[i] = p.Name
	}
	return names, nil
}

// listLoose lists the loose objects of gitDir as "XX/YYYY...".
func listLoose(gitDir string) ([]string, error) {
	objDir := filepath.Join(gitDir, "objects")
	dirs, err := os.ReadDir(objDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	var out []string
	for _, d := range dirs {
		if !d.IsDir() || !isHex(d.Name(), 2) {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(objDir, d.Name()))
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		for _, e := range ents {
			if e.Type().IsRegular() && isHex(e.Name(), 38) {
				out = append(out, d.Name()+"/"+e.Name())
			}
		}
	}
	return out, nil
}

// readManifest reads dir/manifest.json.
func readManifest(dir string) (*Manifest, error) {
	f, err := os.Open(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeManifest(f)
}

// maxManifest bounds a manifest read: about two million files.
const maxManifest = 512 << 20

func decodeManifest(r io.Reader) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(io.LimitReader(r, maxManifest))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %w: %w", ErrDamaged, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("manifest format %d, this version reads %d: %w", m.Format, Format, ErrDamaged)
	}
	seen := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		if !validPath(f.Path) || seen[f.Path] || f.Size < 0 || !isHex(f.SHA256, 64) {
			return nil, fmt.Errorf("manifest: file %q: %w", f.Path, ErrDamaged)
		}
		// An LFS object is named by its content's SHA-256: checking the
		// file against the manifest then checks it against its name.
		if oid, ok := lfsOID(f.Path); ok && f.SHA256 != oid {
			return nil, fmt.Errorf("manifest: LFS object %q has SHA-256 %s: %w", f.Path, f.SHA256, ErrDamaged)
		}
		seen[f.Path] = true
	}
	for _, r := range m.Repos {
		if !validPath(r.Path) || !strings.HasPrefix(r.Path, "repos/") {
			return nil, fmt.Errorf("manifest: repository %q at %q: %w", r.Name, r.Path, ErrDamaged)
		}
	}
	return &m, nil
}

// validPath accepts a clean, relative, slash-separated path that stays
// inside the folder it is relative to, and is not the manifest.
func validPath(p string) bool {
	return p != "" && p == path.Clean(p) && filepath.IsLocal(filepath.FromSlash(p)) &&
		!strings.Contains(p, "\\") && p != ManifestName
}

// writeFileSync writes data to the new file path and syncs it.
func writeFileSync(path string, data []byte, perm fs.FileMode) error {
	_, err := writeFrom(bytes.NewReader(data), -1, path, perm)
	return err
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
