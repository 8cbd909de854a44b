package lockfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"gatehouse/repos/lockfile"
)

func TestLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	l, err := lockfile.TryLockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A second open file description is a second holder, even in one process.
	if _, err := lockfile.TryLockFile(path); !errors.Is(err, lockfile.ErrBusy) {
		t.Fatalf("second lock: %v, want ErrBusy", err)
	}
	l.Release()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("lock file left after release: %v", err)
	}
	l2, err := lockfile.TryLockFile(path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Release()
	l2.Release() // twice is harmless
}

// A lock file left on disk by a holder that is gone is simply taken.
func TestLockFileLeftBehind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	if err := os.WriteFile(path, []byte("12345 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := lockfile.TryLockFile(path)
	if err != nil {
		t.Fatalf("stale lock file not taken: %v", err)
	}
	l.Release()
}

func TestLockDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s1, err := lockfile.LockDirShared(dir)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := lockfile.LockDirShared(dir)
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	if _, err := lockfile.TryLockDir(dir); !errors.Is(err, lockfile.ErrBusy) {
		t.Fatalf("exclusive under shared: %v, want ErrBusy", err)
	}
	s1.Release()
	if _, err := lockfile.TryLockDir(dir); !errors.Is(err, lockfile.ErrBusy) {
		t.Fatalf("exclusive under one shared: %v, want ErrBusy", err)
	}
	s2.Release()
	x, err := lockfile.TryLockDir(dir)
	if err != nil {
		t.Fatalf("exclusive when free: %v", err)
	}
	// The holder may remove what it locked; the directory stays otherwise.
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	x.Release()
	if _, err := lockfile.TryLockDir(dir); !errors.Is(err, os.ErrNotExist) && !errors.Is(err, lockfile.ErrGone) {
		t.Fatalf("lock of a removed directory: %v", err)
	}
}
