package packobjects

import (
	"compress/zlib"
	"fmt"
	"io"
	"math"
	"path/filepath"

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

// writeLoose writes a loose object whole. Its content is streamed
// (never held) and checked against its id on the way by odb, so a damaged
// file stops the write rather than reaching the client under the wrong
// id (the damage is caught after the entry is buffered, but before the
// trailer, so the client never gets a valid pack).
func (wr *writer) writeLoose(id plumbing.Hash) error {
	typ, size, rc, err := odb.OpenLoose(wr.gitDir, id, math.MaxInt64)
	if err != nil {
		return corrupt(err)
	}
	defer rc.Close()
	return corrupt(wr.writeWhole(typ, uint64(size), rc))
}

// resolveCacheSize bounds the delta bases kept between the objects
// writeResolved rebuilds.
const resolveCacheSize = 16 << 20

// writeResolved writes whole a delta whose base is neither sent nor held
// by the client. odb.Reader rebuilds it, holding its delta chain's
// bases (one at a time, and a bounded cache of them) but streaming the
// object itself into the entry; this is the only place the writer holds
// objects. Like writeLoose it bounds no size: the objects are the
// repository's own.
func (wr *writer) writeResolved(id plumbing.Hash) error {
	if wr.objects == nil {
		wr.objects = odb.OpenReader(wr.gitDir, odb.Limits{MaxObjectSize: math.MaxInt64, BaseCacheSize: resolveCacheSize})
	}
	typ, size, rc, err := wr.objects.Read(id)
	if err != nil {
		return corrupt(err)
	}
	defer rc.Close()
	return corrupt(wr.writeWhole(typ, uint64(size), rc))
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
