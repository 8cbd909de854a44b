package migrations_test

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gatehouse/migrations"
)

// The store applies files in name order, so names must sort in the order
// they were written: four digits, no gaps, no two files with one number.
func TestNames(t *testing.T) {
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no migrations embedded")
	}
	re := regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)
	for i, name := range names {
		m := re.FindStringSubmatch(name)
		if m == nil {
			t.Errorf("%s: name must match %s", name, re)
			continue
		}
		if want := fmt.Sprintf("%04d", i+1); m[1] != want {
			t.Errorf("%s: number %s, want %s (gap or duplicate)", name, m[1], want)
		}
	}
}

// Pending lists what a database lacks, in order, and refuses one that
// records a migration this program does not have.
func TestPending(t *testing.T) {
	names := migrations.Names()
	if len(names) < 2 || !slices.IsSorted(names) {
		t.Fatalf("names: %v", names)
	}
	got, err := migrations.Pending(names[:1])
	if err != nil || !slices.Equal(got, names[1:]) {
		t.Fatalf("pending after the first: %v, %v", got, err)
	}
	if got, err := migrations.Pending(names); err != nil || len(got) != 0 {
		t.Fatalf("pending after all: %v, %v", got, err)
	}
	_, err = migrations.Pending(append(slices.Clone(names), "9999_from_the_future.sql"))
	if !errors.Is(err, migrations.ErrNewer) || !strings.Contains(err.Error(), "9999_from_the_future.sql") {
		t.Fatalf("a newer database: %v", err)
	}
}
