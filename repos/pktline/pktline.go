// Package pktline reads and writes Git's pkt-line framing and side-band
// multiplexing. A pkt-line is four hex digits giving the length of the line
// including themselves, then the payload; "0000" is a flush, "0001" a
// delimiter and "0002" a response end (protocol v2).
package pktline

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

const (
	// MaxPayload is the largest payload of one pkt-line (65520 - 4).
	MaxPayload = 65516
	// MaxLine is the largest pkt-line including its length prefix.
	MaxLine = 65520
)

// Special packets.
var (
	Flush       = []byte("0000")
	Delim       = []byte("0001")
	ResponseEnd = []byte("0002")
)

// ErrBadLength is returned for a length prefix that is not valid hex or
// is out of range; the stream cannot be trusted after it.
var ErrBadLength = errors.New("pktline: bad length")

// Kind says what a Reader returned.
type Kind int

const (
	Data Kind = iota
	FlushPkt
	DelimPkt
	ResponseEndPkt
)

// Reader reads pkt-lines. It never reads past the packet it returns, so
// the underlying reader can be handed on (for a pack that follows).
type Reader struct {
	r   io.Reader
	buf [MaxLine]byte
}

// NewReader returns a Reader over r. r should be buffered if it is slow
// to read small amounts; a *bufio.Reader may be shared with what follows.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// Read returns the next packet. The payload is valid until the next call.
// io.EOF is returned only when the stream ends cleanly between packets;
// a stream cut inside a packet is io.ErrUnexpectedEOF.
func (p *Reader) Read() (Kind, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(p.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n, err := parseLength(hdr)
	if err != nil {
		return 0, nil, err
	}
	switch n {
	case 0:
		return FlushPkt, nil, nil
	case 1:
		return DelimPkt, nil, nil
	case 2:
		return ResponseEndPkt, nil, nil
	case 3:
		return 0, nil, fmt.Errorf("%w: %q", ErrBadLength, hdr[:])
	}
	if n > MaxLine {
		return 0, nil, fmt.Errorf("%w: %d", ErrBadLength, n)
	}
	b := p.buf[:n-4]
	if _, err := io.ReadFull(p.r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return Data, b, nil
}

// ReadLine is Read for text lines: the payload without its trailing LF.
func (p *Reader) ReadLine() (Kind, string, error) {
	k, b, err := p.Read()
	if err != nil || k != Data {
		return k, "", err
	}
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	return k, string(b), nil
}

func parseLength(h [4]byte) (int, error) {
	n := 0
	for _, c := range h {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, fmt.Errorf("%w: %q", ErrBadLength, h[:])
		}
		n = n<<4 | int(v)
	}
	return n, nil
}

// Writer writes pkt-lines. Errors stick: after the first failed write,
// every call returns that error, so callers may check once at the end.
type Writer struct {
	w   io.Writer
	err error
	// buf holds the packet being written, so that it goes out in one
	// write; it grows to the largest packet written and is then reused.
	buf []byte
}

// NewWriter returns a Writer over w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Err returns the first write error.
func (p *Writer) Err() error { return p.err }

// Write writes payload as one pkt-line; longer payloads are an error.
func (p *Writer) Write(payload []byte) (int, error) {
	if err := writePacket(p, noBand, payload); err != nil {
		return 0, err
	}
	return len(payload), nil
}

// noBand is the band argument of writePacket for a packet without a
// side-band byte.
const noBand = -1

// writePacket writes one pkt-line: the length, the side-band byte when
// band is not noBand, then payload. One write per packet keeps packets
// whole on the wire.
func writePacket[T []byte | string](p *Writer, band int, payload T) error {
	if p.err != nil {
		return p.err
	}
	n := 4 + len(payload)
	if band != noBand {
		n++
	}
	if n > MaxLine {
		p.err = fmt.Errorf("pktline: payload of %d bytes is too long", n-4)
		return p.err
	}
	const hex = "0123456789abcdef"
	p.buf = append(p.buf[:0], hex[n>>12&15], hex[n>>8&15], hex[n>>4&15], hex[n&15])
	if band != noBand {
		p.buf = append(p.buf, byte(band))
	}
	p.buf = append(p.buf, payload...)
	if _, err := p.w.Write(p.buf); err != nil {
		p.err = err
	}
	return p.err
}

// WriteString writes s as one pkt-line.
func (p *Writer) WriteString(s string) error { return writePacket(p, noBand, s) }

// Linef writes a formatted text line, adding the LF.
func (p *Writer) Linef(format string, args ...any) error {
	return p.WriteString(fmt.Sprintf(format, args...) + "\n")
}

// Flush writes a flush packet.
func (p *Writer) Flush() error { return p.special(Flush) }

// Delim writes a delimiter packet.
func (p *Writer) Delim() error { return p.special(Delim) }

func (p *Writer) special(b []byte) error {
	if p.err != nil {
		return p.err
	}
	if _, err := p.w.Write(b); err != nil {
		p.err = err
	}
	return p.err
}

// Error writes an "ERR msg" packet, which git clients print and die on.
func (p *Writer) Error(msg string) error { return p.Linef("ERR %s", msg) }

// Side-band channels.
const (
	BandData     = 1
	BandProgress = 2
	BandError    = 3
)

// Band is an io.Writer that sends everything written to it on one side-band
// channel, split into packets no larger than max (65520 for side-band-64k,
// 1000 for side-band). Bytes written to a nil *Band are dropped (for quiet
// progress).
type Band struct {
	w       *Writer
	channel byte
	max     int
}

// NewBand returns a Band writing to channel on w with packets of at most
// max bytes in all; max is clamped to what a packet can be, and to at
// least one byte of payload.
func NewBand(w *Writer, channel byte, max int) *Band {
	if max > MaxLine {
		max = MaxLine
	}
	if max < 6 {
		max = 6
	}
	return &Band{w: w, channel: channel, max: max}
}

func (b *Band) Write(p []byte) (int, error) {
	if b == nil {
		return len(p), nil
	}
	n := len(p)
	chunk := b.max - 5
	for len(p) > 0 {
		c := min(len(p), chunk)
		if err := writePacket(b.w, int(b.channel), p[:c]); err != nil {
			return n - len(p), err
		}
		p = p[c:]
	}
	return n, nil
}

// NewBufferedReader is a convenience: pkt-line readers are fed many small
// reads, so wrap the connection once and share the buffer with whatever
// reads the stream after the pkt-lines (a pack).
func NewBufferedReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 64<<10) }

// Clip shortens client text to quote back in an error (an ERR line, a
// fatal message): at most 100 bytes, "..." after a cut, and every byte a
// terminal could act on (controls, DEL and above) shown as '?'.
func Clip(s string) string {
	const n = 100
	b := []byte(s[:min(len(s), n)])
	for i, c := range b {
		if c < ' ' || c >= 0x7f {
			b[i] = '?'
		}
	}
	if len(s) > n {
		return string(b) + "..."
	}
	return string(b)
}
