package backup

// SetHookRefsRead sets a function run after each repository's refs are
// read, before its objects are copied, and returns the undo.
func SetHookRefsRead(fn func(gitDir string)) (restore func()) {
	testHookRefsRead = fn
	return func() { testHookRefsRead = nil }
}
