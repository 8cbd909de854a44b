package refs

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncBatch flushes the file system holding gitDir with one syncfs(2).
func syncBatch(gitDir string) (bool, error) {
	f, err := os.Open(gitDir)
	if err != nil {
		return true, err
	}
	defer f.Close()
	return true, unix.Syncfs(int(f.Fd()))
}
