package pktline_test

import (
	"strings"
	"testing"
	"time"

	"gatehouse/repos/pktline"
)

// Running lines wait an interval; final lines and Printf do not, and
// each line is flushed.
func TestProgress(t *testing.T) {
	var b strings.Builder
	flushes := 0
	p := pktline.NewProgress(&b, time.Hour, func() error { flushes++; return nil })
	p.Percent("Resolving deltas", 1, 4)
	p.Count("Enumerating objects", 3)
	p.PercentDone("Resolving deltas", 4, 4, "done.")
	p.CountDone("Enumerating objects", 3)
	p.Printf("Total %d\n", 3)
	want := "Resolving deltas: 100% (4/4), done.\nEnumerating objects: 3, done.\nTotal 3\n"
	if b.String() != want || flushes != 3 {
		t.Errorf("wrote %q with %d flushes, want %q with 3", b.String(), flushes, want)
	}

	b.Reset()
	p = pktline.NewProgress(&b, 0, nil)
	p.Percent("Writing objects", 1, 4)
	p.Count("Enumerating objects", 3)
	p.PercentDone("Writing objects", 0, 0, "done.")
	want = "Writing objects:  25% (1/4)\rEnumerating objects: 3\rWriting objects: 100% (0/0), done.\n"
	if b.String() != want {
		t.Errorf("wrote %q, want %q", b.String(), want)
	}

	// Without a writer, quiet.
	p = pktline.NewProgress(nil, 0, nil)
	p.Percent("Writing objects", 1, 4)
	p.CountDone("Enumerating objects", 3)
	p.Printf("Total\n")
}
