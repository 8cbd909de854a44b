package bitmap

import (
	"encoding/binary"
	"testing"
)

// ewah serializes words as an EWAH bitmap of nbits bits.
func ewah(nbits uint32, words ...uint64) []byte {
	b := binary.BigEndian.AppendUint32(nil, nbits)
	b = binary.BigEndian.AppendUint32(b, uint32(len(words)))
	for _, w := range words {
		b = binary.BigEndian.AppendUint64(b, w)
	}
	return binary.BigEndian.AppendUint32(b, 0)
}

// rlw builds a run-length word.
func rlw(bit uint64, run, lits uint64) uint64 { return bit | run<<1 | lits<<33 }

func TestDecodeEWAH(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		data  []byte
		want  []int // bits set
		fails bool
	}{
		{name: "empty", n: 10, data: ewah(10), want: nil},
		{name: "literal", n: 70, data: ewah(70, rlw(0, 0, 2), 1<<3|1<<63, 1<<5), want: []int{3, 63, 69}},
		{name: "run of ones then literal", n: 130, data: ewah(130, rlw(1, 2, 1), 1), want: append(seq(0, 128), 128)},
		{name: "run of zeros", n: 200, data: ewah(200, rlw(0, 3, 1), 1<<7), want: []int{199}},
		{name: "two groups", n: 192, data: ewah(192, rlw(0, 1, 1), 2, rlw(0, 0, 1), 4), want: []int{65, 130}},
		{name: "bit beyond the pack", n: 60, data: ewah(60, rlw(0, 0, 1), 1<<62), fails: true},
		{name: "word beyond the pack", n: 60, data: ewah(60, rlw(0, 1, 1), 1), fails: true},
		{name: "literals beyond the bitmap", n: 640, data: ewah(640, rlw(0, 0, 5), 1), fails: true},
		{name: "truncated", n: 64, data: ewah(64, rlw(0, 0, 1), 1)[:12], fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := decodeEWAH(tt.data, 0, tt.n)
			if tt.fails {
				if err == nil {
					t.Fatal("decoded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			s.Each(func(b int) { got = append(got, b) })
			if len(got) != len(tt.want) {
				t.Fatalf("bits %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("bits %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestEWAHRoundTrip(t *testing.T) {
	full := ^uint64(0)
	tests := []struct {
		name  string
		n     int
		words []uint64
	}{
		{"empty", 100, []uint64{0, 0}},
		{"zero objects", 0, nil},
		{"one literal", 64, []uint64{5}},
		{"runs and literals", 64 * 7, []uint64{full, full, 3, 0, 0, 7, full}},
		{"trailing zeros", 64 * 4, []uint64{1, 0, 0, 0}},
		{"partial last word", 70, []uint64{full, 0x3f}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSet(tt.n)
			copy(s, tt.words)
			enc := appendEWAH(nil, s)
			end, err := ewahEnd(enc, 0)
			if err != nil || end != len(enc) {
				t.Fatalf("end %d of %d, %v", end, len(enc), err)
			}
			got, err := decodeEWAH(enc, 0, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			for i := range s {
				if got[i] != s[i] {
					t.Fatalf("word %d: %x, want %x", i, got[i], s[i])
				}
			}
		})
	}
}
