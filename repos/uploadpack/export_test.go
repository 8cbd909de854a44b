package uploadpack

import "io"

// SetOpenedHook makes Serve call f once the objects are open, before it
// reads any ref, until restore is called. Not for parallel tests.
func SetOpenedHook(f func()) (restore func()) {
	old := testHookOpened
	testHookOpened = f
	return func() { testHookOpened = old }
}

// StartCacheCopy starts a clone's copy for the clone cache of gitDir, as
// a full clone does, and returns its temporary file and a function that
// drops it.
func StartCacheCopy(gitDir string) (path string, drop func()) {
	cw := newCacheWriter(gitDir, io.Discard)
	if cw == nil {
		return "", func() {}
	}
	return cw.tmp.Name(), cw.abort
}
