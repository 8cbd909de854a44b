package odb

import (
	"bytes"
	"io"
)

// ApplyDelta rebuilds an object from its base and a git delta, the way
// Reader applies one, for the fuzz target.
func ApplyDelta(base, delta []byte, max int64) ([]byte, error) {
	d, err := newDeltaReader(base, io.NopCloser(bytes.NewReader(delta)), max)
	if err != nil {
		return nil, err
	}
	out := make([]byte, d.size)
	return out, readWhole(d, out)
}
