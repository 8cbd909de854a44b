package odb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// The one rule for which packs of a repository are read, used by every
// reader of the engine (Reader, and through it repos/uploadpack,
// repos/packobjects, repos/bitmap and repos/maintain):
//
//   - a pack is objects/pack/pack-NAME.pack together with pack-NAME.idx,
//     both seen in one reading of the directory. A pack without its index
//     is being installed (pack first, index last) or was left by a crash
//     in between; git skips it, and so do we. An index without its pack
//     is being removed (index first);
//   - the directory is read by names only, so files that vanish while it
//     is read (a concurrent repack) cannot fail the listing; a pack that
//     vanishes before its modification time is read is left out;
//   - packs are listed newest first (by the .pack's modification time,
//     then by name), as git prefers recent packs: a repack's output is
//     the best place to read and reuse from;
//   - a pack with a .keep is listed (its objects are there), marked Keep:
//     a repack leaves it alone. The packs a repack superseded stay listed
//     until it removes them after a grace period; which those are is
//     repos/maintain's record, and only matters to it.

// PackInfo is one pack ListPacks found.
type PackInfo struct {
	Name    string    // "pack-<checksum>"
	Path    string    // of the .pack file
	ModTime time.Time // of the .pack file
	Size    int64     // of the .pack file
	Keep    bool      // a .keep file holds it
	Bitmap  bool      // it has a .bitmap file
}

// Base is the pack's path without its extension, for its sibling files.
func (i PackInfo) Base() string { return strings.TrimSuffix(i.Path, ".pack") }

// ListPacks lists the packs of the repository at gitDir under the rule
// above. A repository without a pack directory has none. Errors: reading
// the directory.
func ListPacks(gitDir string) ([]PackInfo, error) {
	dir := filepath.Join(gitDir, "objects", "pack")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("odb: list packs: %w", err)
	}
	names := make(map[string]bool, len(ents))
	for _, e := range ents {
		names[e.Name()] = true
	}
	var packs []PackInfo
	for _, e := range ents {
		base, ok := strings.CutSuffix(e.Name(), ".pack")
		if !ok || !strings.HasPrefix(base, "pack-") || !names[base+".idx"] {
			continue
		}
		path := filepath.Join(dir, e.Name())
		fi, err := os.Stat(path)
		if err != nil {
			continue // removed since the directory was read
		}
		packs = append(packs, PackInfo{Name: base, Path: path, ModTime: fi.ModTime(), Size: fi.Size(),
			Keep: names[base+".keep"], Bitmap: names[base+".bitmap"]})
	}
	slices.SortStableFunc(packs, func(a, b PackInfo) int {
		if c := b.ModTime.Compare(a.ModTime); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return packs, nil
}

// Pack is one pack of a repository, opened once and shared by whoever
// reads it: its mapped index, the pack file (opened on first use, and
// checked against the index) and its reverse index (built on first use,
// with the index's checksum verified).
// Its methods may be called from several goroutines.
type Pack struct {
	Info PackInfo
	path string // of the .pack
	idx  *Index

	mu   sync.Mutex // guards the fields below
	f    *os.File
	size int64
	err  error // why the pack could not be opened, kept
	rev  *RevIndex
}

// packFile is the Reader's name for a pack.
type packFile = Pack

// OpenPack maps the index of the listed pack. The pack file itself is
// opened on first use. Errors: the index's file error (fs.ErrNotExist
// when it vanished since it was listed), or ErrCorrupt.
func OpenPack(info PackInfo) (*Pack, error) {
	idx, err := OpenIndex(info.Base() + ".idx")
	if err != nil {
		return nil, err
	}
	return &Pack{Info: info, path: info.Path, idx: idx}, nil
}

// OpenPacks lists the packs of gitDir (ListPacks) and opens them; a pack
// whose index vanished in between is left out. The caller closes them
// (ClosePacks). Errors: ListPacks', OpenPack's.
func OpenPacks(gitDir string) ([]*Pack, error) {
	infos, err := ListPacks(gitDir)
	if err != nil {
		return nil, err
	}
	packs := make([]*Pack, 0, len(infos))
	for _, info := range infos {
		p, err := OpenPack(info)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			ClosePacks(packs)
			return nil, fmt.Errorf("odb: %w", err)
		}
		packs = append(packs, p)
	}
	return packs, nil
}

// ClosePacks closes every pack.
func ClosePacks(packs []*Pack) {
	for _, p := range packs {
		p.Close()
	}
}

// Path is the path of the .pack file.
func (p *Pack) Path() string { return p.path }

// Index is the pack's mapped index, valid until Close.
func (p *Pack) Index() *Index { return p.idx }

// File returns the open pack file and its size, opening it on first use
// and checking it against its index: the pack's header and object count,
// and its trailing checksum, so that the index describes this very file. A pack that vanished since it was listed wraps fs.ErrNotExist
// (and is not kept: a new listing drops it); one that does not match its
// index, or is not a pack, is ErrCorrupt.
func (p *Pack) File() (*os.File, int64, error) {
	return p.file()
}

func (p *Pack) file() (*os.File, int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f != nil || p.err != nil {
		return p.f, p.size, p.err
	}
	f, err := os.Open(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("%w: %s: %w", errStale, filepath.Base(p.path), fs.ErrNotExist)
	}
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	var head [12]byte
	var sum [20]byte
	want := p.idx.PackChecksum()
	switch {
	case fi.Size() < 32:
		err = errors.New("too short")
	case func() error { _, err := f.ReadAt(head[:], 0); return err }() != nil:
		err = errors.New("unreadable header")
	case !bytes.Equal(head[:4], []byte("PACK")) || head[7] < 2 || head[7] > 3 || !bytes.Equal(head[4:7], []byte{0, 0, 0}):
		err = errors.New("not a version 2 pack")
	case int(binary.BigEndian.Uint32(head[8:])) != p.idx.Len():
		err = fmt.Errorf("pack holds %d objects, index %d", binary.BigEndian.Uint32(head[8:]), p.idx.Len())
	case func() error { _, err := f.ReadAt(sum[:], fi.Size()-20); return err }() != nil:
		err = errors.New("unreadable trailer")
	case !bytes.Equal(sum[:], want[:]):
		err = errors.New("checksum does not match its index")
	}
	if err != nil {
		f.Close()
		p.err = fmt.Errorf("%w: %s: %w", ErrCorrupt, filepath.Base(p.path), err)
		return nil, 0, p.err
	}
	p.f, p.size = f, fi.Size()
	return p.f, p.size, nil
}

// RevIndex returns the pack's reverse index, building it on first use:
// the pack file is opened (File), the index's own checksum verified and
// the offsets sorted and checked (NewRevIndex). Its readers may then
// trust the index's offsets and CRCs. Errors: File's, or ErrCorrupt.
func (p *Pack) RevIndex() (*RevIndex, error) {
	_, size, err := p.file()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rev == nil {
		// Whoever reads by offset (copying entries, a bitmap's bits)
		// trusts the index: its checksum is checked once, here.
		if err := p.idx.Verify(); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(p.path), err)
		}
		rev, err := NewRevIndex(p.idx, uint64(size))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(p.path), err)
		}
		p.rev = rev
	}
	return p.rev, nil
}

// Close closes the pack file and unmaps the index; the Pack must not be
// used after.
func (p *Pack) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f != nil {
		p.f.Close()
		p.f = nil
	}
	p.rev = nil
	p.idx.Close()
}

func (p *Pack) close() { p.Close() }

// opened says whether the pack file is open.
func (p *Pack) opened() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.f != nil
}
