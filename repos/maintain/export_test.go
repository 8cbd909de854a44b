package maintain

// SetHookListed sets a function run after the packs are listed, and
// returns the undo.
func SetHookListed(fn func(gitDir string)) (restore func()) {
	testHookListed = fn
	return func() { testHookListed = nil }
}
