package bitmap

import "gatehouse/repos/odb"

// SetRawBudget changes the memory kept for uncompressed sets while
// writing, and returns the undo.
func SetRawBudget(n int) (restore func()) {
	old := rawBudget
	rawBudget = n
	return func() { rawBudget = old }
}

// OpenDir opens the packs of gitDir and their bitmap, for tests; the
// packs stay open.
func OpenDir(gitDir string) (*Index, error) {
	packs, err := odb.OpenPacks(gitDir)
	if err != nil {
		return nil, err
	}
	return Open(packs)
}
