package keys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
)

// sqliteDialect is SQLite through mattn/go-sqlite3: ? is its own
// placeholder, and the migrations are written in its types.
type sqliteDialect struct{}

func (sqliteDialect) name() string               { return "sqlite" }
func (sqliteDialect) rebind(query string) string { return query }
func (sqliteDialect) schema(body string) string  { return body }

// begin relies on the pools' settings (dsn): the write pool's one
// connection begins IMMEDIATE, so write transactions are serialised by
// SQLite's file lock across processes; the read pool's begin deferred and
// see one snapshot of the WAL.
func (sqliteDialect) begin(ctx context.Context, pool *sql.DB, readOnly bool) (*sql.Tx, error) {
	return pool.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
}

func (sqliteDialect) tableExists(ctx context.Context, pool *sql.DB, table string) (bool, error) {
	var n int64
	err := pool.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n)
	return n > 0, err
}

func openSQLite(path string) (*DB, error) {
	// Each pool would get its own in-memory database, so the two would
	// not see each other's writes.
	if path == "" || path == ":memory:" {
		return nil, errors.New("database path required (an in-memory database is not supported)")
	}
	d := sqliteDialect{}
	db := &DB{d: d, q: &rebound{d: d}, Path: path, Dir: filepath.Dir(path), Name: path, Now: time.Now}
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
	if err := retryBusy(func() error { return db.prepareUpgrade(context.Background()) }); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := retryBusy(func() error { return db.migrate(context.Background()) }); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	if err := db.read.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// sqliteCacheKiB bounds each connection's page cache.
const sqliteCacheKiB = 512

// dsn builds a go-sqlite3 data source name. The settings go here rather
// than in a PRAGMA because the pool opens connections on its own and each
// must get them.
func dsn(path string, readOnly bool) string {
	v := url.Values{}
	v.Set("_journal_mode", "WAL")
	v.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
	v.Set("_foreign_keys", "on")
	// SQLite's page cache is 2 MiB per connection by default, kept until
	// the connection closes; a push of 20,000 refs writes as many audit
	// entries and fills it. The database is small and the kernel caches
	// its file anyway, so a quarter of that is plenty.
	v.Set("_cache_size", fmt.Sprint(-sqliteCacheKiB))
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

// retryBusy runs f, again while SQLite reports the database busy, for up
// to busyTimeout. On a new file, connections opened by several processes
// at once race to switch it to WAL, and SQLite reports the loser busy at
// once instead of waiting out the busy timeout; that can happen at the
// first statement (prepareUpgrade's) or a later one (migrate's). Both
// are safe to repeat.
func retryBusy(f func() error) error {
	deadline := time.Now().Add(busyTimeout)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err := f()
		var se sqlite3.Error
		if err == nil || !errors.As(err, &se) || se.Code != sqlite3.ErrBusy || time.Now().After(deadline) {
			return err
		}
		time.Sleep(wait)
	}
}

// translateSQLite is translate for SQLite's errors, chosen by the
// extended result code (message text changes between SQLite versions).
func translateSQLite(se sqlite3.Error, err error, subject string) error {
	switch se.ExtendedCode {
	case sqlite3.ErrConstraintUnique, sqlite3.ErrConstraintPrimaryKey:
		return errUnique(subject)
	case sqlite3.ErrConstraintForeignKey:
		return errForeignKey(subject)
	case sqlite3.ErrConstraintNotNull, sqlite3.ErrConstraintCheck:
		return errField(subject)
	}
	switch se.Code {
	case sqlite3.ErrBusy, sqlite3.ErrLocked:
		return errBusy(subject, err)
	}
	return fmt.Errorf("%s: %w", subject, err)
}
