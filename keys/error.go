package keys

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"

	"gatehouse"
)

// translate is the one place driver errors become root sentinels, chosen
// by the database's error code, never its message text (see
// translateSQLite and translatePostgres). subject names what the
// statement was about, like `user "bob"`, and starts the one-line message
// an admin sees. Other database errors are prefixed with subject; errors
// that are not the database's (a cancelled context) pass through
// unchanged.
func translate(err error, subject string) error {
	if err == nil {
		return nil
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		return translateSQLite(se, err, subject)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return translatePostgres(pe, err, subject)
	}
	return err
}

// The kinds of error both databases report, as the store words them.

func errUnique(subject string) error {
	return fmt.Errorf("%s: %w", subject, gatehouse.ErrConflict)
}

// errForeignKey is either a row that still has dependants, or a reference
// to a row deleted meanwhile; both mean the caller's view is stale.
func errForeignKey(subject string) error {
	return fmt.Errorf("%s is still referenced or refers to a missing row: %w", subject, gatehouse.ErrConflict)
}

func errField(subject string) error {
	return fmt.Errorf("%s has a missing or out-of-range field: %w", subject, gatehouse.ErrInvalid)
}

// errBusy is another process holding the lock past the busy timeout. Not
// a sentinel: the request was fine and may simply be retried.
func errBusy(subject string, err error) error {
	return fmt.Errorf("%s: database is busy, try again: %w", subject, err)
}

func notFound(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, gatehouse.ErrNotFound)...)
}

func conflict(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, gatehouse.ErrConflict)...)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, gatehouse.ErrInvalid)...)
}

// quote formats a name for a message the way %q does.
func quote(s string) string { return fmt.Sprintf("%q", s) }

// kindError carries a sentinel without adding its text: for messages where
// "already exists" would read wrong.
type kindError struct {
	msg  string
	kind error
}

func (e kindError) Error() string { return e.msg }
func (e kindError) Unwrap() error { return e.kind }
