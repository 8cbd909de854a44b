package refs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// packedHeader starts the traits line git writes at the top of
// packed-refs; Pack writes packedTraits after it.
const (
	packedHeader = "# pack-refs with:"
	packedTraits = packedHeader + " peeled fully-peeled sorted \n"
)

// maxPackedLine bounds one line of packed-refs: an id, a space and a name
// of at most MaxNameLen bytes.
const maxPackedLine = 41 + MaxNameLen + 1

// Each yields the refs under refs/ whose names start with one of
// prefixes (every ref when none is given), sorted by name and each once,
// as it reads them. A loose ref hides a packed one of the same name.
// Lock files, symbolic refs and loose files whose names are not valid
// are skipped, so a half-finished update by anyone never shows. After an
// error it yields nothing more.
//
// Only the loose refs under the prefixes are read, and they are read
// before packed-refs, as git does, so a ref that Pack moves from a loose
// file into packed-refs meanwhile is seen in one or the other. A sorted
// packed-refs (git's, and Pack's) is read from the first ref of each
// prefix on, not whole.
func Each(gitDir string, prefixes ...string) iter.Seq2[Ref, error] {
	return func(yield func(Ref, error) bool) {
		for _, p := range narrow(prefixes) {
			if !eachUnder(gitDir, p, yield) {
				return
			}
		}
	}
}

// narrow sorts prefixes and drops those another one covers, so that the
// refs of each come out after those of the one before, and once.
func narrow(prefixes []string) []string {
	if len(prefixes) == 0 || slices.Contains(prefixes, "") {
		return []string{""}
	}
	ps := slices.Clone(prefixes)
	slices.Sort(ps)
	out := ps[:1]
	for _, p := range ps[1:] {
		if !strings.HasPrefix(p, out[len(out)-1]) {
			out = append(out, p)
		}
	}
	return out
}

// eachUnder yields the refs starting with prefix, merging the loose ones
// into packed-refs; it reports whether the caller still wants more.
func eachUnder(gitDir, prefix string, yield func(Ref, error) bool) bool {
	loose, err := readLooseUnder(gitDir, prefix)
	if err != nil {
		yield(Ref{}, fmt.Errorf("refs: list: %w", err))
		return false
	}
	for p, err := range eachPacked(gitDir, prefix) {
		if err != nil {
			yield(Ref{}, err)
			return false
		}
		if !strings.HasPrefix(p.Name, prefix) {
			break // sorted: past the prefix
		}
		for len(loose) > 0 && loose[0].Name <= p.Name {
			hides := loose[0].Name == p.Name
			if !yield(loose[0], nil) {
				return false
			}
			loose = loose[1:]
			if hides {
				p.Name = ""
			}
		}
		if p.Name != "" && !yield(p, nil) {
			return false
		}
	}
	for _, r := range loose {
		if !yield(r, nil) {
			return false
		}
	}
	return true
}

// readLooseUnder reads the loose refs whose names start with prefix,
// sorted by name, entering only the directories that can hold them.
func readLooseUnder(gitDir, prefix string) ([]Ref, error) {
	if !strings.HasPrefix(prefix, "refs/") && !strings.HasPrefix("refs/", prefix) {
		return nil, nil
	}
	var out []Ref
	var walk func(name string) error
	walk = func(name string) error { // name ends in "/"
		ents, err := os.ReadDir(filepath.Join(gitDir, filepath.FromSlash(name)))
		if errors.Is(err, fs.ErrNotExist) || isDirErr(err) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, e := range ents {
			full := name + e.Name()
			switch {
			case e.IsDir():
				if dir := full + "/"; strings.HasPrefix(dir, prefix) || strings.HasPrefix(prefix, dir) {
					if err := walk(dir); err != nil {
						return err
					}
				}
			case e.Type().IsRegular() && strings.HasPrefix(full, prefix) && CheckName(full) == nil:
				id, ok, err := readLoose(filepath.Join(gitDir, filepath.FromSlash(full)))
				if err != nil {
					return err
				}
				if ok {
					out = append(out, Ref{Name: full, ID: id})
				}
			}
		}
		return nil
	}
	if err := walk("refs/"); err != nil {
		return nil, err
	}
	// A directory's refs sort by full name, not as the walk met them:
	// "a-b" comes before "a/b".
	slices.SortFunc(out, func(a, b Ref) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// eachPacked yields the refs of packed-refs from the first whose name is
// at least from, sorted by name; a peeled line ("^id") attaches to the
// ref before it. A file without the "sorted" trait is read whole and
// sorted first.
func eachPacked(gitDir, from string) iter.Seq2[Ref, error] {
	return func(yield func(Ref, error) bool) {
		f, err := os.Open(filepath.Join(gitDir, "packed-refs"))
		if errors.Is(err, fs.ErrNotExist) {
			return
		}
		if err != nil {
			yield(Ref{}, fmt.Errorf("refs: packed-refs: %w", err))
			return
		}
		defer f.Close()
		// Small enough to open once per ref-prefix, large enough for any
		// line (maxPackedLine).
		br := bufio.NewReaderSize(f, 16<<10)
		traits, start, err := readTraits(br)
		if err != nil {
			yield(Ref{}, err)
			return
		}
		if !traits.sorted {
			var all []Ref
			if err := parsePacked(br, traits, func(r Ref) bool { all = append(all, r); return true }); err != nil {
				yield(Ref{}, err)
				return
			}
			slices.SortStableFunc(all, func(a, b Ref) int { return strings.Compare(a.Name, b.Name) })
			for _, r := range all {
				if r.Name >= from && !yield(r, nil) {
					return
				}
			}
			return
		}
		if from != "" {
			off, err := seekPacked(f, start, from)
			if err != nil {
				yield(Ref{}, err)
				return
			}
			if _, err := f.Seek(off, io.SeekStart); err != nil {
				yield(Ref{}, fmt.Errorf("refs: packed-refs: %w", err))
				return
			}
			br.Reset(f)
		}
		stopped := false
		err = parsePacked(br, traits, func(r Ref) bool {
			stopped = !yield(r, nil)
			return !stopped
		})
		if err != nil && !stopped {
			yield(Ref{}, err)
		}
	}
}

// packedTraitSet is what the header line of packed-refs vouches for:
// sorted lines, peeled values for every annotated tag (fullyPeeled) or
// for those under refs/tags/ (peeled).
type packedTraitSet struct{ sorted, peeled, fullyPeeled bool }

// knowsPeeled reports whether the file vouches for name's peeled value.
func (t packedTraitSet) knowsPeeled(name string) bool {
	return t.fullyPeeled || t.peeled && strings.HasPrefix(name, "refs/tags/")
}

// readTraits reads the header line of packed-refs, if there is one, and
// returns the offset of the first ref.
func readTraits(br *bufio.Reader) (packedTraitSet, int64, error) {
	b, err := br.Peek(len(packedHeader))
	if err != nil || string(b) != packedHeader {
		return packedTraitSet{}, 0, nil
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		return packedTraitSet{}, 0, fmt.Errorf("refs: packed-refs: bad header: %w", err)
	}
	var t packedTraitSet
	for _, w := range strings.Fields(string(line[len(packedHeader):])) {
		t.sorted = t.sorted || w == "sorted"
		t.peeled = t.peeled || w == "peeled"
		t.fullyPeeled = t.fullyPeeled || w == "fully-peeled"
	}
	return t, int64(len(line)), nil
}

// parsePacked reads ref lines and their peeled lines from r, calling fn
// with each ref once its peeled line, if any, has been read, until fn
// returns false.
func parsePacked(r *bufio.Reader, traits packedTraitSet, fn func(Ref) bool) error {
	var cur Ref
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxPackedLine+1 {
			return fmt.Errorf("refs: packed-refs: line too long")
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("refs: packed-refs: %w", err)
		}
		s := strings.TrimSuffix(string(line), "\n")
		switch {
		case s == "" || s[0] == '#':
		case s[0] == '^':
			if cur.Name != "" && isID(s[1:]) {
				cur.Peeled, cur.KnowsPeeled = s[1:], true
			}
		default:
			id, name, ok := strings.Cut(s, " ")
			if !ok || !isID(id) || CheckName(name) != nil {
				return fmt.Errorf("refs: packed-refs: bad line %q", s)
			}
			if cur.Name != "" && !fn(cur) {
				return nil
			}
			cur = Ref{Name: name, ID: id, KnowsPeeled: traits.knowsPeeled(name)}
		}
		if err == io.EOF {
			break
		}
	}
	if cur.Name != "" {
		fn(cur)
	}
	return nil
}

// seekPacked returns the offset of the first ref line in a sorted
// packed-refs whose name is at least from, by bisecting the file between
// start (the first ref line) and its end.
func seekPacked(f *os.File, start int64, from string) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("refs: packed-refs: %w", err)
	}
	buf := make([]byte, 3*maxPackedLine)
	lo, hi := start, st.Size()
	for lo < hi {
		mid := lo + (hi-lo)/2
		at, name, err := recordAt(f, buf, start, mid)
		if err != nil {
			return 0, err
		}
		if name == "" || name >= from {
			hi = mid
		} else {
			lo = at + 1
		}
	}
	at, _, err := recordAt(f, buf, start, lo)
	return at, err
}

// recordAt finds the first ref line starting at or after off and returns
// where it starts and its name; name is "" when there is none.
func recordAt(f *os.File, buf []byte, start, off int64) (int64, string, error) {
	pos := off
	if off > start { // back one byte: is off itself the start of a line?
		pos = off - 1
	}
	n, err := f.ReadAt(buf, pos)
	if err != nil && err != io.EOF {
		return 0, "", fmt.Errorf("refs: packed-refs: %w", err)
	}
	b := buf[:n]
	i := 0
	if off > start {
		j := bytes.IndexByte(b, '\n')
		if j < 0 {
			return off, "", nil
		}
		i = j + 1
	}
	for i < len(b) {
		j := bytes.IndexByte(b[i:], '\n')
		line := b[i:]
		if j >= 0 {
			line = b[i : i+j]
		} else if n == len(buf) {
			return 0, "", fmt.Errorf("refs: packed-refs: line too long")
		}
		if len(line) > 0 && line[0] != '^' && line[0] != '#' {
			_, name, _ := strings.Cut(string(line), " ")
			return pos + int64(i), name, nil
		}
		if j < 0 {
			break
		}
		i += j + 1
	}
	return pos + int64(len(b)), "", nil
}
