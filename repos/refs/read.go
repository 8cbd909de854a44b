package refs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// maxRefFile bounds what is read from one loose ref or HEAD.
const maxRefFile = 4096

// List returns every ref under refs/, sorted by name. A loose ref hides a
// packed one of the same name. Lock files, symbolic refs and files whose
// names or contents are not valid are skipped, so a half-finished update by
// anyone never shows.
func List(gitDir string) ([]Ref, error) {
	packed, err := readPacked(gitDir)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]Ref, len(packed))
	for _, r := range packed {
		byName[r.Name] = r
	}
	root := filepath.Join(gitDir, "refs")
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(gitDir, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if CheckName(name) != nil {
			return nil
		}
		id, ok, err := readLoose(path)
		if err != nil {
			return err
		}
		if ok {
			byName[name] = Ref{Name: name, ID: id}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("refs: list: %w", err)
	}
	out := make([]Ref, 0, len(byName))
	for _, r := range byName {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
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
	packed, err := readPacked(gitDir)
	if err != nil {
		return "", err
	}
	for _, r := range packed {
		if r.Name == name {
			return r.ID, nil
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
// exist or holds a symbolic ref.
func readLoose(path string) (id string, ok bool, err error) {
	b, err := readSmall(path)
	if errors.Is(err, fs.ErrNotExist) || isDirErr(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, "ref: ") {
		return "", false, nil
	}
	if !isID(s) {
		return "", false, fmt.Errorf("refs: %s: not an object id", filepath.Base(path))
	}
	return s, true, nil
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

// readPacked parses packed-refs. Peeled lines ("^id") attach to the ref
// before them.
func readPacked(gitDir string) ([]Ref, error) {
	f, err := os.Open(filepath.Join(gitDir, "packed-refs"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("refs: packed-refs: %w", err)
	}
	defer f.Close()
	var out []Ref
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" || line[0] == '#':
		case line[0] == '^':
			if len(out) > 0 && isID(line[1:]) {
				out[len(out)-1].Peeled = line[1:]
			}
		default:
			id, name, ok := strings.Cut(line, " ")
			if !ok || !isID(id) || CheckName(name) != nil {
				return nil, fmt.Errorf("refs: packed-refs: bad line %q", line)
			}
			out = append(out, Ref{Name: name, ID: id})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("refs: packed-refs: %w", err)
	}
	return out, nil
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
	for _, comp := range strings.Split(name, "/") {
		if comp == "" || comp[0] == '.' || strings.HasSuffix(comp, ".lock") || comp == "@" {
			return bad("has a component that is empty, starts with . or ends in .lock")
		}
	}
	return nil
}
