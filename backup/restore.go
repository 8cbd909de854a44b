package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gatehouse"
	"gatehouse/repos/refs"
)

// A backup to verify or restore (SRC) is a backup folder (its latest
// snapshot is read), one snapshot folder, or an archive file.

// resolve finds the snapshot folder SRC names, or says it is an archive.
func resolve(src string) (dir string, archive bool, err error) {
	fi, err := os.Stat(src)
	if err != nil {
		return "", false, err
	}
	if !fi.IsDir() {
		return "", true, nil
	}
	if exists(filepath.Join(src, ManifestName)) {
		return src, false, nil
	}
	target, err := os.Readlink(filepath.Join(src, LatestName))
	if err != nil {
		return "", false, fmt.Errorf("%s holds neither a manifest nor a latest snapshot: %w", src, gatehouse.ErrInvalid)
	}
	return filepath.Join(src, filepath.Base(target)), false, nil
}

// Verify checks a backup without restoring it: every file the manifest
// lists is there with its size and SHA-256, and every repository's refs
// are the manifest's and reach only objects that are there. An archive
// is unpacked into a temporary folder to be checked.
//
// Errors: ErrDamaged, listing what is wrong; gatehouse.ErrInvalid when
// src is not a backup; I/O errors; ctx.Err().
func Verify(ctx context.Context, src string, progress io.Writer) (*Manifest, error) {
	dir, archive, err := resolve(src)
	if err != nil {
		return nil, err
	}
	if archive {
		tmp, err := os.MkdirTemp("", "gatehouse-verify-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		report(progress, "verify: unpacking %s", src)
		m, err := extractArchive(ctx, src, tmp)
		if err != nil {
			return nil, err
		}
		return m, checkRepos(ctx, tmp, m, progress)
	}
	m, err := readManifest(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	report(progress, "verify: %d files in %s", len(m.Files), dir)
	var bad []string
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		got, err := hashFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", f.Path, err))
		case got.Size != f.Size:
			bad = append(bad, fmt.Sprintf("%s: %d bytes, the manifest says %d", f.Path, got.Size, f.Size))
		case got.SHA256 != f.SHA256:
			bad = append(bad, fmt.Sprintf("%s: SHA-256 %s, the manifest says %s", f.Path, got.SHA256, f.SHA256))
		}
	}
	if len(bad) > 0 {
		return m, damaged(bad)
	}
	return m, checkRepos(ctx, dir, m, progress)
}

// damaged is ErrDamaged listing the first problems.
func damaged(bad []string) error {
	more := ""
	if len(bad) > 5 {
		more = fmt.Sprintf(" (and %d more)", len(bad)-5)
		bad = bad[:5]
	}
	return fmt.Errorf("%s%s: %w", strings.Join(bad, "; "), more, ErrDamaged)
}

// checkRepos checks each repository of m under dir: its refs are the
// manifest's, and they reach as many objects as when it was taken, all
// there.
func checkRepos(ctx context.Context, dir string, m *Manifest, progress io.Writer) error {
	var bad []string
	for _, r := range m.Repos {
		gitDir := filepath.Join(dir, filepath.FromSlash(r.Path))
		for _, d := range repoDirs {
			if err := os.MkdirAll(filepath.Join(gitDir, d), 0o755); err != nil {
				return err
			}
		}
		rs, err := refs.List(gitDir)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: refs: %v", r.Name, err))
			continue
		}
		same := len(rs) == len(r.Refs)
		for _, ref := range rs {
			same = same && r.Refs[ref.Name] == ref.ID
		}
		if !same {
			bad = append(bad, fmt.Sprintf("%s: refs are not the manifest's", r.Name))
			continue
		}
		n, err := checkConnected(ctx, gitDir)
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", r.Name, err))
		case n != r.Objects:
			bad = append(bad, fmt.Sprintf("%s: refs reach %d objects, the manifest says %d", r.Name, n, r.Objects))
		default:
			report(progress, "%s: %d refs, %d objects connected", r.Name, len(rs), n)
		}
	}
	if len(bad) > 0 {
		return damaged(bad)
	}
	return nil
}

// Restore builds a working data folder dir (missing or empty) from the
// backup src, checking every file against the manifest as it is written
// and every repository's connectivity. Files are copied, never linked:
// the data folder owes nothing to the backup.
//
// Errors: gatehouse.ErrConflict when dir is not empty; ErrDamaged;
// gatehouse.ErrInvalid when src is not a backup; I/O errors; ctx.Err().
// After an error dir is as it was (what was written is removed).
func Restore(ctx context.Context, src, dir string, progress io.Writer) (_ *Manifest, _ *Stats, err error) {
	start := time.Now()
	snap, archive, err := resolve(src)
	if err != nil {
		return nil, nil, err
	}
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, nil, err
		}
		defer func() {
			if err != nil {
				os.RemoveAll(dir)
			}
		}()
	case err != nil:
		return nil, nil, err
	case len(ents) > 0:
		return nil, nil, fmt.Errorf("%s is not empty: restore into a new folder: %w", dir, gatehouse.ErrConflict)
	default:
		defer func() {
			if err != nil {
				removeAll(dir, func(string) bool { return true })
			}
		}()
	}

	var m *Manifest
	if archive {
		report(progress, "restore: unpacking %s", src)
		if m, err = extractArchive(ctx, src, dir); err != nil {
			return nil, nil, err
		}
	} else {
		if m, err = readManifest(snap); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", snap, err)
		}
		report(progress, "restore: %d files from %s", len(m.Files), snap)
		for _, f := range m.Files {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			if err := restoreFrom(snap, f, dir); err != nil {
				return nil, nil, err
			}
		}
	}
	if err := checkRepos(ctx, dir, m, progress); err != nil {
		return nil, nil, err
	}
	st := &Stats{Snapshot: dir, Repos: len(m.Repos), Files: len(m.Files), Duration: time.Since(start)}
	for _, f := range m.Files {
		st.Bytes += f.Size
	}
	st.Copied = st.Bytes
	return m, st, nil
}

func restoreFrom(snap string, f File, dir string) error {
	in, err := os.Open(filepath.Join(snap, filepath.FromSlash(f.Path)))
	if err != nil {
		return fmt.Errorf("%s: %w: %w", f.Path, ErrDamaged, err)
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil || fi.Size() != f.Size {
		return fmt.Errorf("%s is not the size the manifest says: %w", f.Path, ErrDamaged)
	}
	return restoreFile(in, f, dir)
}

// restoreFile writes f, read from r, into dir and checks its SHA-256.
func restoreFile(r io.Reader, f File, dir string) error {
	dst := filepath.Join(dir, filepath.FromSlash(f.Path))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	got, err := writeFrom(r, f.Size, dst, f.Mode)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	if got.SHA256 != f.SHA256 {
		os.Remove(dst)
		return fmt.Errorf("%s: SHA-256 %s, the manifest says %s: %w", f.Path, got.SHA256, f.SHA256, ErrDamaged)
	}
	return nil
}

func report(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
