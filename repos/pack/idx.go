package pack

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
)

// writeIndex writes a version 2 pack index: magic and version, a fan-out
// table of 256 cumulative counts by first id byte, the sorted ids, their
// CRC-32s, their offsets (31 bits, or an index into a table of 64-bit
// offsets for packs past 2 GiB), the pack's checksum and the index's own.
// The file is synced before it is closed; Install only renames it.
func (in *Incoming) writeIndex(path string) (err error) {
	order := make([]int32, len(in.objs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		return bytes.Compare(in.objs[a].hash[:], in.objs[b].hash[:])
	})

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("pack: write index: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("pack: write index: %w", cerr)
		}
	}()
	sum := sha1.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, sum), 64<<10)
	u32 := func(v uint32) {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], v)
		bw.Write(b[:])
	}

	bw.Write([]byte{0xff, 't', 'O', 'c'})
	u32(2)
	var fanout [256]uint32
	for _, i := range order {
		fanout[in.objs[i].hash[0]]++
	}
	var total uint32
	for _, n := range fanout {
		total += n
		u32(total)
	}
	for _, i := range order {
		bw.Write(in.objs[i].hash[:])
	}
	for _, i := range order {
		u32(in.objs[i].crc)
	}
	var large []uint64
	for _, i := range order {
		off := in.objs[i].offset
		if off < 0x80000000 {
			u32(uint32(off))
			continue
		}
		u32(0x80000000 | uint32(len(large)))
		large = append(large, uint64(off))
	}
	for _, off := range large {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], off)
		bw.Write(b[:])
	}
	bw.Write(in.checksum[:])
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("pack: write index: %w", err)
	}
	if _, err := f.Write(sum.Sum(nil)); err != nil {
		return fmt.Errorf("pack: write index: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("pack: write index: %w", err)
	}
	return nil
}
