package keys

import (
	"context"
	"database/sql"
)

// Snapshot writes a consistent copy of the whole database to the new
// file path with SQLite's VACUUM INTO, while this and other processes go
// on reading and writing: it reads in one transaction (WAL included), so
// the copy is the database as one commit left it, never a mix. The copy
// is compact and self-contained (no -wal file). path must not exist.
//
// It runs on a connection of its own: the read pool is query-only, which
// VACUUM INTO counts as writing, and the one write connection would make
// this process's writers wait for the whole copy.
//
// On PostgreSQL the copy is a SQLite file all the same, written table by
// table from one REPEATABLE READ transaction (CopyTo), so that a backup
// restores and verifies the same way whichever database it came from.
//
// Errors: the path exists or cannot be written (wrapped driver errors).
func (db *DB) Snapshot(ctx context.Context, path string) error {
	if db.Postgres() {
		return db.snapshotPostgres(ctx, path)
	}
	conn, err := sql.Open("sqlite3", dsn(db.Path, false))
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return translate(err, "snapshot into "+path)
	}
	return nil
}
