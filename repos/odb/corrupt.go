package odb

// corruption is ErrCorrupt in other words: a package's own sentinel for
// what it found damaged ("corrupt pack"), or a decoder's detail for its
// caller to place. errors.Is matches it with ErrCorrupt.
type corruption struct{ msg string }

func (c *corruption) Error() string        { return c.msg }
func (c *corruption) Is(target error) bool { return target == ErrCorrupt }

// CorruptKind returns a sentinel for one kind of damage, reading as msg:
// errors.Is matches an error wrapping it with the sentinel itself and
// with ErrCorrupt, so a caller can ask for either.
func CorruptKind(msg string) error { return &corruption{msg} }
