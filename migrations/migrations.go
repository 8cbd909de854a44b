// Package migrations holds the database schema as numbered SQL files.
//
// Files are named NNNN_what.sql and applied in name order, each once and
// each in its own transaction, by the store that opens the database (see
// keys.Open). A file is never edited once released: a change to the schema
// is a new file.
//
// The same files create the schema on SQLite and on PostgreSQL, so they
// are written in SQL both accept: times are TEXT in RFC 3339 UTC with nine
// fraction digits (fixed width, so they sort and compare as text), flags
// are BOOLEAN (TRUE/FALSE), levels are INTEGER, bytes BLOB; no
// AUTOINCREMENT, triggers or SQLite functions; every statement ends with
// ";". The store rewrites a few types for PostgreSQL (keys/postgres.go):
// "INTEGER PRIMARY KEY" becomes an identity BIGINT (a plain BIGINT when
// REFERENCES follows: another table's id), INTEGER BIGINT, BLOB BYTEA,
// and TEXT compares byte by byte (COLLATE "C").
//
// Upgrades: a database that has migrations to apply is copied first
// (keys.Open); one that records a migration not embedded here was
// upgraded by a newer program, and Pending refuses it (ErrNewer).
package migrations

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
)

// FS holds the migration files at its root.
//
//go:embed *.sql
var FS embed.FS

// ErrNewer reports a database that a newer program migrated: it records
// a migration this one does not have. Using it could lose or misread what
// the newer schema holds, so the program refuses to.
var ErrNewer = errors.New("the database was upgraded by a newer Gatehouse")

// Names lists the embedded migrations in the order they apply.
func Names() []string {
	names, _ := fs.Glob(FS, "*.sql") // the pattern is valid
	sort.Strings(names)
	return names
}

// Pending compares the migrations a database records as applied with the
// embedded ones and returns those still to apply, in order.
//
// Errors: ErrNewer, naming the first applied migration not embedded here.
func Pending(applied []string) ([]string, error) {
	known := Names()
	have := make(map[string]bool, len(applied))
	for _, a := range applied {
		if !slices.Contains(known, a) {
			return nil, fmt.Errorf("%w: it has migration %s, which this version does not know", ErrNewer, a)
		}
		have[a] = true
	}
	var pending []string
	for _, n := range known {
		if !have[n] {
			pending = append(pending, n)
		}
	}
	return pending, nil
}
