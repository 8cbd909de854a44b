// Package archive serves git-upload-archive, the server side of
// `git archive --remote`: the client sends its arguments ("--format=tar",
// "--prefix=p/", a ref, paths), the server answers ACK (or NACK and why)
// and streams the archive on side-band channel 1, with errors on
// channel 3.
//
// Like git with uploadArchive.allowUnreachable unset, only refs may be
// archived (NAME or NAME:PATH), never a bare object id, so nothing a ref
// does not reach can be read. Formats: tar, tar.gz (tgz) and zip. The
// archive's size, and each file's, is checked against a bound before
// anything is sent.
//
// Objects are read through odb.Reader, which streams files from the packs
// and holds at most a delta's base while rebuilding one, so memory is a
// few times the largest file allowed (Options.MaxObjectSize), whatever
// the repository holds.
package archive

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"gatehouse"
	"gatehouse/repos/odb"
	"gatehouse/repos/pktline"
	"gatehouse/repos/refs"
)

// DefaultMaxSize bounds the file bytes of one archive unless configured.
const DefaultMaxSize = 1 << 30

// DefaultMaxObjectSize bounds one file or tree of an archive unless
// configured. A file stored as a delta is rebuilt from its base, and both
// are held while that happens.
const DefaultMaxObjectSize = 256 << 20

// baseCacheSize bounds the delta bases kept while an archive is written.
// It is small: the objects of one tree seldom share a delta chain, and a
// chain of large objects not cached costs only two buffers.
const baseCacheSize = 1 << 20

// Limits on the request, which git keeps small too.
const (
	maxArgs    = 64
	maxEntries = 1 << 20
)

// Options configure Serve.
type Options struct {
	// MaxSize bounds the sum of the archived files' sizes, before
	// compression; 0 means DefaultMaxSize.
	MaxSize int64
	// MaxObjectSize bounds each file and tree read; 0 means the smaller
	// of DefaultMaxObjectSize and MaxSize.
	MaxObjectSize int64
}

// request is the parsed argument list.
type request struct {
	format  string // "tar", "tar.gz" or "zip"
	level   int    // compression level, -1 for the default
	prefix  string
	treeish string
	paths   []string
}

// entry is one file or directory of the archive.
type entry struct {
	name string // with the prefix; directories end in "/"
	mode filemode.FileMode
	id   plumbing.Hash
	size int64 // of a file
}

// Serve runs one upload-archive conversation for the bare repository at
// gitDir. Errors: the client's arguments were refused (it was sent NACK
// and the reason; wraps gatehouse.ErrInvalid); the client hung up; the
// repository could not be read (the client got "internal server error"
// on the error channel, or that an object is over the bound); writing
// failed.
func Serve(ctx context.Context, gitDir string, in io.Reader, out io.Writer, opts Options) error {
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxSize
	}
	if opts.MaxObjectSize <= 0 {
		opts.MaxObjectSize = min(DefaultMaxObjectSize, opts.MaxSize)
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	defer bw.Flush()
	pw := pktline.NewWriter(bw)
	args, err := readArgs(pktline.NewReader(pktline.NewBufferedReader(in)))
	if err != nil {
		return err
	}
	nack := func(format string, a ...any) error {
		msg := fmt.Sprintf(format, a...)
		pw.Linef("NACK %s", msg)
		pw.Flush()
		return refuse("upload-archive: %s", msg)
	}
	req, err := parseArgs(args)
	if err != nil {
		return nack("%v", err)
	}
	st := odb.OpenReader(gitDir, odb.Limits{MaxObjectSize: opts.MaxObjectSize, BaseCacheSize: baseCacheSize})
	defer st.Close()
	tooLarge := fmt.Sprintf("object larger than the server's limit of %d bytes", opts.MaxObjectSize)
	tree, when, comment, err := resolve(gitDir, st, req.treeish)
	if err != nil {
		if errors.Is(err, gatehouse.ErrInvalid) {
			return nack("%v", err)
		}
		if errors.Is(err, odb.ErrTooLarge) {
			return nack("%s", tooLarge)
		}
		pw.Linef("NACK internal server error")
		pw.Flush()
		return fmt.Errorf("upload-archive: %w", err)
	}
	entries, err := list(ctx, st, tree, req, opts.MaxSize, opts.MaxObjectSize)
	if err != nil {
		if errors.Is(err, gatehouse.ErrInvalid) {
			return nack("%v", err)
		}
		if errors.Is(err, odb.ErrTooLarge) {
			return nack("%s", tooLarge)
		}
		pw.Linef("NACK internal server error")
		pw.Flush()
		return fmt.Errorf("upload-archive: %w", err)
	}
	pw.Linef("ACK")
	pw.Flush()
	data := bufio.NewWriterSize(pktline.NewBand(pw, pktline.BandData, pktline.MaxLine), pktline.MaxLine-5)
	err = write(ctx, st, data, req, entries, when, comment)
	if err == nil {
		err = data.Flush()
	}
	if err != nil {
		if pw.Err() == nil && ctx.Err() == nil {
			msg := "internal server error"
			if errors.Is(err, odb.ErrTooLarge) {
				// A delta base over the bound, under a file within it.
				msg = tooLarge
			}
			pktline.NewBand(pw, pktline.BandError, pktline.MaxLine).Write([]byte("upload-archive: " + msg + "\n"))
		}
		pw.Flush()
		return fmt.Errorf("upload-archive: %w", err)
	}
	pw.Flush()
	if err := pw.Err(); err != nil {
		return fmt.Errorf("upload-archive: write: %w", err)
	}
	return nil
}

// readArgs reads "argument X" lines up to a flush.
func readArgs(r *pktline.Reader) ([]string, error) {
	var args []string
	for {
		kind, line, err := r.ReadLine()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("upload-archive: client hung up: %w", io.ErrUnexpectedEOF)
		}
		if err != nil {
			return nil, fmt.Errorf("upload-archive: reading arguments: %w", err)
		}
		if kind == pktline.FlushPkt {
			return args, nil
		}
		a, ok := strings.CutPrefix(line, "argument ")
		if kind != pktline.Data || !ok {
			return nil, fmt.Errorf("upload-archive: expected an argument, got %q: %w", pktline.Clip(line), gatehouse.ErrInvalid)
		}
		if len(args) == maxArgs {
			return nil, refuse("upload-archive: more than %d arguments", maxArgs)
		}
		args = append(args, a)
	}
}

// parseArgs reads the options git archive passes on, the tree-ish and
// the paths. Options that write or run anything locally (--output,
// --remote, --exec, --add-file) are refused, as git refuses them.
func parseArgs(args []string) (*request, error) {
	req := &request{format: "tar", level: -1}
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if !strings.HasPrefix(a, "-") {
			break
		}
		switch {
		case strings.HasPrefix(a, "--format="):
			switch f := a[len("--format="):]; f {
			case "tar", "zip":
				req.format = f
			case "tgz", "tar.gz":
				req.format = "tar.gz"
			default:
				return nil, fmt.Errorf("unknown archive format '%s'", pktline.Clip(f))
			}
		case strings.HasPrefix(a, "--prefix="):
			req.prefix = a[len("--prefix="):]
		case len(a) == 2 && a[1] >= '0' && a[1] <= '9':
			req.level = int(a[1] - '0')
		case a == "--worktree-attributes", a == "-v", a == "--verbose":
			// No work tree here, and progress is not sent.
		default:
			return nil, fmt.Errorf("option '%s' is not supported remotely", pktline.Clip(a))
		}
	}
	if i == len(args) {
		return nil, errors.New("no tree-ish given")
	}
	req.treeish = args[i]
	for _, p := range args[i+1:] {
		p = strings.Trim(path.Clean("/"+p), "/")
		if p == "" {
			continue
		}
		req.paths = append(req.paths, p)
	}
	if strings.Contains(req.prefix, "\x00") || strings.Contains(req.prefix, "..") {
		return nil, fmt.Errorf("invalid prefix '%s'", pktline.Clip(req.prefix))
	}
	return req, nil
}

// resolve finds the tree of "REF" or "REF:PATH", with the commit time for
// the entries' dates (now for a tag of a tree, as git does) and the
// commit id git stores in the archive's comment.
func resolve(gitDir string, st *odb.Reader, treeish string) (plumbing.Hash, time.Time, string, error) {
	name, sub, _ := strings.Cut(treeish, ":")
	id, err := resolveRef(gitDir, name)
	if err != nil {
		return plumbing.ZeroHash, time.Time{}, "", err
	}
	when, comment := time.Now(), ""
	for i := 0; ; i++ {
		if i == 64 {
			return plumbing.ZeroHash, time.Time{}, "", fmt.Errorf("tag chain too long at %s", id)
		}
		typ, _, rc, err := st.Read(id)
		if err != nil {
			return plumbing.ZeroHash, time.Time{}, "", err
		}
		if typ == plumbing.TreeObject {
			rc.Close()
			break
		}
		if typ != plumbing.TagObject && typ != plumbing.CommitObject {
			rc.Close()
			return plumbing.ZeroHash, time.Time{}, "", refuse("not a tree object: %s", pktline.Clip(name))
		}
		h, err := readHeaders(rc)
		rc.Close()
		if err != nil {
			return plumbing.ZeroHash, time.Time{}, "", fmt.Errorf("%s %s: %w", typ, id, err)
		}
		next := h["object"]
		if typ == plumbing.CommitObject {
			next = h["tree"]
			var sig object.Signature
			sig.Decode([]byte(h["committer"]))
			when, comment = sig.When, id.String()
		}
		if id, err = parseID(next); err != nil {
			return plumbing.ZeroHash, time.Time{}, "", fmt.Errorf("%s %s: %w", typ, id, err)
		}
	}
	if sub = strings.Trim(sub, "/"); sub != "" {
		// A tree of a commit is archived as a bare tree: no commit id,
		// and the time now, as git does.
		when, comment = time.Now(), ""
		for _, part := range strings.Split(sub, "/") {
			found := false
			err := readTree(st, id, func(e treeEntry) bool {
				if e.name == part && e.mode == filemode.Dir {
					id, found = e.id, true
				}
				return !found
			})
			if err != nil {
				return plumbing.ZeroHash, time.Time{}, "", err
			}
			if !found {
				return plumbing.ZeroHash, time.Time{}, "", refuse("current working directory is untracked: no directory '%s' in %s", pktline.Clip(sub), pktline.Clip(name))
			}
		}
	}
	return id, when, comment, nil
}

// maxHeaderLine bounds a commit's or tag's header line that is read;
// longer ones (a signature's continuation, say) are skipped.
const maxHeaderLine = 64 << 10

// readHeaders reads the header lines of a commit or tag, up to the blank
// line, and returns the first value of each name.
func readHeaders(r io.Reader) (map[string]string, error) {
	br := bufio.NewReaderSize(r, maxHeaderLine)
	h := make(map[string]string)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Too long to be one we read: skip to its end.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if len(line) == 0 || line[0] == '\n' {
			return h, nil
		}
		k, v, _ := strings.Cut(strings.TrimSuffix(string(line), "\n"), " ")
		if _, seen := h[k]; !seen && k != "" {
			h[k] = v
		}
		if err != nil {
			return h, nil
		}
	}
}

func parseID(s string) (plumbing.Hash, error) {
	var id plumbing.Hash
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("bad object id %q", pktline.Clip(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("bad object id %q", pktline.Clip(s))
	}
	return id, nil
}

// treeEntry is one entry of a tree object.
type treeEntry struct {
	name string
	mode filemode.FileMode
	id   plumbing.Hash
}

// maxTreeName bounds an entry's name, well above any file system's.
const maxTreeName = 4096

// readTree streams the entries of the tree id, in stored order, to f
// until it returns false. The tree is never held: it passes through a
// window of a few KiB, whose whole entries odb.TreeIter reads; one cut
// by the window's end is read again at the start of the next.
func readTree(st *odb.Reader, id plumbing.Hash, f func(treeEntry) bool) error {
	typ, _, rc, err := st.Read(id)
	if err != nil {
		return err
	}
	defer rc.Close()
	if typ != plumbing.TreeObject {
		return fmt.Errorf("%s is a %s, not a tree", id, typ)
	}
	br := bufio.NewReaderSize(rc, maxTreeName+64)
	var e odb.TreeEntry
	for {
		win, err := br.Peek(br.Size())
		if len(win) == 0 {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		it := odb.NewTreeIter(win)
		for it.Next(&e) {
			if !f(treeEntry{name: string(e.Name), mode: filemode.FileMode(e.Mode), id: e.ID}) {
				return nil
			}
		}
		used := len(win) - it.Len()
		// A bad entry is one that a full window, or the tree's end,
		// does not complete.
		if it.Err() != nil && (err != nil || used == 0) {
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			return fmt.Errorf("%w in %s", it.Err(), id)
		}
		br.Discard(used)
	}
}

// resolveRef finds a ref the way git's dwim does for archive: NAME as
// given (HEAD or a full ref), then under refs/, refs/tags/, refs/heads/.
func resolveRef(gitDir, name string) (plumbing.Hash, error) {
	noRef := refuse("no such ref: %s", pktline.Clip(name))
	if name == "HEAD" {
		h, err := refs.ReadHead(gitDir)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if h.ID == "" {
			return plumbing.ZeroHash, noRef
		}
		return plumbing.NewHash(h.ID), nil
	}
	list, err := refs.List(gitDir)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	byName := make(map[string]string, len(list))
	for _, r := range list {
		byName[r.Name] = r.ID
	}
	for _, full := range []string{name, "refs/" + name, "refs/tags/" + name, "refs/heads/" + name} {
		if id := byName[full]; id != "" {
			return plumbing.NewHash(id), nil
		}
	}
	return plumbing.ZeroHash, noRef
}

// list walks the tree in git's order and returns what the archive holds,
// refusing a path that matches nothing, a file over maxObject and an
// archive over maxSize.
func list(ctx context.Context, st *odb.Reader, root plumbing.Hash, req *request, maxSize, maxObject int64) ([]entry, error) {
	matched := make([]bool, len(req.paths))
	// want reports whether p is inside a requested path, and whether it
	// leads to one (a directory above it).
	want := func(p string) (inside, above bool) {
		if len(req.paths) == 0 {
			return true, false
		}
		for i, s := range req.paths {
			if p == s || strings.HasPrefix(p, s+"/") {
				matched[i] = true
				inside = true
			} else if strings.HasPrefix(s, p+"/") {
				above = true
			}
		}
		return inside, above
	}
	var out []entry
	var size int64
	if req.prefix != "" && strings.HasSuffix(req.prefix, "/") {
		out = append(out, entry{name: req.prefix, mode: filemode.Dir})
	}
	var walk func(id plumbing.Hash, dir string) error
	walk = func(id plumbing.Hash, dir string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		// The tree is read whole before its subtrees, so that only one
		// tree is open at a time; what is kept of it is bounded by
		// maxEntries.
		type kept struct {
			treeEntry
			inside bool
		}
		var keep []kept
		var tooMany bool
		err := readTree(st, id, func(e treeEntry) bool {
			inside, above := want(dir + e.name)
			if !inside && !above {
				return true
			}
			if len(out)+len(keep) >= maxEntries {
				tooMany = true
				return false
			}
			keep = append(keep, kept{e, inside})
			return true
		})
		if err != nil {
			return err
		}
		if tooMany {
			return refuse("archive has more than %d entries", maxEntries)
		}
		for _, e := range keep {
			p := dir + e.name
			switch e.mode {
			case filemode.Dir:
				out = append(out, entry{name: req.prefix + p + "/", mode: e.mode, id: e.id})
				if err := walk(e.id, p+"/"); err != nil {
					return err
				}
			case filemode.Submodule:
				// Another repository's commit: an empty directory, as git
				// writes it.
				if e.inside {
					out = append(out, entry{name: req.prefix + p + "/", mode: filemode.Dir})
				}
			default:
				if !e.inside {
					continue
				}
				typ, n, err := st.Header(e.id)
				if errors.Is(err, odb.ErrTooLarge) && maxObject < maxSize {
					return refuse("file '%s' is larger than the server's limit of %d bytes per file", pktline.Clip(p), maxObject)
				}
				if errors.Is(err, odb.ErrTooLarge) {
					return refuse("archive larger than the server's limit of %d bytes", maxSize)
				}
				if err != nil {
					return fmt.Errorf("blob %s: %w", e.id, err)
				}
				if typ != plumbing.BlobObject {
					return fmt.Errorf("%s is a %s, not a blob", e.id, typ)
				}
				if size += n; size > maxSize {
					return refuse("archive larger than the server's limit of %d bytes", maxSize)
				}
				out = append(out, entry{name: req.prefix + p, mode: e.mode, id: e.id, size: n})
			}
		}
		return nil
	}
	if err := walk(root, ""); err != nil {
		return nil, err
	}
	for i, ok := range matched {
		if !ok {
			return nil, refuse("pathspec '%s' did not match any files", pktline.Clip(req.paths[i]))
		}
	}
	return out, nil
}

// write streams the archive. Modes follow git's defaults (tar.umask 002).
func write(ctx context.Context, st *odb.Reader, w io.Writer, req *request, entries []entry, when time.Time, comment string) error {
	switch req.format {
	case "zip":
		return writeZip(ctx, st, w, req, entries, when, comment)
	case "tar.gz":
		level := req.level
		if level < 0 {
			level = gzip.DefaultCompression
		}
		gz, err := gzip.NewWriterLevel(w, level)
		if err != nil {
			return err
		}
		if err := writeTar(ctx, st, gz, entries, when, comment); err != nil {
			return err
		}
		return gz.Close()
	}
	return writeTar(ctx, st, w, entries, when, comment)
}

func writeTar(ctx context.Context, st *odb.Reader, w io.Writer, entries []entry, when time.Time, comment string) error {
	tw := tar.NewWriter(w)
	if comment != "" {
		// git records the commit id in a pax global header, which
		// `git get-tar-commit-id` reads back.
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader,
			PAXRecords: map[string]string{"comment": comment}}); err != nil {
			return err
		}
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		h := &tar.Header{Name: e.name, ModTime: when, Uname: "root", Gname: "root"}
		switch e.mode {
		case filemode.Dir:
			h.Typeflag, h.Mode = tar.TypeDir, 0o775
		case filemode.Symlink:
			b, err := readBlob(st, e.id, e.size)
			if err != nil {
				return err
			}
			h.Typeflag, h.Mode, h.Linkname = tar.TypeSymlink, 0o777, string(b)
		default:
			h.Typeflag, h.Mode = tar.TypeReg, 0o664
			if e.mode == filemode.Executable {
				h.Mode = 0o775
			}
			h.Size = e.size
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			if err := copyBlob(st, tw, e.id, e.size); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

func writeZip(ctx context.Context, st *odb.Reader, w io.Writer, req *request, entries []entry, when time.Time, comment string) error {
	zw := zip.NewWriter(w)
	if req.level >= 0 {
		level := req.level
		zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
			return flate.NewWriter(out, level)
		})
	}
	if comment != "" {
		if err := zw.SetComment(comment); err != nil {
			return err
		}
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		h := &zip.FileHeader{Name: e.name, Modified: when, Method: zip.Deflate}
		switch e.mode {
		case filemode.Dir:
			h.Method = zip.Store
			h.SetMode(0o775 | 1<<31) // os.ModeDir
		case filemode.Symlink:
			h.SetMode(0o777 | 1<<27) // os.ModeSymlink
		case filemode.Executable:
			h.SetMode(0o775)
		default:
			h.SetMode(0o664)
		}
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if e.mode != filemode.Dir {
			if err := copyBlob(st, fw, e.id, e.size); err != nil {
				return err
			}
		}
	}
	return zw.Close()
}

// copyBlob streams the blob id, whose size list found, to w.
func copyBlob(st *odb.Reader, w io.Writer, id plumbing.Hash, size int64) error {
	_, n, r, err := st.Read(id)
	if err != nil {
		return err
	}
	defer r.Close()
	if n != size {
		return fmt.Errorf("blob %s changed size from %d to %d", id, size, n)
	}
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("blob %s: %w", id, err)
	}
	return nil
}

func readBlob(st *odb.Reader, id plumbing.Hash, size int64) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(int(size))
	if err := copyBlob(st, &b, id, size); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// refused is a request refused for a reason the client may read.
type refused string

func (r refused) Error() string { return string(r) }
func (r refused) Unwrap() error { return gatehouse.ErrInvalid }

func refuse(format string, args ...any) error { return refused(fmt.Sprintf(format, args...)) }
