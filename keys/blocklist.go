package keys

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"gatehouse"
)

// BlocklistFile is the default blocklist's name in the data folder, next
// to the database: the CLI and the server find it without configuration.
const BlocklistFile = "key-blocklist"

// Blocklist is a file of known-compromised key fingerprints, one
// "SHA256:..." per line ('#' starts a comment; a full public key line is
// accepted too and reduced to its fingerprint). Keys on it are refused at
// key add and at login. The file is re-read when its modification time
// changes, so an admin edits it without a restart.
type Blocklist struct {
	path string
	// Required makes a missing file an error (an explicitly configured
	// list); otherwise a missing file is an empty list.
	required bool

	mu      sync.Mutex // guards the fields below
	modTime time.Time
	size    int64
	set     map[string]bool
	err     error
}

// NewBlocklist returns the blocklist in path. With required, the file
// must exist and parse now (LoadBlocklist's errors).
func NewBlocklist(path string, required bool) (*Blocklist, error) {
	b := &Blocklist{path: path, required: required}
	b.refresh()
	if required && b.err != nil {
		return nil, b.err
	}
	return b, nil
}

// defaultBlocklist is the data folder's blocklist for db, never nil.
func defaultBlocklist(db *DB) *Blocklist {
	b, _ := NewBlocklist(filepath.Join(db.Dir, BlocklistFile), false)
	return b
}

// Blocked reports whether fingerprint is on the list. If the list cannot
// be read or parsed, every key counts as blocked: failing closed is the
// point of a blocklist.
func (b *Blocklist) Blocked(fingerprint string) bool {
	if b == nil {
		return false
	}
	b.refresh()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err != nil || b.set[fingerprint]
}

// Reload reads the file again now, even if it looks unchanged, and
// returns Err.
func (b *Blocklist) Reload() error {
	b.mu.Lock()
	b.modTime = time.Time{} // what refresh compares: it reads the file
	b.mu.Unlock()
	b.refresh()
	return b.Err()
}

// Err is the last error reading the list, if any.
func (b *Blocklist) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

func (b *Blocklist) refresh() {
	st, err := os.Stat(b.path)
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case errors.Is(err, fs.ErrNotExist) && !b.required:
		b.set, b.err, b.modTime, b.size = nil, nil, time.Time{}, 0
		return
	case err != nil:
		b.err = fmt.Errorf("key blocklist: %w", err)
		return
	case b.set != nil && st.ModTime().Equal(b.modTime) && st.Size() == b.size:
		return
	}
	set, err := readBlocklist(b.path)
	b.set, b.err, b.modTime, b.size = set, err, st.ModTime(), st.Size()
	if set == nil && err == nil {
		b.set = map[string]bool{}
	}
}

func readBlocklist(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key blocklist: %w", err)
	}
	defer f.Close()
	set := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "SHA256:") && !strings.ContainsAny(line, " \t"):
			set[line] = true
		default:
			pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
			if err != nil {
				return nil, fmt.Errorf("key blocklist %s line %d: want SHA256:... or a public key", path, n)
			}
			set[ssh.FingerprintSHA256(pub)] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("key blocklist %s: %w", path, err)
	}
	return set, nil
}

// checkBlocklist is the add-time check: ErrInvalid for a listed key, or
// for any key while the list cannot be read.
func checkBlocklist(b *Blocklist, fp string) error {
	if !b.Blocked(fp) {
		return nil
	}
	if err := b.Err(); err != nil {
		return fmt.Errorf("cannot check the key blocklist, so no key is added: %v: %w", err, gatehouse.ErrInvalid)
	}
	return invalid("key %s is on the compromised-key blocklist", fp)
}
