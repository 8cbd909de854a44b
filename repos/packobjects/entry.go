package packobjects

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/odb"
)

// header parses the header of the entry at [off, end).
func (wr *writer) header(p *srcPack, off, end uint64) (odb.EntryHeader, error) {
	if end <= off {
		return odb.EntryHeader{}, fmt.Errorf("%w: %s: entry at %d: empty", ErrCorrupt, filepath.Base(p.path), off)
	}
	b, err := wr.win.get(p, off, int(min(end-off, odb.MaxEntryHeader)))
	if err != nil {
		return odb.EntryHeader{}, fmt.Errorf("read %s: %w", p.path, err)
	}
	h, err := odb.ParseEntryHeader(b)
	if err != nil {
		return odb.EntryHeader{}, fmt.Errorf("%w: %s: entry at %d: %v", ErrCorrupt, filepath.Base(p.path), off, err)
	}
	return h, nil
}

// statLoose checks that a loose copy of h exists.
func (wr *writer) statLoose(h plumbing.Hash) error {
	if _, err := os.Stat(wr.loosePath(h)); err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("object %s: %w", h, plumbing.ErrObjectNotFound)
		}
		return fmt.Errorf("object %s: %w", h, err)
	}
	return nil
}

func (wr *writer) loosePath(h plumbing.Hash) string {
	s := h.String()
	return filepath.Join(wr.gitDir, "objects", s[:2], s[2:])
}

// writeLoose inflates a loose object and writes it whole. Its content is
// streamed (never held) and hashed on the way, so a damaged file stops
// the write rather than reaching the client under the wrong id (the
// damage is caught after the entry is buffered, but before the trailer,
// so the client never gets a valid pack).
func (wr *writer) writeLoose(id plumbing.Hash) error {
	f, err := os.Open(wr.loosePath(id))
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := zlib.NewReader(bufio.NewReaderSize(f, 32<<10))
	if err != nil {
		return fmt.Errorf("%w: loose object: %v", ErrCorrupt, err)
	}
	defer zr.Close()
	br := bufio.NewReaderSize(zr, 32<<10)
	head, err := br.ReadSlice(0)
	if err != nil {
		return fmt.Errorf("%w: loose object header: %v", ErrCorrupt, err)
	}
	kind, sizeText, ok := bytes.Cut(head[:len(head)-1], []byte{' '})
	size, serr := strconv.ParseUint(string(sizeText), 10, 63)
	typ := map[string]plumbing.ObjectType{"commit": plumbing.CommitObject, "tree": plumbing.TreeObject, "blob": plumbing.BlobObject, "tag": plumbing.TagObject}[string(kind)]
	if !ok || serr != nil || typ == 0 {
		return fmt.Errorf("%w: loose object header %q", ErrCorrupt, head)
	}
	sum := sha1.New()
	sum.Write(head)
	if err := wr.writeWhole(typ, size, io.TeeReader(br, sum)); err != nil {
		return err
	}
	if n, _ := br.Read(make([]byte, 1)); n != 0 {
		return fmt.Errorf("%w: loose object longer than its header says", ErrCorrupt)
	}
	if !bytes.Equal(sum.Sum(nil), id[:]) {
		return fmt.Errorf("%w: loose object content does not match its id", ErrCorrupt)
	}
	return nil
}

// writeResolved writes whole a delta whose base is neither sent nor held
// by the client. go-git rebuilds the object, in memory for objects under
// odb.Open's large-object threshold; this is the only place the writer
// holds an object, and only one at a time.
func (wr *writer) writeResolved(id plumbing.Hash) error {
	if wr.store == nil {
		wr.store = odb.Open(wr.gitDir)
	}
	obj, err := wr.store.EncodedObject(plumbing.AnyObject, id)
	if err != nil {
		return err
	}
	r, err := obj.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	return wr.writeWhole(obj.Type(), uint64(obj.Size()), r)
}

// writeWhole writes an entry of the given type and size, compressing the
// size bytes read from r.
func (wr *writer) writeWhole(typ plumbing.ObjectType, size uint64, r io.Reader) error {
	if err := wr.put(wr.hdr[:odb.PutEntryHeader(wr.hdr[:], typ, size)]); err != nil {
		return err
	}
	sink := putWriter{wr}
	if wr.zw == nil {
		wr.zw = zlib.NewWriter(sink)
	} else {
		wr.zw.Reset(sink)
	}
	buf := make([]byte, 32<<10)
	var n uint64
	for {
		if err := wr.ctx.Err(); err != nil {
			return err
		}
		m, err := r.Read(buf)
		if m > 0 {
			n += uint64(m)
			if n > size {
				return fmt.Errorf("%w: object longer than its size %d", ErrCorrupt, size)
			}
			if _, werr := wr.zw.Write(buf[:m]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if n != size {
		return fmt.Errorf("%w: object of %d bytes, size says %d", ErrCorrupt, n, size)
	}
	return wr.zw.Close()
}

// putWriter lets zlib write through writer.put.
type putWriter struct{ wr *writer }

func (p putWriter) Write(b []byte) (int, error) {
	if err := p.wr.put(b); err != nil {
		return 0, err
	}
	return len(b), nil
}
