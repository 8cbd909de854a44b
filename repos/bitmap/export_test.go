package bitmap

// SetRawBudget changes the memory kept for uncompressed sets while
// writing, and returns the undo.
func SetRawBudget(n int) (restore func()) {
	old := rawBudget
	rawBudget = n
	return func() { rawBudget = old }
}
