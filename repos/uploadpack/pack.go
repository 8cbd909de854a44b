package uploadpack

import (
	"bufio"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/packwrite"
	"gatehouse/repos/pktline"
)

// sendPack writes the pack of what the client lacks: on side-band channel
// 1 with progress on channel 2 if the client asked for a side-band, else
// bare. common lists the haves we share with the client.
func (s *session) sendPack(req *request, adv *advertisement, common []plumbing.Hash) error {
	var data io.Writer = s.bw
	var bandData *bufio.Writer
	var prog *progress
	if req.band > 0 {
		// The encoder writes in small pieces; gather them into full
		// side-band packets.
		bandData = bufio.NewWriterSize(pktline.NewBand(s.w, pktline.BandData, req.band), req.band-5)
		data = bandData
		if !req.noProgress {
			prog = newProgress(pktline.NewBand(s.w, pktline.BandProgress, req.band), s.bw)
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
			return s.endPack(req, bandData, prog, n)
		}
		if cw = newCacheWriter(s.dir, data); cw != nil {
			data = cw
			defer cw.abort() // a no-op once installed
		}
	}
	objs, err := s.g.objectsToSend(s.ctx, req, adv, common, s.fs.EncodedObjectSize, prog)
	if err != nil {
		return s.packError(req, fmt.Errorf("uploadpack: list objects: %w", err))
	}
	prog.done("Enumerating objects", len(objs))
	if cacheable && len(objs) >= bigClone {
		// The pack writer reads the packs itself. Dropping go-git's
		// storage (its index of every pack, tens of bytes per object)
		// and the enumeration's tables before it allocates its own, and
		// collecting now, sets the heap goal from what is live while
		// the pack is written: this bounds the peak memory of a clone,
		// for one collection per clone.
		s.reopen()
		runtime.GC()
	}
	// The stored entries are copied as they are (deltas included), so a
	// clone costs about a file read. Without ofs-delta the client gets
	// deltas naming their base by id. Every base is in the pack: the pack
	// is never thin.
	st, err := packwrite.Write(s.ctx, s.dir, objs, packwrite.Options{OfsDelta: req.ofsDelta}, data)
	if err != nil {
		return s.packError(req, fmt.Errorf("uploadpack: write pack: %w", err))
	}
	if cw != nil {
		cw.install(s.dir, key)
	}
	return s.endPack(req, bandData, prog, st.Objects)
}

// endPack flushes the pack and ends the pack phase.
func (s *session) endPack(req *request, bandData *bufio.Writer, prog *progress, objects int) error {
	if bandData != nil {
		if err := bandData.Flush(); err != nil {
			return fmt.Errorf("uploadpack: write pack: %w", err)
		}
	}
	prog.printf("Total %d\n", objects)
	if req.band > 0 {
		s.w.Flush()
	}
	return s.writeErr()
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

// progress writes git-style progress lines ("Enumerating objects: 12,
// done."). Updates come at most once a second, the first after a second,
// so quick fetches show only the final lines. A nil *progress is quiet.
type progress struct {
	w    io.Writer
	out  *bufio.Writer // flushed so a line reaches the client now
	last time.Time
}

func newProgress(w io.Writer, out *bufio.Writer) *progress {
	return &progress{w: w, out: out, last: time.Now()}
}

func (p *progress) update(title string, n int) {
	if p == nil {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= time.Second {
		p.last = now
		p.printf("%s: %d\r", title, n)
	}
}

func (p *progress) done(title string, n int) {
	p.printf("%s: %d, done.\n", title, n)
}

// printf writes one line. Errors are left for the pack writes to find
// (they share the writer, whose errors stick).
func (p *progress) printf(format string, args ...any) {
	if p == nil {
		return
	}
	fmt.Fprintf(p.w, format, args...)
	p.out.Flush()
}
