package uploadpack

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/repos/refs"
)

// maxPeel bounds a chain of tags pointing at tags.
const maxPeel = 64

// advRef is one advertised ref.
type advRef struct {
	name   string
	id     plumbing.Hash
	peeled plumbing.Hash // ZeroHash unless id is an annotated tag
}

// advertisement is what the client is shown, read once per conversation so
// that the wants are checked against exactly what it saw.
type advertisement struct {
	head    plumbing.Hash // ZeroHash when HEAD is unborn
	symref  string        // HEAD's target when HEAD is a born symbolic ref
	unborn  string        // HEAD's target when that branch does not exist yet
	refs    []advRef      // sorted by name
	tips    map[plumbing.Hash]bool
	hasTags bool
}

// advertisement reads HEAD and the refs, and peels annotated tags that
// packed-refs did not peel for us.
func (s *session) advertisement() (*advertisement, error) {
	return s.readAdvertisement(nil)
}

// readAdvertisement is advertisement calling show, when not nil, with
// HEAD (named "HEAD", when advertised) and then each ref as it is read,
// so that they can be sent on without waiting for the rest.
func (s *session) readAdvertisement(show func(*advertisement, advRef)) (*advertisement, error) {
	head, err := refs.ReadHead(s.dir)
	if err != nil {
		return nil, err
	}
	adv := &advertisement{tips: make(map[plumbing.Hash]bool)}
	// An unborn HEAD is not advertised; a detached one is, without symref.
	if head.ID != "" {
		adv.head = plumbing.NewHash(head.ID)
		adv.symref = head.Target
		adv.tips[adv.head] = true
		if show != nil {
			show(adv, advRef{name: "HEAD", id: adv.head})
		}
	} else {
		adv.unborn = head.Target
	}
	err = s.eachRef(nil, func(a advRef) error {
		// Peeled ids are shown too, so a client may want them.
		adv.tips[a.id] = true
		if !a.peeled.IsZero() {
			adv.tips[a.peeled] = true
			adv.hasTags = true
		}
		adv.refs = append(adv.refs, a)
		if show != nil {
			show(adv, a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The objects these refs name may have come in packs the store has
	// not listed yet.
	s.fs.refsRead()
	s.remember(adv)
	return adv, nil
}

// eachRef calls fn with each ref whose name starts with one of prefixes
// (every ref when there are none), in name order, as refs.Each reads
// them, with its peeled id: from packed-refs, else read from the tag.
func (s *session) eachRef(prefixes []string, fn func(advRef) error) error {
	for r, err := range refs.Each(s.dir, prefixes...) {
		if err != nil {
			return err
		}
		a := advRef{name: r.Name, id: plumbing.NewHash(r.ID)}
		switch {
		case r.Peeled != "":
			a.peeled = plumbing.NewHash(r.Peeled)
		case !r.KnowsPeeled:
			// The tag may have come in a pack the store has not listed.
			s.fs.refsRead()
			if a.peeled, err = s.peel(a.id); err != nil {
				return fmt.Errorf("uploadpack: peel %s: %w", r.Name, err)
			}
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

// maxShown bounds session.shown: a v2 session may list refs many times
// while they move.
const maxShown = 1 << 20

// remember adds the ids adv shows to those the session has shown.
func (s *session) remember(adv *advertisement) {
	for id := range adv.tips {
		s.shownID(id)
	}
}

// shownID adds id to the ids the session has shown, up to maxShown.
func (s *session) shownID(id plumbing.Hash) {
	if s.shown == nil {
		s.shown = make(map[plumbing.Hash]bool)
	}
	if len(s.shown) < maxShown {
		s.shown[id] = true
	}
}

// peel returns what the tag id finally points at, or ZeroHash when id is
// not a tag. A missing object is not an error here: git advertises such a
// ref without a peeled line, and a want of it fails later.
func (s *session) peel(id plumbing.Hash) (plumbing.Hash, error) {
	target := id
	for i := 0; ; i++ {
		if i == maxPeel {
			return plumbing.ZeroHash, fmt.Errorf("tag chain longer than %d", maxPeel)
		}
		o, err := s.g.s.EncodedObject(plumbing.AnyObject, target)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return plumbing.ZeroHash, nil
		}
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if o.Type() != plumbing.TagObject {
			if i == 0 {
				return plumbing.ZeroHash, nil
			}
			return target, nil
		}
		next, _, err := tagTarget(o)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		target = next
	}
}

// capabilities lists what this server implements, in git's order.
func (s *session) capabilities(adv *advertisement) string {
	caps := []string{
		"multi_ack", "thin-pack", "side-band", "side-band-64k", "ofs-delta",
		"shallow", "deepen-since", "deepen-not", "deepen-relative", "no-progress",
		"include-tag", "multi_ack_detailed", "no-done", "allow-tip-sha1-in-want",
		"allow-reachable-sha1-in-want", "filter",
	}
	if adv.symref != "" {
		caps = append(caps, "symref=HEAD:"+adv.symref)
	}
	caps = append(caps, "object-format=sha1", "agent="+capValue(s.opts.Agent))
	return strings.Join(caps, " ")
}

// capValue makes v safe inside a space-separated capability list.
func capValue(v string) string {
	b := []byte(v)
	for i, c := range b {
		if c <= ' ' || c >= 0x7f {
			b[i] = '.'
		}
	}
	return string(b)
}

// advertiseV0 reads the advertisement and sends it as it reads it: HEAD,
// the refs and their peeled values, the capabilities after a NUL on the
// first line, then a flush. An empty repository gets git's placeholder
// line so the client still learns the capabilities.
func (s *session) advertiseV0() (*advertisement, error) {
	var caps string
	first := true
	var buf []byte
	line := func(adv *advertisement, id plumbing.Hash, name, suffix string) {
		buf = hex.AppendEncode(buf[:0], id[:])
		buf = append(buf, ' ')
		buf = append(buf, name...)
		buf = append(buf, suffix...)
		// Capabilities ride on the first line only, after a NUL.
		if first {
			first = false
			caps = s.capabilities(adv)
			buf = append(buf, 0)
			buf = append(buf, caps...)
		}
		buf = append(buf, '\n')
		s.w.Write(buf)
	}
	adv, err := s.readAdvertisement(func(adv *advertisement, r advRef) {
		line(adv, r.id, r.name, "")
		if !r.peeled.IsZero() {
			line(adv, r.peeled, r.name, "^{}")
		}
	})
	if err != nil {
		s.w.Error("upload-pack: internal server error")
		return nil, err
	}
	if first {
		line(adv, plumbing.ZeroHash, "capabilities^{}", "")
	}
	if err := s.w.Flush(); err != nil {
		return nil, fmt.Errorf("uploadpack: advertise: %w", err)
	}
	return adv, nil
}
