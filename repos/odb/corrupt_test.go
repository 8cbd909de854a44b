package odb_test

import (
	"errors"
	"fmt"
	"testing"

	"gatehouse/repos/odb"
)

// A package's own corruption sentinel reads as its own words and matches
// both itself and odb.ErrCorrupt, not another package's.
func TestCorruptKind(t *testing.T) {
	pack := odb.CorruptKind("corrupt pack")
	graph := odb.CorruptKind("commitgraph: corrupt")
	err := fmt.Errorf("%w: cut short at 12 bytes", pack)
	if got := err.Error(); got != "corrupt pack: cut short at 12 bytes" {
		t.Errorf("message %q", got)
	}
	if !errors.Is(err, pack) || !errors.Is(err, odb.ErrCorrupt) {
		t.Errorf("%v does not match its sentinel and odb.ErrCorrupt", err)
	}
	if errors.Is(err, graph) || errors.Is(odb.ErrCorrupt, pack) {
		t.Error("kinds of corruption match each other")
	}
}
