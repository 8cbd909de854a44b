package pktline_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"gatehouse/repos/pktline"
)

// FuzzReader: any byte stream yields well-formed packets until a clean
// end or an error, never a panic or an oversized payload; data packets
// written back read the same.
func FuzzReader(f *testing.F) {
	for _, s := range []string{"0000", "0001", "0002", "0006a\n0000", "000ahello\n0009world0000", "0004", "0003", "fffe",
		"zzzz", "00", "0010short", "0032want 0123456789012345678901234567890123456789\n0000"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := pktline.NewReader(bytes.NewReader(in))
		var echo bytes.Buffer
		w := pktline.NewWriter(&echo)
		var kinds []pktline.Kind
		for i := 0; i <= len(in)/4; i++ {
			kind, data, err := r.Read()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, pktline.ErrBadLength) {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			if len(data) > pktline.MaxPayload {
				t.Fatalf("payload of %d bytes", len(data))
			}
			kinds = append(kinds, kind)
			switch kind {
			case pktline.Data:
				w.Write(data)
			case pktline.FlushPkt:
				w.Flush()
			case pktline.DelimPkt:
				w.Delim()
			case pktline.ResponseEndPkt:
				echo.Write(pktline.ResponseEnd)
			}
		}
		// What was read writes back to the same packets.
		r2 := pktline.NewReader(&echo)
		for i, want := range kinds {
			kind, _, err := r2.Read()
			if err != nil || kind != want {
				t.Fatalf("packet %d: re-read %v, %v; want %v", i, kind, err, want)
			}
		}
	})
}
