package indexpack

import (
	"fmt"
	"os"

	"gatehouse/repos/odb"
)

// writeIndex writes the pack's version 2 index (see odb.WriteIndex). The
// file is synced before it is closed; Install only renames it.
func (in *Incoming) writeIndex(path string) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("pack: write index: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("pack: write index: %w", cerr)
		}
	}()
	entry := func(i int) odb.IndexEntry {
		o := &in.objs[i]
		return odb.IndexEntry{ID: o.hash, CRC: o.crc, Offset: uint64(o.offset)}
	}
	if err := odb.WriteIndex(f, len(in.objs), entry, in.checksum); err != nil {
		return fmt.Errorf("pack: write index: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("pack: write index: %w", err)
	}
	return nil
}
