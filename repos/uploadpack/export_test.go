package uploadpack

// SetOpenedHook makes Serve call f once the objects are open, before it
// reads any ref, until restore is called. Not for parallel tests.
func SetOpenedHook(f func()) (restore func()) {
	old := testHookOpened
	testHookOpened = f
	return func() { testHookOpened = old }
}
