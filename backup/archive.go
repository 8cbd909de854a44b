package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

// An archive is a snapshot as one file: a tar stream, zstd-compressed,
// whose first entry is manifest.json and whose other entries are the
// manifest's files, in its order.

// writeArchive writes the snapshot in dir, described by m, to the archive
// at path (replaced whole once written) and returns its size.
func writeArchive(ctx context.Context, path, dir string, m *Manifest) (int64, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("archive: %w", err)
	}
	err = writeTar(ctx, f, dir, m)
	if err == nil {
		err = f.Sync()
	}
	var size int64
	if fi, serr := f.Stat(); serr == nil {
		size = fi.Size()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("archive: %w", err)
	}
	return size, nil
}

func writeTar(ctx context.Context, w io.Writer, dir string, m *Manifest) error {
	zw, err := zstd.NewWriter(w)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	manifest, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return err
	}
	if err := addEntry(tw, ManifestName, 0o600, int64(len(manifest)), bytes.NewReader(manifest)); err != nil {
		return err
	}
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		in, err := os.Open(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			return err
		}
		err = addEntry(tw, f.Path, f.Mode, f.Size, in)
		in.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

func addEntry(tw *tar.Writer, name string, mode os.FileMode, size int64, r io.Reader) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(mode.Perm()), Size: size}); err != nil {
		return err
	}
	_, err := io.CopyN(tw, r, size)
	return err
}

// maxWindow bounds the zstd window an archive may ask the reader to hold.
const maxWindow = 128 << 20

// extractArchive writes the files of the archive at path into dir,
// checking each against the manifest (size and SHA-256) as it is written,
// and returns the manifest. Entries the manifest does not list, or lists
// twice, and files it lists that never come, are refused.
//
// Errors: ErrDamaged; I/O errors; ctx.Err().
func extractArchive(ctx context.Context, path, dir string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := zstd.NewReader(f, zstd.WithDecoderMaxWindow(maxWindow), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w: %w", path, ErrDamaged, err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	h, err := tr.Next()
	if err != nil || h.Name != ManifestName || h.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("archive %s does not start with its manifest: %w", path, ErrDamaged)
	}
	m, err := decodeManifest(tr)
	if err != nil {
		return nil, err
	}
	want := make(map[string]File, len(m.Files))
	for _, f := range m.Files {
		want[f.Path] = f
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("archive %s: %w: %w", path, ErrDamaged, err)
		}
		f, ok := want[h.Name]
		if !ok || h.Typeflag != tar.TypeReg || h.Size != f.Size {
			return nil, fmt.Errorf("archive %s: entry %q is not in the manifest as it is: %w", path, h.Name, ErrDamaged)
		}
		delete(want, h.Name)
		if err := restoreFile(tr, f, dir); err != nil {
			return nil, err
		}
	}
	for p := range want {
		return nil, fmt.Errorf("archive %s lacks %s: %w", path, p, ErrDamaged)
	}
	return m, nil
}
