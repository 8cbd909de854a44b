package gatehouse

import "errors"

// Sentinel errors shared by every layer. Services wrap them with %w and a
// short context; callers test them with errors.Is and map them to an exit
// status, an HTTP status or a Git ERR line in one place each.
var (
	// ErrNotFound: the thing does not exist, or the caller may not know
	// that it exists (private repositories answer this too).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the thing exists already or changed under the caller.
	ErrConflict = errors.New("already exists")
	// ErrInvalid: the input is malformed; nothing was changed.
	ErrInvalid = errors.New("invalid")
	// ErrForbidden: the caller is known and may see the thing but not do this.
	ErrForbidden = errors.New("forbidden")
)
