// Package keys is the SQL store behind the root service interfaces:
// users, their public keys, repository metadata, grants and the audit log,
// in SQLite (the default: one file in the data folder) or PostgreSQL (for
// several nodes sharing one database). SQL lives here and nowhere else, one
// set of queries for both; the few differences are in the dialect
// (dialect.go, sqlite.go, postgres.go). Driver errors are translated here
// into the root sentinels.
//
// Times are stored as TEXT, RFC 3339 in UTC with exactly nine fraction
// digits, so that they compare and sort correctly as strings.
package keys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gatehouse"
	"gatehouse/migrations"
)

// busyTimeout is how long a statement waits for a lock held by another
// connection, typically the admin CLI and the server sharing one file,
// or another node writing to the same PostgreSQL database.
const busyTimeout = 5 * time.Second

// DB is an open database with the schema migrated.
//
// It holds two pools. On SQLite both are on the same file: writes go
// through one connection whose transactions start with BEGIN IMMEDIATE:
// SQLite's write lock is taken up front, waiting up to busyTimeout for
// other processes, instead of failing with SQLITE_BUSY when a transaction
// that has read tries to write. The single connection also queues this
// process's writers in Go rather than in SQLite's sleeping busy handler.
// Read-only transactions use a separate pool of deferred, query-only
// connections; in WAL mode they never wait for writers. On PostgreSQL
// the two are one pool, and write transactions are serialised across
// every process on the database by an advisory lock (see postgres.go),
// so the store keeps SQLite's one-writer-at-a-time guarantee.
type DB struct {
	write *sql.DB
	read  *sql.DB
	d     dialect
	q     *rebound

	// Path is the SQLite database file; empty on PostgreSQL.
	Path string
	// Dir is the data folder: the key blocklist and the webhook marker
	// live there, shared by every process on it.
	Dir string
	// Name says which database this is, for messages: the file, or the
	// PostgreSQL URL without its password.
	Name string
	// Now returns the current time. Tests replace it; set it before the
	// DB is shared between goroutines.
	Now func() time.Time

	// Upgraded lists the migrations Open applied to an existing
	// database, and Backup the copy it took before (see prepareUpgrade;
	// SQLite only).
	Upgraded []string
	Backup   string
}

// Open opens (creating if needed) the SQLite database file at path and
// applies any migrations it has not seen yet, after copying an existing
// database that has some to apply; it refuses one a newer program
// migrated (migrations.ErrNewer). Other processes may have the same file
// open; the migration step tolerates them doing the same at once. The
// data folder is the file's folder.
func Open(path string) (*DB, error) {
	return openSQLite(path)
}

// OpenURL opens the database named by url for the data folder dir:
// empty for the SQLite file dir/gatehouse.db, "sqlite:PATH" for another
// SQLite file, "postgres://..." or "postgresql://..." for PostgreSQL
// (any URL or key=value string pgx accepts after that prefix). Like Open,
// it applies the migrations, on PostgreSQL under a lock so that nodes
// starting together apply each once.
func OpenURL(dir, url string) (*DB, error) {
	switch {
	case url == "":
		return openSQLite(filepath.Join(dir, "gatehouse.db"))
	case strings.HasPrefix(url, "sqlite:"):
		return openSQLite(strings.TrimPrefix(url, "sqlite:"))
	case IsPostgresURL(url):
		return openPostgres(dir, url)
	}
	return nil, fmt.Errorf("database %q: want empty (SQLite in the data folder), sqlite:PATH or postgres://...: %w", RedactURL(url), gatehouse.ErrInvalid)
}

// IsPostgresURL reports whether url names a PostgreSQL database.
func IsPostgresURL(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// Postgres reports whether db is on PostgreSQL.
func (db *DB) Postgres() bool { return db.d.name() == "postgres" }

// Close closes both pools.
func (db *DB) Close() error {
	var errs []error
	if db.read != nil && db.read != db.write {
		errs = append(errs, db.read.Close())
	}
	if db.write != nil {
		errs = append(errs, db.write.Close())
	}
	return errors.Join(errs...)
}

// BeginTx starts a transaction: a read-only one when opts.ReadOnly is
// set (on SQLite's read pool), otherwise a write transaction, serialised
// with every other writer on the database.
func (db *DB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	ro := opts != nil && opts.ReadOnly
	pool := db.write
	if ro {
		pool = db.read
	}
	tx, err := db.d.begin(ctx, pool, ro)
	if err != nil {
		return nil, translate(err, "begin transaction")
	}
	// Round(0) drops the monotonic reading so that the times handed back
	// equal the ones read from the database later.
	return &Tx{Tx: tx, now: db.Now().UTC().Round(0), q: db.q}, nil
}

// readOnly is the option for transactions that only read.
var readOnly = &sql.TxOptions{ReadOnly: true}

// migrate applies the embedded migrations in name order, each in its own
// transaction together with its row in schema_migrations.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.write.ExecContext(ctx, db.d.schema(`CREATE TABLE IF NOT EXISTS schema_migrations (
		name       TEXT PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`)); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := db.migrateFile(ctx, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func (db *DB) migrateFile(ctx context.Context, name string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	// Checked inside the transaction: another process opening the same
	// file may have applied it while this one waited for the lock.
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	body, err := fs.ReadFile(migrations.FS, name)
	if err != nil {
		return err
	}
	// Through sql.Tx, not Tx: a migration has no placeholders to rebind,
	// and a ? in its text must stay one.
	if _, err := tx.Tx.ExecContext(ctx, db.d.schema(string(body))); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`,
		name, formatTime(tx.now)); err != nil {
		return err
	}
	return tx.Commit()
}

// timeLayout is RFC 3339 with a fixed-width fraction: unlike RFC3339Nano,
// which drops trailing zeros, it keeps string order equal to time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// formatNullTime maps nil to NULL.
func formatNullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

func parseTime(v any) (time.Time, error) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	case time.Time:
		// Only if someone declared the column as a date type.
		return v.UTC(), nil
	default:
		return time.Time{}, fmt.Errorf("time column holds %T", v)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// timeDest scans a TEXT time column into *t.
type timeDest struct{ t *time.Time }

func (d timeDest) Scan(v any) (err error) {
	*d.t, err = parseTime(v)
	return err
}

// nullTimeDest scans a nullable TEXT time column into *t, nil for NULL.
type nullTimeDest struct{ t **time.Time }

func (d nullTimeDest) Scan(v any) error {
	if v == nil {
		*d.t = nil
		return nil
	}
	t, err := parseTime(v)
	if err != nil {
		return err
	}
	*d.t = &t
	return nil
}

// execOne runs a statement that must change exactly one row, such as
// removing a grant: driver errors are translated with subject, and a
// statement that changed nothing returns notFound.
func execOne(ctx context.Context, tx *Tx, subject string, notFound error, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return translate(err, subject)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound
	}
	return nil
}
