package pktline_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"gatehouse/repos/pktline"
)

// payloadSizes are the edges of one packet and a payload over several.
var payloadSizes = []int{0, 1, pktline.MaxPayload - 1, pktline.MaxPayload, pktline.MaxPayload + 1, 3*pktline.MaxPayload + 7}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// frame is the reference encoding: four lower-case hex digits of the
// length including themselves, then the payload.
func frame(payload []byte) []byte {
	return append(fmt.Appendf(nil, "%04x", len(payload)+4), payload...)
}

// bandFrames splits data as side-band packets of at most max bytes.
func bandFrames(channel byte, max int, data []byte) []byte {
	var out []byte
	for len(data) > 0 {
		c := min(len(data), max-5)
		out = append(out, frame(append([]byte{channel}, data[:c]...))...)
		data = data[c:]
	}
	return out
}

func TestWriterBytes(t *testing.T) {
	for _, n := range payloadSizes {
		p := payload(n)
		var buf bytes.Buffer
		w := pktline.NewWriter(&buf)
		_, err := w.Write(p)
		switch {
		case n > pktline.MaxPayload:
			if err == nil || buf.Len() != 0 {
				t.Errorf("payload %d: err %v, %d bytes out; want an error and nothing", n, err, buf.Len())
			}
		case err != nil:
			t.Errorf("payload %d: %v", n, err)
		case !bytes.Equal(buf.Bytes(), frame(p)):
			t.Errorf("payload %d: wrote %d bytes starting %q, want %q", n, buf.Len(), buf.Bytes()[:4], frame(p)[:4])
		}
		// WriteString frames the same.
		if n <= pktline.MaxPayload {
			buf.Reset()
			if err := pktline.NewWriter(&buf).WriteString(string(p)); err != nil || !bytes.Equal(buf.Bytes(), frame(p)) {
				t.Errorf("WriteString of %d bytes: %v, %d bytes out", n, err, buf.Len())
			}
		}
	}
}

func TestBandBytes(t *testing.T) {
	for _, max := range []int{1000, pktline.MaxLine, pktline.MaxLine + 10} {
		for _, n := range payloadSizes {
			p := payload(n)
			var buf bytes.Buffer
			w := pktline.NewWriter(&buf)
			// Two bands on one writer, interleaved, as progress and data are.
			data := pktline.NewBand(w, pktline.BandData, max)
			prog := pktline.NewBand(w, pktline.BandProgress, max)
			if m, err := data.Write(p); err != nil || m != n {
				t.Fatalf("max %d payload %d: Write = %d, %v", max, n, m, err)
			}
			prog.Write([]byte("50%\r"))
			data.Write(p[:min(n, 3)])
			want := bandFrames(pktline.BandData, min(max, pktline.MaxLine), p)
			want = append(want, bandFrames(pktline.BandProgress, max, []byte("50%\r"))...)
			want = append(want, bandFrames(pktline.BandData, max, p[:min(n, 3)])...)
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("max %d payload %d: wrote %d bytes, want %d (or different bytes)", max, n, buf.Len(), len(want))
			}
		}
	}
}

func TestWriterDoesNotAllocate(t *testing.T) {
	w := pktline.NewWriter(io.Discard)
	band := pktline.NewBand(w, pktline.BandData, pktline.MaxLine)
	for _, n := range payloadSizes {
		p := payload(n)
		if n <= pktline.MaxPayload {
			if a := testing.AllocsPerRun(50, func() { w.Write(p) }); a != 0 {
				t.Errorf("Writer.Write of %d bytes: %v allocations per call", n, a)
			}
		}
		if a := testing.AllocsPerRun(50, func() { band.Write(p) }); a != 0 {
			t.Errorf("Band.Write of %d bytes: %v allocations per call", n, a)
		}
	}
	if a := testing.AllocsPerRun(50, func() { w.WriteString("0123456789012345678901234567890123456789 refs/heads/main\n") }); a != 0 {
		t.Errorf("Writer.WriteString: %v allocations per call", a)
	}
	if a := testing.AllocsPerRun(50, func() { pktline.NewBand(w, pktline.BandError, pktline.MaxLine).Write([]byte("no\n")) }); a > 1 {
		t.Errorf("a one-off Band: %v allocations, want at most the Band itself", a)
	}
}

func BenchmarkWriter(b *testing.B) {
	for _, n := range []int{40, pktline.MaxPayload} {
		p := payload(n)
		b.Run(fmt.Sprintf("plain/%d", n), func(b *testing.B) {
			w := pktline.NewWriter(io.Discard)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				w.Write(p)
			}
		})
	}
	p := payload(1 << 20)
	b.Run("band/1MiB", func(b *testing.B) {
		band := pktline.NewBand(pktline.NewWriter(io.Discard), pktline.BandData, pktline.MaxLine)
		b.SetBytes(int64(len(p)))
		b.ReportAllocs()
		for b.Loop() {
			band.Write(p)
		}
	})
}

// TestBandTinyMax: a band asked for packets too small to carry a byte
// still writes, one byte a packet, rather than looping forever.
func TestBandTinyMax(t *testing.T) {
	for _, max := range []int{-1, 0, 5} {
		var out bytes.Buffer
		b := pktline.NewBand(pktline.NewWriter(&out), pktline.BandProgress, max)
		if n, err := b.Write([]byte("ab")); n != 2 || err != nil {
			t.Fatalf("max %d: Write = %d, %v", max, n, err)
		}
		if got, want := out.String(), "0006\x02a0006\x02b"; got != want {
			t.Errorf("max %d: wrote %q, want %q", max, got, want)
		}
	}
}
