package keys

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
	"time"
)

// dialect is what differs between the databases the store runs on. The
// queries are one set, written for both with ? placeholders; the dialect
// rebinds them, rewrites the migrations' column types and starts
// transactions with the locking the store relies on. Driver errors are
// told apart by their type (see translate).
type dialect interface {
	// name is "sqlite" or "postgres".
	name() string
	// rebind turns a query written with ? placeholders into the
	// database's own. Called once per query text (see Tx).
	rebind(query string) string
	// schema rewrites a migration file for the database.
	schema(body string) string
	// begin starts a transaction on pool: read-only ones see one
	// snapshot; write transactions are serialised (see each dialect).
	begin(ctx context.Context, pool *sql.DB, readOnly bool) (*sql.Tx, error)
	// tableExists reports whether the table exists, outside a
	// transaction.
	tableExists(ctx context.Context, pool *sql.DB, table string) (bool, error)
}

// rebound caches rebind per dialect and query text: the queries are
// string constants (and a few built from constants), so the cache stays
// as small as the program's set of queries.
type rebound struct {
	d     dialect
	cache sync.Map // query string -> rebound string
}

func (r *rebound) get(query string) string {
	if v, ok := r.cache.Load(query); ok {
		return v.(string)
	}
	q := r.d.rebind(query)
	r.cache.Store(query, q)
	return q
}

// numberPlaceholders replaces each ? outside string literals, quoted
// identifiers and comments with $1, $2, ... in order.
func numberPlaceholders(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			// To the closing quote; a doubled quote inside is an escaped
			// one and simply closes and reopens.
			j := strings.IndexByte(query[i+1:], c)
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j+2])
			i += j + 1
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j+1])
			i += j
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Tx is a transaction that knows the time it started, so that every row it
// touches gets the same timestamp. Its ExecContext, QueryContext,
// QueryRowContext and PrepareContext take queries written with ?
// placeholders, whichever the database.
type Tx struct {
	*sql.Tx
	now time.Time
	q   *rebound
}

// ExecContext is sql.Tx's with the query rebound for the database.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.Tx.ExecContext(ctx, tx.q.get(query), args...)
}

// QueryContext is sql.Tx's with the query rebound for the database.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.Tx.QueryContext(ctx, tx.q.get(query), args...)
}

// QueryRowContext is sql.Tx's with the query rebound for the database.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return tx.Tx.QueryRowContext(ctx, tx.q.get(query), args...)
}

// PrepareContext is sql.Tx's with the query rebound for the database.
func (tx *Tx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return tx.Tx.PrepareContext(ctx, tx.q.get(query))
}
