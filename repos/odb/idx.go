package odb

// Version 2 pack indexes (.idx files), the table of contents of a pack:
// each object's id, the CRC-32 of its raw entry and its offset in the
// pack. Incoming packs (repos/indexpack) and repacks (repos/maintain)
// write them (WriteIndex); repacks read them whole to list the objects
// of the packs they replace (ReadIndex), and everything else maps them
// (OpenIndex).

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"
)

// IndexEntry is one object as its pack's index records it.
type IndexEntry struct {
	ID     plumbing.Hash
	CRC    uint32 // of the raw entry: header, base reference and zlib data
	Offset uint64 // where the entry starts in the pack
}

var idxMagic = []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2}

// idxHead is the size of the magic, version and fan-out table.
const idxHead = 8 + 256*4

// WriteIndex writes to w the version 2 index of a pack of n objects whose
// trailing checksum is packSum: magic and version, a fan-out table of 256
// cumulative counts by first id byte, the sorted ids, their CRC-32s, their
// offsets (31 bits, or an index into a table of 64-bit offsets for packs
// past 2 GiB), the pack's checksum and the index's own. entry(i) gives
// the i-th object, in any order; it is called many times while sorting,
// so it should be cheap. Errors are w's.
func WriteIndex(w io.Writer, n int, entry func(i int) IndexEntry, packSum plumbing.Hash) error {
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		ea, eb := entry(int(a)), entry(int(b))
		return bytes.Compare(ea.ID[:], eb.ID[:])
	})

	sum := sha1.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, sum), 64<<10)
	var b [8]byte
	u32 := func(v uint32) {
		binary.BigEndian.PutUint32(b[:4], v)
		bw.Write(b[:4])
	}
	bw.Write(idxMagic)
	var fanout [256]uint32
	for _, i := range order {
		fanout[entry(int(i)).ID[0]]++
	}
	var total uint32
	for _, c := range fanout {
		total += c
		u32(total)
	}
	for _, i := range order {
		id := entry(int(i)).ID
		bw.Write(id[:])
	}
	for _, i := range order {
		u32(entry(int(i)).CRC)
	}
	var large []uint64
	for _, i := range order {
		off := entry(int(i)).Offset
		if off < 0x80000000 {
			u32(uint32(off))
			continue
		}
		u32(0x80000000 | uint32(len(large)))
		large = append(large, off)
	}
	for _, off := range large {
		binary.BigEndian.PutUint64(b[:], off)
		bw.Write(b[:])
	}
	bw.Write(packSum[:])
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(sum.Sum(nil))
	return err
}

// Index is a version 2 index: read whole into memory (ReadIndex,
// ParseIndex) or mapped (OpenIndex). Its methods may be called from several goroutines.
type Index struct {
	data     []byte
	n        int
	numLarge int
	release  func() // unmaps data; nil when there is nothing to release
}

// OpenIndex maps the index at path instead of reading it, so that it is paged
// in as it is searched, and checks only its shape: magic, fan-out table
// and size. The checksum (Verify), the order of the ids and each offset
// (Offset's error) are left to the caller, who may not need them all on
// every open. Index files are replaced by rename, never rewritten in
// place, so the mapping stays valid even when the file is removed.
// Close releases it. Errors: the file's, or ErrCorrupt.
func OpenIndex(path string) (*Index, error) {
	data, release, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	x, err := shape(data)
	if err != nil {
		release()
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	x.release = release
	return x, nil
}

// Close releases a mapped index; the Index must not be used after.
func (x *Index) Close() {
	if x.release != nil {
		x.release()
		x.release = nil
	}
	x.data = nil
}

// Verify checks the index's own trailing checksum. Errors: ErrCorrupt.
func (x *Index) Verify() error {
	sum := sha1.Sum(x.data[:len(x.data)-20])
	if !bytes.Equal(sum[:], x.data[len(x.data)-20:]) {
		return fmt.Errorf("%w: index: checksum mismatch", ErrCorrupt)
	}
	return nil
}

// shape checks the magic, the fan-out table and the size.
func shape(data []byte) (*Index, error) {
	if len(data) < idxHead+40 || !bytes.Equal(data[:8], idxMagic) {
		return nil, fmt.Errorf("%w: index: not a version 2 index", ErrCorrupt)
	}
	prev := uint32(0)
	for i := range 256 {
		v := binary.BigEndian.Uint32(data[8+4*i:])
		if v < prev {
			return nil, fmt.Errorf("%w: index: fan-out table not monotonic", ErrCorrupt)
		}
		prev = v
	}
	n := int(prev)
	rest := len(data) - 40 - (idxHead + 28*n)
	if rest < 0 || rest%8 != 0 {
		return nil, fmt.Errorf("%w: index: size does not match the object count", ErrCorrupt)
	}
	return &Index{data: data, n: n, numLarge: rest / 8}, nil
}

// ReadIndex reads and checks the index at path: its magic, checksum, fan-out
// table and size. Errors: the file's, or ErrCorrupt.
func ReadIndex(path string) (*Index, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	x, err := ParseIndex(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

// ParseIndex is ReadIndex for an index already in memory; it keeps data. Besides
// the shape it checks the checksum, the order of the ids and every offset.
func ParseIndex(data []byte) (*Index, error) {
	x, err := shape(data)
	if err != nil {
		return nil, err
	}
	if err := x.Verify(); err != nil {
		return nil, err
	}
	for i := 1; i < x.n; i++ {
		if bytes.Compare(x.Name(i-1), x.Name(i)) >= 0 {
			return nil, fmt.Errorf("%w: index: ids not sorted", ErrCorrupt)
		}
	}
	for i := range x.n {
		if _, err := x.Offset(i); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// Len is the number of objects.
func (x *Index) Len() int { return x.n }

// Name returns the id of the i-th object (in id order) as the index
// holds it; the bytes are valid until Close.
func (x *Index) Name(i int) []byte { return x.data[idxHead+20*i : idxHead+20*i+20] }

// ID returns the id of the i-th object (in id order).
func (x *Index) ID(i int) plumbing.Hash {
	var h plumbing.Hash
	copy(h[:], x.Name(i))
	return h
}

// CRC returns the CRC-32 of the i-th object's raw entry.
func (x *Index) CRC(i int) uint32 {
	return binary.BigEndian.Uint32(x.data[idxHead+20*x.n+4*i:])
}

// Offset returns where the i-th object's entry starts in the pack. The
// error (ErrCorrupt) is a 64-bit offset entry the table lacks; an index
// from ReadIndex or ParseIndex has none.
func (x *Index) Offset(i int) (uint64, error) {
	v := binary.BigEndian.Uint32(x.data[idxHead+24*x.n+4*i:])
	if v&0x80000000 == 0 {
		return uint64(v), nil
	}
	k := int(v & 0x7fffffff)
	if k >= x.numLarge {
		return 0, fmt.Errorf("%w: index: bad large offset", ErrCorrupt)
	}
	return binary.BigEndian.Uint64(x.data[idxHead+28*x.n+8*k:]), nil
}

// LargeOffsets says whether the index has a table of 64-bit offsets
// (packs past 2 GiB); without one every offset fits in 31 bits.
func (x *Index) LargeOffsets() bool { return x.numLarge > 0 }

// Find returns the position of id, if the index has it.
func (x *Index) Find(id plumbing.Hash) (int, bool) {
	lo := 0
	if id[0] > 0 {
		lo = int(binary.BigEndian.Uint32(x.data[8+4*(int(id[0])-1):]))
	}
	hi := int(binary.BigEndian.Uint32(x.data[8+4*int(id[0]):]))
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch bytes.Compare(x.Name(m), id[:]) {
		case 0:
			return m, true
		case -1:
			lo = m + 1
		default:
			hi = m
		}
	}
	return 0, false
}

// PackChecksum is the trailing checksum of the pack the index describes.
func (x *Index) PackChecksum() plumbing.Hash {
	var h plumbing.Hash
	copy(h[:], x.data[len(x.data)-40:])
	return h
}
