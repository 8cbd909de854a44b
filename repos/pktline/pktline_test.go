package pktline_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"gatehouse/repos/pktline"
)

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := pktline.NewWriter(&buf)
	w.Linef("want %s", strings.Repeat("a", 40))
	w.Delim()
	w.WriteString("")
	w.Write(bytes.Repeat([]byte("x"), pktline.MaxPayload))
	w.Flush()
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	if got := buf.String()[:8]; got != "0032want" {
		t.Fatalf("first packet starts %q", got)
	}
	r := pktline.NewReader(&buf)
	want := []struct {
		kind pktline.Kind
		n    int
	}{{pktline.Data, 46}, {pktline.DelimPkt, 0}, {pktline.Data, 0}, {pktline.Data, pktline.MaxPayload}, {pktline.FlushPkt, 0}}
	for i, w := range want {
		k, b, err := r.Read()
		if err != nil || k != w.kind || len(b) != w.n {
			t.Fatalf("packet %d: kind %v len %d err %v, want kind %v len %d", i, k, len(b), err, w.kind, w.n)
		}
	}
	if _, _, err := r.Read(); err != io.EOF {
		t.Fatalf("after the last packet: %v, want io.EOF", err)
	}
}

func TestReadLine(t *testing.T) {
	r := pktline.NewReader(strings.NewReader("000bhave x\n0008done0000"))
	for _, want := range []string{"have x", "done", ""} {
		if _, got, err := r.ReadLine(); err != nil || got != want {
			t.Fatalf("ReadLine = %q, %v; want %q", got, err, want)
		}
	}
}

func TestBadInput(t *testing.T) {
	for name, in := range map[string]string{
		"not hex":       "00zz",
		"PACK":          "PACK\x00\x00\x00\x02",
		"length three":  "0003",
		"too long":      "fff1" + strings.Repeat("x", 100),
		"cut in header": "00",
		"cut in data":   "0010abc",
	} {
		_, _, err := pktline.NewReader(strings.NewReader(in)).Read()
		switch {
		case err == nil:
			t.Errorf("%s: no error", name)
		case strings.HasPrefix(name, "cut"):
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s: %v, want unexpected EOF", name, err)
			}
		case !errors.Is(err, pktline.ErrBadLength):
			t.Errorf("%s: %v, want ErrBadLength", name, err)
		}
	}
}

func TestWriterRefusesOversize(t *testing.T) {
	var buf bytes.Buffer
	w := pktline.NewWriter(&buf)
	if _, err := w.Write(make([]byte, pktline.MaxPayload+1)); err == nil {
		t.Fatal("oversize payload written")
	}
	// The error sticks.
	if err := w.Flush(); err == nil || buf.Len() != 0 {
		t.Fatalf("flush after a failed write: %v, %d bytes out", err, buf.Len())
	}
}

func TestBandSplitsAndTags(t *testing.T) {
	var buf bytes.Buffer
	w := pktline.NewWriter(&buf)
	band := pktline.NewBand(w, pktline.BandData, 1000)
	data := bytes.Repeat([]byte{0xAB}, 2500)
	if n, err := band.Write(data); err != nil || n != len(data) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	r := pktline.NewReader(&buf)
	var got []byte
	for {
		k, b, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil || k != pktline.Data {
			t.Fatalf("read: %v %v", k, err)
		}
		if len(b)+4 > 1000 || b[0] != pktline.BandData {
			t.Fatalf("packet of %d bytes on band %d", len(b)+4, b[0])
		}
		got = append(got, b[1:]...)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("band data changed in transit")
	}
	// A nil band (quiet progress) swallows writes.
	var quiet *pktline.Band
	if n, err := quiet.Write([]byte("progress")); n != 8 || err != nil {
		t.Fatalf("nil band Write = %d, %v", n, err)
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("a", 150)
	for in, want := range map[string]string{
		"want 123":        "want 123",
		"bell\a\x1b[2J":   "bell??[2J",
		"caf\xc3\xa9\x7f": "caf???",
		long:              long[:100] + "...",
		"\n" + long[:99]:  "?" + long[:99],
		"\n" + long[:100]: "?" + long[:99] + "...",
		"":                "",
	} {
		if got := pktline.Clip(in); got != want {
			t.Errorf("Clip(%q) = %q, want %q", in, got, want)
		}
	}
}
