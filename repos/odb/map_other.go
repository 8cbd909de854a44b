//go:build !unix

package odb

import "os"

// mapFile reads a file whole where mapping it is not supported.
func mapFile(path string) ([]byte, func(), error) {
	b, err := os.ReadFile(path)
	return b, func() {}, err
}
