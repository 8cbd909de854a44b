package refs

import "os"

// syncEach is how many written lock files are synced one by one; a larger
// batch syncs the whole file system once where it can (syncBatch), since
// thousands of fsyncs cost seconds.
const syncEach = 16

// syncWritten makes the new values in the lock files of hs durable before
// they are renamed into place; lockPath names a held update's lock file.
func syncWritten(gitDir string, hs []heldRef, lockPath func(*heldRef) string) error {
	n := 0
	for _, h := range hs {
		if h.written {
			n++
		}
	}
	if n > syncEach {
		if ok, err := syncBatch(gitDir); ok {
			return err
		}
	}
	for i := range hs {
		if !hs[i].written {
			continue
		}
		if err := syncFile(lockPath(&hs[i])); err != nil {
			return err
		}
	}
	return nil
}

// syncFile makes path durable: a file's content, or a directory's
// entries.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
