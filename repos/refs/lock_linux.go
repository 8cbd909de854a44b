package refs

import (
	"io"
	"io/fs"

	"golang.org/x/sys/unix"
)

// createExcl creates path exclusively holding content, with open, write
// and close alone (an *os.File also asks the poller about the file).
// Its errors are *fs.PathError, ErrExist and ErrNotExist among them; a
// file it made but could not write is removed.
func createExcl(path string, content []byte) error {
	var fd int
	var err error
	for {
		fd, err = unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	for len(content) > 0 && err == nil {
		var n int
		n, err = unix.Write(fd, content)
		switch {
		case err == unix.EINTR:
			err = nil
		case err == nil && n == 0:
			err = io.ErrShortWrite
		}
		content = content[max(n, 0):]
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		unix.Unlink(path) // ours: made exclusively above
		return &fs.PathError{Op: "write", Path: path, Err: err}
	}
	return nil
}
