package keys

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gatehouse/migrations"
)

// prepareUpgrade runs before the migrations: it refuses a database a
// newer program migrated (migrations.ErrNewer), and when an existing
// SQLite database has migrations to apply, copies it first, whole and
// consistent (VACUUM INTO, which reads through the WAL), to
// PATH.before-NNNN-TIME, NNNN the first migration to apply. Upgraded
// then lists the migrations to apply and Backup names the copy.
//
// On PostgreSQL there is no file to copy: the operator's own backup of
// the database (pg_dump) is the copy, and Backup stays empty.
func (db *DB) prepareUpgrade(ctx context.Context) error {
	exists, err := db.d.tableExists(ctx, db.write, "schema_migrations")
	if err != nil {
		return err
	}
	var applied []string
	if exists {
		rows, err := db.write.QueryContext(ctx, `SELECT name FROM schema_migrations ORDER BY name`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return err
			}
			applied = append(applied, name)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	pending, err := migrations.Pending(applied)
	if err != nil {
		if db.Postgres() {
			return fmt.Errorf("%w; run that version or a later one, or restore the database from your backup of it", err)
		}
		return fmt.Errorf("%w; run that version or a later one, or restore the copy of the database taken before that upgrade (%s.before-*)", err, db.Path)
	}
	if len(applied) == 0 || len(pending) == 0 {
		return nil // a new database, or nothing to do
	}
	db.Upgraded = pending
	if db.Postgres() {
		return nil
	}
	first, _, _ := strings.Cut(pending[0], "_")
	backup := fmt.Sprintf("%s.before-%s-%s", db.Path, first, time.Now().UTC().Format("20060102T150405.000000000Z"))
	if _, err := db.write.ExecContext(ctx, `VACUUM INTO ?`, backup); err != nil {
		db.Upgraded = nil
		return fmt.Errorf("copy the database before upgrading it: %w", err)
	}
	db.Backup = backup
	return nil
}
