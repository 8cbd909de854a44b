package odb

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"
)

// LoosePath is where the loose object id of the repository at gitDir
// is: objects/XX/YYYY..., by its id in hex.
func LoosePath(gitDir string, id plumbing.Hash) string {
	s := id.String()
	return filepath.Join(gitDir, "objects", s[:2], s[2:])
}

// StatLoose reports whether the repository at gitDir has id as a loose
// object. Errors: not found (wraps plumbing.ErrObjectNotFound), or the
// file's.
func StatLoose(gitDir string, id plumbing.Hash) error {
	if _, err := os.Stat(LoosePath(gitDir, id)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("object %s: %w", id, plumbing.ErrObjectNotFound)
		}
		return fmt.Errorf("object %s: %w", id, err)
	}
	return nil
}

// OpenLoose starts reading the loose object id of the repository at
// gitDir: its type, its size (checked against max before anything is
// read) and its content, streamed, never held. The stream reports
// ErrCorrupt when the content is not as long as the header says or does
// not hash to id (checked as it ends). The caller closes it. Errors: not
// found (wraps plumbing.ErrObjectNotFound), ErrTooLarge, ErrCorrupt, or
// the file's.
func OpenLoose(gitDir string, id plumbing.Hash, max int64) (plumbing.ObjectType, int64, io.ReadCloser, error) {
	o, err := openLoose(LoosePath(gitDir, id), id, max)
	if err != nil {
		if errors.Is(err, errStale) {
			err = fmt.Errorf("%w: %w", plumbing.ErrObjectNotFound, err)
		}
		return 0, 0, nil, fmt.Errorf("odb: object %s: %w", id, err)
	}
	return o.typ, o.size, o.rc, nil
}

func (r *Reader) loosePath(id plumbing.Hash) string {
	return LoosePath(filepath.Dir(r.objDir), id)
}

func (r *Reader) openLoose(id plumbing.Hash) (stream, error) {
	return openLoose(r.loosePath(id), id, r.max)
}

// openLoose starts reading a loose object: a zlib stream of "TYPE SIZE",
// a NUL, and the content. A file gone since it was found is errStale (a
// repack packed and pruned it).
func openLoose(path string, id plumbing.Hash, max int64) (stream, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return stream{}, fmt.Errorf("%w: loose object", errStale)
	}
	if err != nil {
		return stream{}, err
	}
	e, err := newExactReader(f, 0, -1, 1<<62, f)
	if err != nil {
		return stream{}, fmt.Errorf("loose object: %w", err)
	}
	typ, size, err := parseLooseHeader(byteReader{r: e.zr})
	if err != nil {
		e.Close()
		return stream{}, fmt.Errorf("loose object: %w", err)
	}
	if size > max {
		e.Close()
		return stream{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, size, max)
	}
	if fi, err := f.Stat(); err != nil || !inflatable(size, fi.Size()) {
		e.Close()
		return stream{}, fmt.Errorf("%w: loose object %s: %d bytes declared, more than its file can hold", ErrCorrupt, id, size)
	}
	e.left = size
	sum := sha1.New()
	fmt.Fprintf(sum, "%s %d\x00", typ, size)
	return stream{typ, size, &idCheck{rc: e, sum: sum, id: id}}, nil
}

// idCheck hashes a loose object's content as it is read and, at its
// end, checks it against the object's id.
type idCheck struct {
	rc  io.ReadCloser
	sum hash.Hash
	id  plumbing.Hash
}

func (c *idCheck) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.sum.Write(p[:n])
	if err == io.EOF && !bytes.Equal(c.sum.Sum(nil), c.id[:]) {
		return n, fmt.Errorf("%w: loose object %s: content does not match its id", ErrCorrupt, c.id)
	}
	return n, err
}

func (c *idCheck) Close() error { return c.rc.Close() }

// maxLooseHeader is the longest "TYPE SIZE" a loose object may start
// with: "commit" and 19 digits, with room to spare.
const maxLooseHeader = 32

// parseLooseHeader reads a loose object's "TYPE SIZE\x00". Errors:
// ErrCorrupt.
func parseLooseHeader(r byteReader) (plumbing.ObjectType, int64, error) {
	var buf [maxLooseHeader]byte
	n := 0
	for {
		c, err := r.ReadByte()
		if err != nil {
			return 0, 0, fmt.Errorf("%w: header cut short", ErrCorrupt)
		}
		if c == 0 {
			break
		}
		if n == len(buf) {
			return 0, 0, fmt.Errorf("%w: header too long", ErrCorrupt)
		}
		buf[n] = c
		n++
	}
	name, num, ok := bytes.Cut(buf[:n], []byte{' '})
	typ, err := plumbing.ParseObjectType(string(name))
	if !ok || err != nil || typ < plumbing.CommitObject || typ > plumbing.TagObject {
		return 0, 0, fmt.Errorf("%w: bad header %q", ErrCorrupt, buf[:n])
	}
	if len(num) == 0 {
		return 0, 0, fmt.Errorf("%w: bad header %q", ErrCorrupt, buf[:n])
	}
	size, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil || num[0] < '0' || num[0] > '9' || (len(num) > 1 && num[0] == '0') {
		return 0, 0, fmt.Errorf("%w: bad header %q", ErrCorrupt, buf[:n])
	}
	return typ, size, nil
}
