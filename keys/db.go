// Package keys is the SQLite store behind the root service interfaces:
// users, their public keys, repository metadata, grants and the audit log.
// SQL lives here and nowhere else; driver errors are translated here into
// the root sentinels.
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
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"gatehouse/migrations"
)

// busyTimeout is how long a statement waits for a lock held by another
// connection, typically the admin CLI and the server sharing one file.
const busyTimeout = 5 * time.Second

// DB is an open SQLite database with the schema migrated.
//
// It holds two pools on the same file. Writes go through one connection
// whose transactions start with BEGIN IMMEDIATE: SQLite's write lock is
// taken up front, waiting up to busyTimeout for other processes, instead of
// failing with SQLITE_BUSY when a transaction that has read tries to write.
// The single connection also queues this process's writers in Go rather
// than in SQLite's sleeping busy handler. Read-only transactions use a
// separate pool of deferred, query-only connections; in WAL mode they never
// wait for writers.
type DB struct {
	write *sql.DB
	read  *sql.DB

	// Path is the database file.
	Path string
	// Now returns the current time. Tests replace it; set it before the
	// DB is shared between goroutines.
	Now func() time.Time

	// Upgraded lists the migrations Open applied to an existing
	// database, and Backup the copy it took before (see prepareUpgrade).
	Upgraded []string
	Backup   string
}

// Open opens (creating if needed) the database file at path and applies
// any migrations it has not seen yet, after copying an existing database
// that has some to apply; it refuses one a newer program migrated
// (migrations.ErrNewer). Other processes may have the same
// file open; the migration step tolerates them doing the same at once.
func Open(path string) (*DB, error) {
	// Each pool would get its own in-memory database, so the two would
	// not see each other's writes.
	if path == "" || path == ":memory:" {
		return nil, errors.New("database path required (an in-memory database is not supported)")
	}
	db := &DB{Path: path, Now: time.Now}
	var err error
	if db.write, err = sql.Open("sqlite3", dsn(path, false)); err != nil {
		return nil, err
	}
	db.write.SetMaxOpenConns(1)
	if db.read, err = sql.Open("sqlite3", dsn(path, true)); err != nil {
		db.write.Close()
		return nil, err
	}
	// The write pool goes first: it creates the file and switches it to
	// WAL before any query-only connection could be asked to.
	if err := db.prepareUpgrade(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.migrateRetry(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	if err := db.read.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// dsn builds a go-sqlite3 data source name. The settings go here rather
// than in a PRAGMA because the pool opens connections on its own and each
// must get them.
func dsn(path string, readOnly bool) string {
	v := url.Values{}
	v.Set("_journal_mode", "WAL")
	v.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
	v.Set("_foreign_keys", "on")
	if readOnly {
		v.Set("_query_only", "on")
		v.Set("_txlock", "deferred")
	} else {
		v.Set("_txlock", "immediate")
	}
	// As a file: URI the path may hold characters that would otherwise
	// start the query string.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?" + v.Encode()
}

// Close closes both pools.
func (db *DB) Close() error {
	var errs []error
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	if db.write != nil {
		errs = append(errs, db.write.Close())
	}
	return errors.Join(errs...)
}

// Tx is a transaction that knows the time it started, so that every row it
// touches gets the same timestamp.
type Tx struct {
	*sql.Tx
	now time.Time
}

// BeginTx starts a transaction: on the read pool when opts.ReadOnly is set,
// otherwise on the write connection.
func (db *DB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	pool := db.write
	if opts != nil && opts.ReadOnly {
		pool = db.read
	}
	tx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, translate(err, "begin transaction")
	}
	// Round(0) drops the monotonic reading so that the times handed back
	// equal the ones read from the database later.
	return &Tx{Tx: tx, now: db.Now().UTC().Round(0)}, nil
}

// readOnly is the option for transactions that only read.
var readOnly = &sql.TxOptions{ReadOnly: true}

// migrateRetry runs migrate, retrying while the database is busy. On a
// new file, connections opened by several processes at once race to switch
// it to WAL, and SQLite reports the loser busy at once instead of waiting
// out the busy timeout. migrate is safe to repeat.
func (db *DB) migrateRetry(ctx context.Context) error {
	deadline := time.Now().Add(busyTimeout)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err := db.migrate(ctx)
		var se sqlite3.Error
		if err == nil || !errors.As(err, &se) || se.Code != sqlite3.ErrBusy || time.Now().After(deadline) {
			return err
		}
		time.Sleep(wait)
	}
}

// migrate applies the embedded migrations in name order, each in its own
// transaction together with its row in schema_migrations.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name       TEXT PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`); err != nil {
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
	var n int
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
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
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
