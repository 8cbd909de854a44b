package keys

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"gatehouse"
	"gatehouse/migrations"
)

// TableCount is how many rows of one table a copy moved.
type TableCount struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
}

// copyBatch bounds the values in one INSERT of a copy, well under both
// databases' limits on parameters per statement.
const copyBatch = 4000

// CopyTo copies every table of db (but schema_migrations) into to, which
// must be at the same migration and hold no rows, and returns the rows
// per table. It reads db in one read-only transaction, so the copy is one
// moment of a database that others may go on writing, and writes to in one
// transaction, so a failed copy leaves it empty. Tables go in foreign key
// order, in batches; on PostgreSQL the identity sequences are set past the
// copied ids. Each table's row count in the target is checked against the
// source's before the commit.
//
// It is how a SQLite installation moves to PostgreSQL (gatehouse
// migrate-db) and how a PostgreSQL database is snapshotted into a SQLite
// file for a backup (Snapshot).
//
// Errors: gatehouse.ErrConflict if to holds any row (nothing is
// changed); gatehouse.ErrInvalid if either side is not at this program's
// schema; wrapped database errors.
func (db *DB) CopyTo(ctx context.Context, to *DB) ([]TableCount, error) {
	if db.Postgres() && to.Postgres() {
		return nil, fmt.Errorf("copy between two PostgreSQL databases: use pg_dump: %w", gatehouse.ErrInvalid)
	}
	src, err := db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer src.Rollback()
	dst, err := to.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer dst.Rollback()

	// The table list comes from the SQLite side, which has one.
	lite := src
	if db.Postgres() {
		lite = dst
	}
	tables, err := sqliteTables(ctx, lite)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	for _, tx := range []*Tx{src, dst} {
		if err := sameMigrations(ctx, tx); err != nil {
			return nil, err
		}
	}
	for _, t := range tables {
		var n int64
		if err := dst.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t.name).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s in %s: %w", t.name, to.Name, err)
		}
		if n > 0 {
			return nil, fmt.Errorf("%s is not empty (table %s has %d rows); copy only into a new database: %w", to.Name, t.name, n, gatehouse.ErrConflict)
		}
	}
	var counts []TableCount
	for _, t := range tables {
		n, err := copyTable(ctx, src, dst, to.d, t)
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", t.name, err)
		}
		var want, got int64
		if err := src.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t.name).Scan(&want); err != nil {
			return nil, err
		}
		if err := dst.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t.name).Scan(&got); err != nil {
			return nil, err
		}
		if n != want || got != want {
			return nil, fmt.Errorf("copy %s: %d rows in the source, %d copied, %d in the target", t.name, want, n, got)
		}
		counts = append(counts, TableCount{Table: t.name, Rows: n})
	}
	if to.Postgres() {
		if err := resetIdentities(ctx, dst); err != nil {
			return nil, err
		}
	}
	if err := dst.Commit(); err != nil {
		return nil, translate(err, "copy into "+to.Name)
	}
	return counts, nil
}

// sameMigrations checks that tx's database records exactly this
// program's migrations, so that the two sides of a copy have one schema.
func sameMigrations(ctx context.Context, tx *Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var applied []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		applied = append(applied, name)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if !slices.Equal(applied, migrations.Names()) {
		return fmt.Errorf("the database has migrations %v, this program %v: %w", applied, migrations.Names(), gatehouse.ErrInvalid)
	}
	return nil
}

// table is one table to copy: its name, columns and the tables its
// foreign keys refer to.
type table struct {
	name string
	cols []string
	refs []string
}

// sqliteTables lists the store's tables of a SQLite database, every
// table after the ones it refers to.
func sqliteTables(ctx context.Context, tx *Tx) ([]table, error) {
	names, err := queryList(ctx, tx, `SELECT name FROM sqlite_master
		WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name <> 'schema_migrations' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var all []table
	for _, n := range names {
		t := table{name: n}
		if t.cols, err = queryList(ctx, tx, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, n); err != nil {
			return nil, err
		}
		if t.refs, err = queryList(ctx, tx, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`, n); err != nil {
			return nil, err
		}
		all = append(all, t)
	}
	// Kahn's algorithm, by name among the tables ready at each step.
	var order []table
	done := map[string]bool{}
	for len(order) < len(all) {
		progress := false
		for _, t := range all {
			if done[t.name] {
				continue
			}
			ready := true
			for _, r := range t.refs {
				if r != t.name && !done[r] {
					ready = false
				}
			}
			if ready {
				order = append(order, t)
				done[t.name] = true
				progress = true
			}
		}
		if !progress {
			return nil, errors.New("foreign keys refer in a cycle")
		}
	}
	return order, nil
}

func queryList(ctx context.Context, tx *Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// copyTable copies the rows of t from src to dst in batches of
// multi-row INSERTs and returns how many it copied.
func copyTable(ctx context.Context, src, dst *Tx, d dialect, t table) (int64, error) {
	cols := strings.Join(t.cols, ", ")
	rows, err := src.QueryContext(ctx, `SELECT `+cols+` FROM `+t.name)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	perRow := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(t.cols)), ", ") + ")"
	batch := max(1, copyBatch/len(t.cols))
	var n int64
	var args []any
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		k := len(args) / len(t.cols)
		q := `INSERT INTO ` + t.name + ` (` + cols + `) VALUES ` + strings.TrimSuffix(strings.Repeat(perRow+", ", k), ", ")
		// Not through Tx's cache: the last batch of each table has a
		// shape of its own.
		if _, err := dst.Tx.ExecContext(ctx, d.rebind(q), args...); err != nil {
			return err
		}
		n += int64(k)
		args = args[:0]
		return nil
	}
	vals := make([]any, len(t.cols))
	ptrs := make([]any, len(t.cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		args = append(args, slices.Clone(vals)...)
		if len(args) >= batch*len(t.cols) {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// resetIdentities moves each identity column's sequence past the largest
// id copied, so that the next row inserted gets a new one.
func resetIdentities(ctx context.Context, tx *Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND is_identity = 'YES'`)
	if err != nil {
		return err
	}
	var ids [][2]string
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, [2]string{t, c})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		t, c := id[0], id[1]
		if _, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence(?, ?), COALESCE((SELECT MAX(`+c+`) FROM `+t+`), 0) + 1, false)`, t, c); err != nil {
			return fmt.Errorf("set the next id of %s: %w", t, err)
		}
	}
	return nil
}

// snapshotPostgres writes db, a PostgreSQL database, into a new SQLite
// file at path, table by table from one REPEATABLE READ transaction.
func (db *DB) snapshotPostgres(ctx context.Context, path string) (err error) {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("snapshot into %s: %w", path, os.ErrExist)
	}
	lite, err := openSQLite(path)
	if err != nil {
		return fmt.Errorf("snapshot into %s: %w", path, err)
	}
	defer func() {
		if cerr := lite.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(path + suffix)
			}
		}
	}()
	if _, err := db.CopyTo(ctx, lite); err != nil {
		return fmt.Errorf("snapshot into %s: %w", path, err)
	}
	// A self-contained file, as VACUUM INTO makes: no WAL to go with it.
	// Leaving WAL takes the only connection.
	if err := lite.read.Close(); err != nil {
		return err
	}
	lite.read = nil
	if _, err := lite.write.ExecContext(ctx, `PRAGMA journal_mode = DELETE`); err != nil {
		return fmt.Errorf("snapshot into %s: %w", path, err)
	}
	return nil
}
