//go:build !unix

package lockfile

import "os"

// Supported says whether locks exclude other holders here. Without flock
// they do not: every lock is granted, and sweepers must remove nothing.
const Supported = false

func flock(f *os.File, shared bool) error { return nil }
