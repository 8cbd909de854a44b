package migrations_test

import (
	"fmt"
	"io/fs"
	"regexp"
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
