package commitgraph

// The fuzz target lives inside the package so that it can parse and
// encode in memory: through files, each input costs a write and an
// fsync, and the fuzzer spends its time minimizing at a crawl.

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// FuzzOpen feeds damaged graphs to the parser Open uses. What it accepts
// must look up consistently and survive being written back.
//
// Every graph is over 1 KiB (the fanout alone), and minimizing an input
// that size takes the fuzzer's full minute; run it with
// -fuzzminimizetime=3s or so.
func FuzzOpen(f *testing.F) {
	// testdata/commit-graph is git's own, for a history with merges,
	// octopus merges and generation v2 data.
	seed, err := os.ReadFile("testdata/commit-graph")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	ours, err := encode([]Commit{
		{ID: plumbing.NewHash("01"), When: 1},
		{ID: plumbing.NewHash("02"), When: 2, Parents: []plumbing.Hash{plumbing.NewHash("01")}},
		{ID: plumbing.NewHash("f3"), When: 3, Parents: []plumbing.Hash{plumbing.NewHash("01")}},
		{ID: plumbing.NewHash("a4"), When: 1 << 33, Parents: []plumbing.Hash{
			plumbing.NewHash("02"), plumbing.NewHash("f3"), plumbing.NewHash("01"),
		}},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ours)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, data)
		// Most mutations break the checksum; mend it so that the chunk
		// checks see the damage too.
		if len(data) > hashSize {
			data = bytes.Clone(data)
			sum := sha1.Sum(data[:len(data)-hashSize])
			copy(data[len(data)-hashSize:], sum[:])
			checkParse(t, data)
		}
	})
}

func checkParse(t *testing.T, data []byte) {
	g, err := parseFile(data)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNone) {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	var cs []Commit
	for c := range g.All() {
		got, ok := g.Lookup(c.ID)
		if !ok || got.ID != c.ID || !slices.Equal(got.Parents, c.Parents) {
			t.Fatalf("Lookup(%s) = %+v, %v; All gave %+v", c.ID, got, ok, c)
		}
		cs = append(cs, c)
	}
	if len(cs) != g.Len() {
		t.Fatalf("All gave %d commits, Len %d", len(cs), g.Len())
	}
	// Write refuses cycles, which a damaged file may hold.
	out, err := encode(cs)
	if err != nil {
		return
	}
	g2, err := parseFile(out)
	if err != nil {
		t.Fatalf("reading back: %v", err)
	}
	for _, c := range cs {
		got, ok := g2.Lookup(c.ID)
		if !ok || got.Tree != c.Tree || got.When != c.When || !slices.Equal(got.Parents, c.Parents) {
			t.Fatalf("written %+v, read back %+v", c, got)
		}
	}
}
