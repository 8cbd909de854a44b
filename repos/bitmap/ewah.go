package bitmap

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

func bitsTrailing(w uint64) int { return bits.TrailingZeros64(w) }

// An EWAH bitmap is serialized as: the number of bits (uint32), the
// number of 64-bit words (uint32), the words, and the position of the
// last run-length word (uint32), all big-endian. The words are groups of
// one run-length word followed by literal words: the run-length word's
// bit 0 is the bit of the run, bits 1-32 its length in words, bits 33-63
// the number of literal words after it.

// ewahEnd returns the offset just after the EWAH bitmap at p.
func ewahEnd(d []byte, p int) (int, error) {
	if p+8 > len(d) {
		return 0, errors.New("truncated bitmap")
	}
	words := int(binary.BigEndian.Uint32(d[p+4:]))
	end := p + 8 + 8*words + 4
	if words < 0 || words > len(d)/8 || end > len(d) {
		return 0, errors.New("truncated bitmap")
	}
	return end, nil
}

// decodeEWAH expands the EWAH bitmap at p into a Set of n bits. Bits
// beyond n are an error: they would name objects the pack lacks.
func decodeEWAH(d []byte, p, n int) (Set, error) {
	if _, err := ewahEnd(d, p); err != nil {
		return nil, err
	}
	words := int(binary.BigEndian.Uint32(d[p+4:]))
	s := NewSet(n)
	w := 0 // next word of s
	put := func(v uint64) error {
		if w >= len(s) {
			if v != 0 {
				return errors.New("bits beyond the pack")
			}
			w++
			return nil
		}
		s[w] = v
		w++
		return nil
	}
	q := p + 8
	for i := 0; i < words; {
		rlw := binary.BigEndian.Uint64(d[q+8*i:])
		i++
		run := int(rlw >> 1 & 0xffffffff)
		lits := int(rlw >> 33)
		var fill uint64
		if rlw&1 != 0 {
			fill = ^uint64(0)
		}
		if run > len(s)-w+1 && fill != 0 {
			return nil, errors.New("run beyond the pack")
		}
		if fill == 0 {
			w += run
		} else {
			for range run {
				if err := put(fill); err != nil {
					return nil, err
				}
			}
		}
		if lits > words-i {
			return nil, errors.New("literal words beyond the bitmap")
		}
		for range lits {
			if err := put(binary.BigEndian.Uint64(d[q+8*i:])); err != nil {
				return nil, err
			}
			i++
		}
	}
	if r := n % 64; r != 0 && len(s) > 0 && s[len(s)-1]>>r != 0 {
		return nil, errors.New("bits beyond the pack")
	}
	return s, nil
}
