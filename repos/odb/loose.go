package odb

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"
)

func (r *Reader) loosePath(id plumbing.Hash) string {
	s := id.String()
	return filepath.Join(r.objDir, s[:2], s[2:])
}

// openLoose starts reading a loose object: a zlib stream of "TYPE SIZE",
// a NUL, and the content. A file gone since it was found is errStale (a
// repack packed and pruned it).
func (r *Reader) openLoose(id plumbing.Hash) (stream, error) {
	f, err := os.Open(r.loosePath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return stream{}, fmt.Errorf("%w: loose object", errStale)
	}
	if err != nil {
		return stream{}, err
	}
	e, err := newExactReader(f, 1<<62, f)
	if err != nil {
		return stream{}, fmt.Errorf("loose object: %w", err)
	}
	typ, size, err := parseLooseHeader(byteReader{r: e.zr})
	if err != nil {
		e.Close()
		return stream{}, fmt.Errorf("loose object: %w", err)
	}
	if size > r.max {
		e.Close()
		return stream{}, r.tooLarge(size)
	}
	e.left = size
	return stream{typ, size, e}, nil
}

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
