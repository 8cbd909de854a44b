package refs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// maxRefFile bounds what is read from one loose ref or HEAD.
const maxRefFile = 4096

// List returns every ref under refs/, sorted by name: Each, collected.
func List(gitDir string) ([]Ref, error) {
	var out []Ref
	for r, err := range Each(gitDir) {
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Resolve returns the id a ref points at, or "" if it does not exist.
func Resolve(gitDir, name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	id, ok, err := readLoose(filepath.Join(gitDir, filepath.FromSlash(name)))
	if err != nil || ok {
		return id, err
	}
	for r, err := range eachPacked(gitDir, name) {
		if err != nil {
			return "", err
		}
		if r.Name == name {
			return r.ID, nil
		}
		if r.Name > name {
			break
		}
	}
	return "", nil
}

// ReadHead reads HEAD. A missing target gives an empty ID (unborn branch).
func ReadHead(gitDir string) (Head, error) {
	b, err := readSmall(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return Head{}, fmt.Errorf("refs: read HEAD: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if target, ok := strings.CutPrefix(s, "ref: "); ok {
		target = strings.TrimSpace(target)
		if err := CheckName(target); err != nil {
			return Head{}, fmt.Errorf("refs: HEAD points at %q: %w", target, err)
		}
		id, err := Resolve(gitDir, target)
		return Head{Target: target, ID: id}, err
	}
	if !isID(s) {
		return Head{}, fmt.Errorf("refs: HEAD holds neither a ref nor an id")
	}
	return Head{ID: s}, nil
}

// readLoose reads one loose ref file. ok is false when the file does not
// exist, is a directory or holds a symbolic ref.
func readLoose(path string) (id string, ok bool, err error) {
	id, ok, _, err = readLooseFile(path)
	return id, ok, err
}

// readLooseFile is readLoose that also tells whether path is a directory.
func readLooseFile(path string) (id string, ok, isDir bool, err error) {
	b, err := readSmall(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, false, nil
	}
	if isDirErr(err) {
		return "", false, true, nil
	}
	if err != nil {
		return "", false, false, err
	}
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, "ref: ") {
		return "", false, false, nil
	}
	if !isID(s) {
		return "", false, false, fmt.Errorf("refs: %s: not an object id", filepath.Base(path))
	}
	return s, true, false, nil
}

func isDirErr(err error) bool { return errors.Is(err, syscall.EISDIR) }

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, maxRefFile)
	n, err := io.ReadFull(f, b)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	return b[:n], err
}

func isID(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// CheckName applies git's check-ref-format rules to a full ref name,
// which must also start with "refs/". The error wraps ErrInvalidName.
func CheckName(name string) error {
	bad := func(why string) error { return fmt.Errorf("%w: %q %s", ErrInvalidName, name, why) }
	if !strings.HasPrefix(name, "refs/") {
		return bad("is not under refs/")
	}
	if len(name) > MaxNameLen {
		return bad("is too long")
	}
	if strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".") {
		return bad("ends in / or .")
	}
	if strings.Contains(name, "..") || strings.Contains(name, "@{") || strings.Contains(name, "//") {
		return bad(`contains "..", "@{" or "//"`)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x20 || c == 0x7f || strings.IndexByte(" ~^:?*[\\", c) >= 0 {
			return bad("contains a forbidden character")
		}
	}
	for rest := name; rest != ""; {
		comp, after, _ := strings.Cut(rest, "/")
		if comp == "" || comp[0] == '.' || strings.HasSuffix(comp, ".lock") || comp == "@" {
			return bad("has a component that is empty, starts with . or ends in .lock")
		}
		rest = after
	}
	return nil
}
