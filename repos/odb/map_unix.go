//go:build unix

package odb

import (
	"os"
	"syscall"
)

// mapFile maps a file read-only, so that an index is paged in as it is
// searched instead of being read and held on the heap. Files mapped here
// are never rewritten in place (git and Gatehouse replace them by
// rename), so the mapping stays valid even if the file is removed.
func mapFile(path string) ([]byte, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if fi.Size() == 0 {
		return nil, func() {}, nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		// Some file systems cannot map: read it instead.
		b, err := os.ReadFile(path)
		return b, func() {}, err
	}
	return b, func() { syscall.Munmap(b) }, nil
}
