// Package uploadpack serves git-upload-pack, the server side of clone,
// fetch and ls-remote, for one bare repository.
//
// Protocol v0 follows git's upload-pack.c: the ref advertisement, the
// client's wants (and, for shallow clients, its shallow commits and a
// deepen request), a real negotiation over its haves (multi_ack_detailed
// and no-done, so the client can stop as soon as we know enough), then a
// pack of what the client lacks, streamed on side-band channel 1 with
// progress on channel 2. Protocol v2 (GIT_PROTOCOL=version=2, v2.go)
// reuses the same phases under the ls-refs and fetch commands.
//
// Both versions serve shallow requests (deepen, deepen-since, deepen-not,
// deepen-relative), partial clone filters (blob:none, blob:limit=N,
// tree:N) and wants of any object a ref reaches, so a partial clone can
// fetch what it left out; objects no ref reaches are refused, and a
// client's shallow lines only describe it: a deepen request lifts only
// shallow commits the wants reach (shallow.go). A client that asks for a
// thin pack gets stored deltas against the trees and blobs it has at the
// boundary of its history as they are; v2's sideband-all and
// packfile-uris are not offered.
//
// Refs come from package refs, never from go-git's ref storer (which would
// read "*.lock" files as refs). Objects are read through one odb.Reader
// per conversation (store.go), whose packs the bitmap and packobjects
// read too; it looks in the packs installed since it was opened when an
// object is not in the ones it has, so a push landing mid-conversation
// is served whole. A clone of
// whole history is listed with the repository's reachability bitmap when
// it has one (bitmapwalk.go) and kept in a cache keyed by the tips
// (clonecache.go); the pack is written by package packobjects, which copies
// the stored entries. go-git's transport/server and packp server helpers
// are not used, because they neither negotiate nor check that a want is
// reachable.
//
// The phases (advertise, request, negotiate, pack) are separate so that
// protocol v2's ls-refs and fetch commands can reuse them.
package uploadpack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse"
	"gatehouse/repos/pktline"
)

// Defaults for the zero Options fields.
const (
	// DefaultMaxWants bounds the want lines of one request. A mirror clone
	// wants every ref, so this is generous; duplicates count too.
	DefaultMaxWants = 1 << 20
	// DefaultMaxHaves bounds the haves looked up in one conversation.
	// Later haves are read and ignored, which only makes the pack bigger.
	DefaultMaxHaves = 100_000
)

// Options configure one conversation.
type Options struct {
	// Agent is advertised as "agent=<Agent>" ("gatehouse" when empty).
	// Characters git does not allow in a capability are replaced by '.'.
	Agent string
	// Protocol is the client's GIT_PROTOCOL value ("version=2"), or "".
	// Protocol v2 is spoken when it asks for version 2, else v0.
	Protocol string
	// MaxWants bounds the want lines of one request; 0 means
	// DefaultMaxWants.
	MaxWants int
	// MaxHaves bounds the haves looked up; 0 means DefaultMaxHaves.
	MaxHaves int
}

func (o Options) withDefaults() Options {
	if o.Agent == "" {
		o.Agent = "gatehouse"
	}
	if o.MaxWants <= 0 {
		o.MaxWants = DefaultMaxWants
	}
	if o.MaxHaves <= 0 {
		o.MaxHaves = DefaultMaxHaves
	}
	return o
}

// session is one conversation. Everything runs on the caller's goroutine
// (ctxReader aside), so nothing here needs a lock.
type session struct {
	ctx  context.Context
	dir  string
	opts Options
	fs   *objectStore
	g    *graph
	r    *pktline.Reader
	w    *pktline.Writer
	bw   *bufio.Writer // under w; see flushingReader
	// argsEnded is set once the flush ending a v2 command's arguments
	// has been read.
	argsEnded bool
	// sidebandAll: the v2 fetch being answered asked for sideband-all,
	// so errors go on channel 3 rather than in an ERR line.
	sidebandAll bool
	// shown holds every id an advertisement of this session showed (see
	// checkWants); at most maxShown.
	shown map[plumbing.Hash]bool
}

// errorLine tells the client msg the way it can read it now.
func (s *session) errorLine(msg string) {
	if s.sidebandAll {
		pktline.NewBand(s.w, pktline.BandError, pktline.MaxLine).Write([]byte(msg + "\n"))
		return
	}
	s.w.Error(msg)
}

// Serve runs one upload-pack conversation on in and out (the SSH channel)
// for the bare repository at gitDir, and writes nothing to out but
// protocol data.
//
// It returns nil when the client got what it asked for, including when it
// asked for nothing (ls-remote, an up-to-date fetch) or hung up right
// after the advertisement. Errors:
//   - the client broke the protocol, wanted an object that was not
//     advertised or sent too much: the client has been sent an ERR line
//     where the protocol allows it, and the error wraps gatehouse.ErrInvalid;
//   - the client hung up mid-conversation: wraps io.ErrUnexpectedEOF;
//   - ctx was cancelled: wraps ctx.Err();
//   - the repository could not be read: the client was told only
//     "internal server error".
//
// Serve stops working when ctx is done, but a Read or Write already
// blocked on in or out returns only when the caller closes the channel; a
// goroutine reading in may outlive Serve until then.
func Serve(ctx context.Context, gitDir string, in io.Reader, out io.Writer, opts Options) error {
	ctx, cancel := context.WithCancel(ctx)
	// Cancelling on return also stops the reader goroutine.
	defer cancel()
	// Output is buffered, and the buffer is flushed whenever we are about
	// to wait for the client, so a reply can never sit unsent while both
	// sides wait. Many small pkt-lines then cost few channel writes.
	bw := bufio.NewWriterSize(&ctxWriter{ctx: ctx, w: out}, 64<<10)
	defer bw.Flush()
	fr := &flushingReader{r: &ctxReader{ctx: ctx, r: in}, w: bw}
	s := &session{
		ctx:  ctx,
		dir:  gitDir,
		opts: opts.withDefaults(),
		r:    pktline.NewReader(pktline.NewBufferedReader(fr)),
		w:    pktline.NewWriter(bw),
		bw:   bw,
	}
	if err := s.open(); err != nil {
		s.w.Error("upload-pack: internal server error")
		return err
	}
	defer func() { s.fs.Close() }() // s.fs may be reopened
	if testHookOpened != nil {
		testHookOpened()
	}
	var err error
	if wantsV2(s.opts.Protocol) {
		err = s.serveV2()
	} else {
		err = s.serveV0()
	}
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		// Whatever failed, it failed because the context ended.
		err = fmt.Errorf("uploadpack: %w (%v)", ctx.Err(), err)
	}
	return err
}

// testHookOpened, set only by tests, runs in Serve once the objects are
// open and before any ref is read: where a push landing mid-conversation
// falls.
var testHookOpened func()

// open checks gitDir looks like a repository and opens its objects.
func (s *session) open() error {
	for _, p := range []string{"objects", "HEAD"} {
		if _, err := os.Stat(filepath.Join(s.dir, p)); err != nil {
			return fmt.Errorf("uploadpack: %s is not a repository: %w", s.dir, err)
		}
	}
	fs, err := openStore(s.dir)
	if err != nil {
		return fmt.Errorf("uploadpack: open objects: %w", err)
	}
	s.fs = fs
	s.g = newGraph(&ctxStorer{objectReader: s.fs, ctx: s.ctx})
	s.g.dir = s.dir
	return nil
}

// reopen replaces the object store and the graph with fresh ones, so
// that the old ones and their caches become garbage.
func (s *session) reopen() error {
	s.fs.Close()
	return s.open()
}

// serveV0 is the whole v0 conversation.
func (s *session) serveV0() error {
	adv, err := s.advertiseV0()
	if err != nil {
		return err
	}
	req, err := s.readRequestV0(adv)
	if err != nil || req == nil {
		return err
	}
	if req.deepens() || len(req.shallow) > 0 {
		if err := s.shallowV0(req); err != nil {
			return err
		}
	}
	neg, err := newNegotiator(s.g, req.wants)
	if err != nil {
		return s.internalError(err)
	}
	if err := s.negotiateV0(req, neg); err != nil {
		return err
	}
	return s.sendPack(req, adv, neg.common)
}

// clientError tells the client what it did wrong with an ERR line and
// returns the matching error.
func (s *session) clientError(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	s.errorLine("upload-pack: " + msg)
	return fmt.Errorf("uploadpack: %s: %w", msg, gatehouse.ErrInvalid)
}

// internalError tells the client only that something failed on our side;
// the detail is for the log.
func (s *session) internalError(err error) error {
	if s.ctx.Err() == nil {
		s.errorLine("upload-pack: internal server error")
	}
	return err
}

// readError turns a failed read mid-conversation into an error: the end
// of the input means the client hung up, a bad length means it is not
// speaking pkt-lines (it is told so, in case it can read).
func (s *session) readError(during string, err error) error {
	switch {
	case errors.Is(err, io.EOF):
		err = io.ErrUnexpectedEOF
	case errors.Is(err, pktline.ErrBadLength):
		s.errorLine("upload-pack: protocol error: bad line length")
		err = fmt.Errorf("%w: %w", err, gatehouse.ErrInvalid)
	}
	return fmt.Errorf("uploadpack: reading %s: %w", during, err)
}
