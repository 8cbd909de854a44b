// Package migrations holds the database schema as numbered SQL files.
//
// Files are named NNNN_what.sql and applied in name order, each once and
// each in its own transaction, by the store that opens the database (see
// keys.Open). A file is never edited once released: a change to the schema
// is a new file.
//
// The SQL stays close to what SQLite and PostgreSQL both accept, so a
// PostgreSQL store can start from the same files: times are TEXT in
// RFC 3339 UTC with nine fraction digits (fixed width, so they sort and
// compare as text), flags are BOOLEAN, levels are INTEGER. The one
// SQLite-ism is "INTEGER PRIMARY KEY" for generated ids.
package migrations

import "embed"

// FS holds the migration files at its root.
//
//go:embed *.sql
var FS embed.FS
