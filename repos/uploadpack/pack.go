package uploadpack

import (
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/packobjects"
	"gatehouse/repos/pktline"
)

// sendPack writes the pack of what the client lacks: on side-band channel
// 1 with progress on channel 2 if the client asked for a side-band, else
// bare. common lists the haves we share with the client.
func (s *session) sendPack(req *request, adv *advertisement, common []plumbing.Hash) error {
	var data io.Writer = s.bw
	var bandData *bandWriter
	var prog *pktline.Progress
	if req.band > 0 {
		bandData = newBandWriter(s.bw, pktline.BandData, req.band)
		data = bandData
		if !req.noProgress {
			prog = pktline.NewProgress(pktline.NewBand(s.w, pktline.BandProgress, req.band), time.Second, s.bw.Flush)
		}
	}
	// A full clone of tips served before is the pack sent then.
	key, cacheable := cloneKey(req, adv, common)
	var cw *cacheWriter
	if cacheable {
		n, found, err := sendCached(s.dir, key, data)
		if err != nil {
			return s.packError(req, fmt.Errorf("uploadpack: write cached pack: %w", err))
		}
		if found {
			return s.endPack(req, bandData, prog, fmt.Sprintf("Total %d", n))
		}
		if cw = newCacheWriter(s.dir, data); cw != nil {
			data = cw
			defer cw.abort() // a no-op once installed
		}
	}
	objs, clientHas, err := s.g.listObjects(s.ctx, req, adv, common, s.fs.EncodedObjectSize, prog)
	if err != nil {
		return s.packError(req, fmt.Errorf("uploadpack: list objects: %w", err))
	}
	opts := packobjects.Options{OfsDelta: req.ofsDelta}
	// A client that asked for a thin pack may get deltas against the
	// trees and blobs it has at the boundary, copied as stored, where a
	// complete pack would inflate and send those objects whole. Not to a
	// partial clone: it may lack the blobs of its own history.
	if req.thinPack && req.filter.kind == filterNone && len(clientHas) > 0 {
		opts.ClientHas = func(id plumbing.Hash) bool { return clientHas[id] }
	}
	prog.CountDone("Enumerating objects", len(objs))
	if cacheable && len(objs) >= bigClone {
		// Dropping the object store (its packs' reverse indexes, its
		// object cache) and the enumeration's tables before the pack
		// writer allocates its own, and collecting now, sets the heap goal from what is live while
		// the pack is written: this bounds the peak memory of a clone,
		// for one collection per clone.
		if err := s.reopen(); err != nil {
			return s.packError(req, err)
		}
		runtime.GC()
	}
	// The stored entries are copied as they are (deltas included), so a
	// clone costs about a file read. Without ofs-delta the client gets
	// deltas naming their base by id. The writer reads the packs the
	// store has open, listed again for any installed since.
	if opts.Packs, err = s.fs.Packs(); err != nil {
		return s.packError(req, fmt.Errorf("uploadpack: %w", err))
	}
	st, err := packobjects.Write(s.ctx, s.dir, objs, opts, data)
	if err != nil {
		return s.packError(req, fmt.Errorf("uploadpack: write pack: %w", err))
	}
	if cw != nil {
		cw.install(s.dir, key)
	}
	deltas := st.ReusedDeltas + st.Thin
	return s.endPack(req, bandData, prog, fmt.Sprintf("Total %d (delta %d), reused %d (delta %d)", st.Objects, deltas, st.Reused+deltas, deltas))
}

// endPack flushes the pack and ends the pack phase with the summary
// line total.
func (s *session) endPack(req *request, bandData *bandWriter, prog *pktline.Progress, total string) error {
	if bandData != nil {
		if err := bandData.Flush(); err != nil {
			return fmt.Errorf("uploadpack: write pack: %w", err)
		}
	}
	prog.Printf("%s\n", total)
	if req.band > 0 {
		s.w.Flush()
	}
	return s.writeErr()
}

// bandWriter frames the pack as side-band packets of one channel,
// gathering the writer's small pieces into full packets. Each packet is
// assembled in one buffer and written with one call, so that it stays
// whole on the wire and a clone allocates nothing per packet.
type bandWriter struct {
	w   io.Writer
	buf []byte // length, channel, payload
	err error
}

func newBandWriter(w io.Writer, channel byte, max int) *bandWriter {
	b := &bandWriter{w: w, buf: make([]byte, 5, min(max, pktline.MaxLine))}
	b.buf[4] = channel
	return b
}

func (b *bandWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if b.err != nil {
			return n - len(p), b.err
		}
		c := copy(b.buf[len(b.buf):cap(b.buf)], p)
		b.buf = b.buf[:len(b.buf)+c]
		p = p[c:]
		if len(b.buf) == cap(b.buf) {
			b.Flush()
		}
	}
	return n, b.err
}

// Flush writes the packet gathered so far, if any. Errors stick.
func (b *bandWriter) Flush() error {
	if b.err != nil || len(b.buf) == 5 {
		return b.err
	}
	const hex = "0123456789abcdef"
	n := len(b.buf)
	b.buf[0], b.buf[1], b.buf[2], b.buf[3] = hex[n>>12&15], hex[n>>8&15], hex[n>>4&15], hex[n&15]
	_, b.err = b.w.Write(b.buf)
	b.buf = b.buf[:5]
	return b.err
}

// bigClone is the object count from which a clone's memory is worth a
// collection.
const bigClone = 1 << 14

// packError reports a failure once the pack phase has begun: on channel 3
// when there is a side-band (the client prints it and stops), otherwise
// the client can only notice the pack end early.
func (s *session) packError(req *request, err error) error {
	if req.band > 0 && s.ctx.Err() == nil && s.w.Err() == nil {
		pktline.NewBand(s.w, pktline.BandError, req.band).Write([]byte("upload-pack: internal server error\n"))
	}
	return err
}
