package indexpack_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse/gittest"
	"gatehouse/repos/indexpack"
	"gatehouse/repos/indexpack/packtest"
)

// refApply is a second, plain reading of a delta, to check Receive's:
// the result, or false if the delta is bad for this base.
func refApply(base, delta []byte) ([]byte, bool) {
	varint := func() (uint64, bool) {
		var n uint64
		for shift := uint(0); shift <= 56; shift += 7 {
			if len(delta) == 0 {
				return 0, false
			}
			c := delta[0]
			delta = delta[1:]
			n |= uint64(c&0x7f) << shift
			if c < 0x80 {
				return n, true
			}
		}
		return 0, false
	}
	src, ok1 := varint()
	dst, ok2 := varint()
	if !ok1 || !ok2 || src != uint64(len(base)) || dst > 1<<20 {
		return nil, false
	}
	var out []byte
	for len(delta) > 0 {
		cmd := delta[0]
		delta = delta[1:]
		if cmd == 0 {
			return nil, false
		}
		if cmd < 0x80 {
			if int(cmd) > len(delta) {
				return nil, false
			}
			out = append(out, delta[:cmd]...)
			delta = delta[cmd:]
			continue
		}
		var off, n uint64
		for i := 0; i < 7; i++ {
			if cmd&(1<<i) == 0 {
				continue
			}
			if len(delta) == 0 {
				return nil, false
			}
			if i < 4 {
				off |= uint64(delta[0]) << (8 * i)
			} else {
				n |= uint64(delta[0]) << (8 * (i - 4))
			}
			delta = delta[1:]
		}
		if n == 0 {
			n = 0x10000
		}
		if off+n > uint64(len(base)) {
			return nil, false
		}
		out = append(out, base[off:off+n]...)
	}
	if uint64(len(out)) != dst {
		return nil, false
	}
	return out, true
}

// FuzzReceiveDelta feeds Receive a pack of one blob and a delta of any
// bytes on it, as an OFS_DELTA or a REF_DELTA: Receive must neither
// panic nor accept what a plain reading of the delta refuses, and what it
// accepts must be what the delta says.
func FuzzReceiveDelta(f *testing.F) {
	base := []byte("hello, world\n")
	f.Add(base, packtest.Delta(13, 13, packtest.Copy(0, 13)), false)
	f.Add(base, packtest.Delta(13, 19, packtest.Copy(7, 6), packtest.Insert([]byte("again ")), packtest.Copy(0, 7)), true)
	f.Add(base, packtest.Delta(13, 1<<20, packtest.Copy(0, 13)), false)
	f.Add(base, packtest.Delta(12, 3, packtest.Insert([]byte("abc"))), false)
	f.Add(base, []byte{13, 5, 0x91, 3, 0}, true)
	f.Add([]byte{}, []byte{0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, false)
	f.Add(bytes.Repeat([]byte{0}, 1<<16), packtest.Delta(1<<16, 3<<16, packtest.Copy(0, 1<<16), packtest.Copy(0, 1<<16), packtest.Copy(0, 1<<16)), false)
	repo := filepath.Join(f.TempDir(), "r.git")
	gittest.Run(f, "", "init", "-q", "--bare", repo)
	f.Fuzz(func(t *testing.T, base, delta []byte, ref bool) {
		if len(base) > 1<<20 || len(delta) > 1<<20 {
			return
		}
		d := packtest.OFS(0, delta)
		if ref {
			d = packtest.REF(plumbing.ComputeHash(plumbing.BlobObject, base), delta)
		}
		data := packtest.New(packtest.Whole(plumbing.BlobObject, base), d).Bytes()
		in, err := indexpack.Receive(context.Background(), repo, bytes.NewReader(data), indexpack.Options{MaxObjectSize: 1 << 20})
		want, ok := refApply(base, delta)
		if ok && bytes.Equal(want, base) {
			ok = false // the same object twice
		}
		if err != nil {
			if ok {
				t.Fatalf("refused a good delta: %v", err)
			}
			if !errors.Is(err, indexpack.ErrCorrupt) && !errors.Is(err, indexpack.ErrObjectTooLarge) {
				t.Fatalf("err = %v", err)
			}
			return
		}
		defer in.Abort()
		if !ok {
			t.Fatal("accepted a bad delta")
		}
		if typ, err := in.Type(plumbing.ComputeHash(plumbing.BlobObject, want).String()); err != nil || typ != plumbing.BlobObject {
			t.Fatalf("result not in the pack: %v %v", typ, err)
		}
	})
}
