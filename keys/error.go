package keys

import (
	"errors"
	"fmt"

	"github.com/mattn/go-sqlite3"

	"gatehouse"
)

// translate is the one place driver errors become root sentinels, chosen
// by SQLite's extended result code (message text changes between SQLite
// versions). subject names what the statement was about, like `user "bob"`,
// and starts the one-line message an admin sees. Other SQLite errors are
// prefixed with subject; errors that are not SQLite's (a cancelled context)
// pass through unchanged.
func translate(err error, subject string) error {
	var se sqlite3.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	switch se.ExtendedCode {
	case sqlite3.ErrConstraintUnique, sqlite3.ErrConstraintPrimaryKey:
		return fmt.Errorf("%s: %w", subject, gatehouse.ErrConflict)
	case sqlite3.ErrConstraintForeignKey:
		// Either a row that still has dependants, or a reference to a row
		// deleted meanwhile; both mean the caller's view is stale.
		return fmt.Errorf("%s is still referenced or refers to a missing row: %w", subject, gatehouse.ErrConflict)
	case sqlite3.ErrConstraintNotNull, sqlite3.ErrConstraintCheck:
		return fmt.Errorf("%s has a missing or out-of-range field: %w", subject, gatehouse.ErrInvalid)
	}
	switch se.Code {
	case sqlite3.ErrBusy, sqlite3.ErrLocked:
		// Another process held the lock past the busy timeout. Not a
		// sentinel: the request was fine and may simply be retried.
		return fmt.Errorf("%s: database is busy, try again: %w", subject, err)
	}
	return fmt.Errorf("%s: %w", subject, err)
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
