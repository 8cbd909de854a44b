// Package refs reads and updates the references of a bare repository the
// way git does: loose files under refs/, packed-refs, HEAD as a symbolic
// ref. Updates are compare-and-swap on the old id, made with a "<ref>.lock"
// file created exclusively and renamed into place (a batch creating many
// refs writes them into packed-refs instead, holding their locks), so git
// and this package can work on one repository at once. "*.lock" files are
// never read as refs.
package refs

import "errors"

// ZeroID is the all-zero object id git uses for "no object".
const ZeroID = "0000000000000000000000000000000000000000"

// MaxNameLen bounds a ref name in bytes; CheckName refuses longer ones.
const MaxNameLen = 1024

// Ref is one reference.
type Ref struct {
	Name string // "refs/heads/main"
	ID   string // 40 hex digits
	// Peeled is the object an annotated tag points at, when known
	// (from packed-refs or by reading the tag); "" otherwise.
	Peeled string
	// KnowsPeeled: packed-refs vouches for Peeled, so an empty one means
	// the ref is not an annotated tag and need not be read to tell.
	KnowsPeeled bool
}

// Head is where HEAD points.
type Head struct {
	Target string // "refs/heads/main"; "" when HEAD is detached
	ID     string // the target's id; "" when the target does not exist (unborn)
}

// Errors.
var (
	// ErrStale: the ref's current value is not the expected old value.
	ErrStale = errors.New("stale info")
	// ErrLocked: another update holds the ref's lock.
	ErrLocked = errors.New("ref is locked")
	// ErrInvalidName: not a valid ref name (git check-ref-format rules).
	ErrInvalidName = errors.New("invalid ref name")
)

// Update is one compare-and-swap: Old (ZeroID: must not exist) to New
// (ZeroID: delete).
type Update struct {
	Name string
	Old  string
	New  string
}
