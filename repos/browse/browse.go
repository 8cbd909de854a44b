// Package browse reads what the panel's code browsing pages show of a
// repository: its branches and tags, a log, a tree listing, a file with a
// size cap, and a commit's diff against its first parent. Every object is
// read through odb.Reader, every count is bounded (refs, log length,
// tree entries, changed files, diff lines), files are held only up to
// MaxFileSize, and each page's work stops at its context's deadline
// (Timeout when the caller gave none).
package browse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"gatehouse"
	"gatehouse/repos/odb"
	"gatehouse/repos/refs"
)

// Defaults of a Browser's bounds.
const (
	DefaultMaxFileSize = 1 << 20
	DefaultTimeout     = 10 * time.Second
	// MaxRefs bounds the branches and tags listed, each.
	MaxRefs = 500
	// MaxLog bounds a log's length.
	MaxLog = 200
	// MaxTreeEntries bounds a tree listing.
	MaxTreeEntries = 5000
	// MaxChangedFiles bounds the files of a commit page.
	MaxChangedFiles = 300
	// MaxDiffLines bounds the diff lines of a commit page, all files
	// together; files past it are summarised.
	MaxDiffLines = 5000
	// maxEdits bounds the edit distance a file's diff is computed to;
	// a file further apart is summarised.
	maxEdits = 1000
	// maxObject bounds commits and trees read.
	maxObject = 16 << 20
	// maxWalk bounds the commits a log visits.
	maxWalk = 10 * MaxLog
)

var errTimeout = fmt.Errorf("page took too long: %w", gatehouse.ErrInvalid)

// Browser implements gatehouse.CodeBrowser on the repositories Dir finds.
type Browser struct {
	// Dir returns a repository's directory (repos.Service.Dir).
	Dir func(owner, name string) (string, error)
	// MaxFileSize bounds the files shown and diffed; 0 means
	// DefaultMaxFileSize.
	MaxFileSize int64
	// Timeout bounds each page's reading; 0 means DefaultTimeout.
	Timeout time.Duration
}

var _ gatehouse.CodeBrowser = (*Browser)(nil)

// session is one page's reading of one repository.
type session struct {
	ctx context.Context
	dir string
	odb *odb.Reader
	buf []byte
	max int64
}

func (b *Browser) open(ctx context.Context, r *gatehouse.Repo) (*session, context.CancelFunc, error) {
	dir, err := b.Dir(r.Owner, r.Name)
	if err != nil {
		return nil, nil, err
	}
	t := b.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	max := b.MaxFileSize
	if max <= 0 {
		max = DefaultMaxFileSize
	}
	s := &session{ctx: ctx, dir: dir, odb: odb.OpenReader(dir, odb.Limits{MaxObjectSize: maxObject}), max: max}
	return s, func() { s.odb.Close(); cancel() }, nil
}

func (s *session) alive() error {
	if s.ctx.Err() != nil {
		return errTimeout
	}
	return nil
}

// read reads a commit or tree whole into the session's buffer; the
// result is valid until the next read.
func (s *session) read(id plumbing.Hash, want plumbing.ObjectType) ([]byte, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	_, data, err := s.odb.ReadWhole(id, want, s.buf)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("%s %s: %w", want, id, gatehouse.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	s.buf = data[:0]
	return data, nil
}

// resolve turns a branch, tag or full commit id into a commit id.
func (s *session) resolve(ref string) (plumbing.Hash, error) {
	if err := gatehouse.ValidateBrowseRef(ref); err != nil {
		return plumbing.ZeroHash, err
	}
	for _, full := range []string{"refs/heads/" + ref, "refs/tags/" + ref} {
		if refs.CheckName(full) != nil {
			continue
		}
		id, err := refs.Resolve(s.dir, full)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if id != "" {
			return s.peel(id)
		}
	}
	if _, err := odb.ParseID(ref); err == nil {
		id, err := s.peel(ref)
		if err != nil {
			return id, err
		}
		return id, s.reachable(id)
	}
	return plumbing.ZeroHash, fmt.Errorf("ref %q: %w", ref, gatehouse.ErrNotFound)
}

// maxReachWalk bounds the commits reachable walks to find a commit named
// by id; past it the commit is taken for unreachable.
const maxReachWalk = 1 << 20

// reachable returns ErrNotFound unless a ref (or a detached HEAD) leads
// to the commit id. Pages name commits by id only while the repository's
// refs still reach them: history a force push or a deleted branch left
// behind (a secret pushed by mistake, say) stays in the object store
// until pruned, and is never shown.
func (s *session) reachable(id plumbing.Hash) error {
	notFound := fmt.Errorf("commit %s: %w", id, gatehouse.ErrNotFound)
	seen := make(map[plumbing.Hash]struct{})
	var queue []plumbing.Hash
	add := func(c plumbing.Hash) bool {
		if c == id {
			return true
		}
		if _, ok := seen[c]; !ok {
			seen[c] = struct{}{}
			queue = append(queue, c)
		}
		return false
	}
	var tips []string
	if h, err := refs.ReadHead(s.dir); err == nil && h.Target == "" && h.ID != "" {
		tips = append(tips, h.ID)
	}
	for r, err := range refs.Each(s.dir) {
		if err != nil {
			return err
		}
		tips = append(tips, r.ID)
	}
	for _, t := range tips {
		tip, err := s.peel(t)
		if err != nil {
			continue // a ref to a missing object leads nowhere
		}
		if add(tip) {
			return nil
		}
	}
	for len(queue) > 0 {
		if err := s.alive(); err != nil {
			return err
		}
		if len(seen) > maxReachWalk {
			return notFound
		}
		c := queue[0]
		queue = queue[1:]
		_, data, err := s.odb.ReadWhole(c, plumbing.CommitObject, s.buf)
		if err != nil {
			continue // a tag of a tree or blob, or damage: nothing to follow
		}
		s.buf = data[:0]
		pc, err := odb.ParseCommit(data)
		if err != nil {
			continue
		}
		for _, p := range pc.Parents {
			if add(p) {
				return nil
			}
		}
	}
	return notFound
}

func (s *session) peel(hex string) (plumbing.Hash, error) {
	id, err := odb.ParseID(hex)
	if err != nil {
		return id, fmt.Errorf("ref %q: %w", hex, gatehouse.ErrNotFound)
	}
	p, err := s.odb.Peel(id)
	if err != nil {
		return id, err
	}
	if !p.IsZero() {
		id = p
	}
	return id, nil
}

// commit is a commit's parsed content.
type commit struct {
	odb.Commit
	author, committer string
	authorWhen        int64
	message           string
}

func (s *session) commit(id plumbing.Hash) (commit, error) {
	data, err := s.read(id, plumbing.CommitObject)
	if err != nil {
		return commit{}, err
	}
	c := commit{}
	if c.Commit, err = odb.ParseCommit(data); err != nil {
		return c, err
	}
	author, committer, msg := odb.CommitText(data)
	c.message = strings.ToValidUTF8(string(msg), "\uFFFD")
	c.author, c.authorWhen = validName(author.Name), author.When
	c.committer = validName(committer.Name)
	return c, nil
}

// validName is an ident's name as text.
func validName(b []byte) string { return strings.ToValidUTF8(string(b), "\uFFFD") }

func (c commit) summary(id plumbing.Hash) gatehouse.CommitSummary {
	subject, _, _ := strings.Cut(strings.TrimLeft(c.message, "\n"), "\n")
	return gatehouse.CommitSummary{ID: id.String(), Subject: subject, Author: c.author, When: time.Unix(c.authorWhen, 0).UTC()}
}

// Overview lists the branches and tags and the last logLen commits of
// the default branch.
func (b *Browser) Overview(ctx context.Context, r *gatehouse.Repo, logLen int) (*gatehouse.RepoOverview, error) {
	s, done, err := b.open(ctx, r)
	if err != nil {
		return nil, err
	}
	defer done()
	o := &gatehouse.RepoOverview{}
	for ref, err := range refs.Each(s.dir, "refs/heads/", "refs/tags/") {
		if err != nil {
			return nil, err
		}
		if err := s.alive(); err != nil {
			return nil, err
		}
		br := gatehouse.BrowseRef{ID: ref.ID}
		list := &o.Branches
		if name, ok := strings.CutPrefix(ref.Name, "refs/tags/"); ok {
			br.Name, br.Tag, list = name, true, &o.Tags
		} else {
			br.Name = strings.TrimPrefix(ref.Name, "refs/heads/")
		}
		if len(*list) >= MaxRefs {
			o.Truncated = true
			continue
		}
		*list = append(*list, br)
	}
	head, err := refs.ReadHead(s.dir)
	if err != nil {
		return nil, err
	}
	if head.ID == "" {
		return o, nil
	}
	o.Head = strings.TrimPrefix(head.Target, "refs/heads/")
	id, err := odb.ParseID(head.ID)
	if err != nil {
		return nil, err
	}
	if o.Log, err = s.log(id, logLen); err != nil {
		return nil, err
	}
	c, err := s.commit(id)
	if err != nil {
		return nil, err
	}
	o.Readme, err = s.readme(c.Tree)
	return o, err
}

// readmeNames are the READMEs looked for, in order of preference.
var readmeNames = []string{"readme.md", "readme.markdown", "readme", "readme.txt"}

// readme finds the README file at the top of tree.
func (s *session) readme(tree plumbing.Hash) (string, error) {
	data, err := s.read(tree, plumbing.TreeObject)
	if err != nil {
		return "", err
	}
	best, name := len(readmeNames), ""
	it := odb.NewTreeIter(data)
	var e odb.TreeEntry
	for it.Next(&e) {
		if e.Mode == odb.ModeDir || e.Mode&modeTypeMask == modeGitlink || len(e.Name) > 16 {
			continue
		}
		for i, n := range readmeNames[:best] {
			if strings.EqualFold(string(e.Name), n) {
				best, name = i, string(e.Name)
				break
			}
		}
	}
	return name, it.Err()
}

// log walks history from tip, newest committer time first, as git log
// does, for at most n commits.
func (s *session) log(tip plumbing.Hash, n int) ([]gatehouse.CommitSummary, error) {
	n = min(max(n, 1), MaxLog)
	type pending struct {
		id   plumbing.Hash
		c    commit
		when int64
	}
	seen := map[plumbing.Hash]bool{tip: true}
	c, err := s.commit(tip)
	if err != nil {
		return nil, err
	}
	queue := []pending{{tip, c, c.When}}
	var out []gatehouse.CommitSummary
	for visited := 0; len(queue) > 0 && len(out) < n && visited < maxWalk; visited++ {
		best := 0
		for i := range queue {
			if queue[i].when > queue[best].when {
				best = i
			}
		}
		p := queue[best]
		queue = append(queue[:best], queue[best+1:]...)
		out = append(out, p.c.summary(p.id))
		for _, parent := range p.c.Parents {
			if seen[parent] || len(seen) > maxWalk {
				continue
			}
			seen[parent] = true
			pc, err := s.commit(parent)
			if errors.Is(err, gatehouse.ErrNotFound) {
				continue // a shallow or damaged history ends here
			}
			if err != nil {
				return nil, err
			}
			queue = append(queue, pending{parent, pc, pc.When})
		}
	}
	return out, nil
}

// lookup follows path from the commit's root tree: the entry's id and
// mode; the root tree for "".
func (s *session) lookup(c commit, path string) (plumbing.Hash, uint32, error) {
	if err := gatehouse.ValidateBrowsePath(path); err != nil {
		return plumbing.ZeroHash, 0, err
	}
	id, mode := c.Tree, uint32(odb.ModeDir)
	if path == "" {
		return id, mode, nil
	}
	for part := range strings.SplitSeq(path, "/") {
		if mode != odb.ModeDir {
			return id, mode, fmt.Errorf("path %q: %w", path, gatehouse.ErrNotFound)
		}
		data, err := s.read(id, plumbing.TreeObject)
		if err != nil {
			return id, mode, err
		}
		it := odb.NewTreeIter(data)
		var e odb.TreeEntry
		found := false
		for it.Next(&e) {
			if string(e.Name) == part {
				id, mode, found = e.ID, e.Mode, true
				break
			}
		}
		if err := it.Err(); err != nil {
			return id, mode, err
		}
		if !found {
			return id, mode, fmt.Errorf("path %q: %w", path, gatehouse.ErrNotFound)
		}
	}
	return id, mode, nil
}

const (
	modeGitlink  = 0o160000
	modeTypeMask = 0o170000
)

// Tree lists the directory path at ref.
func (b *Browser) Tree(ctx context.Context, r *gatehouse.Repo, ref, path string) (*gatehouse.TreeListing, error) {
	s, done, err := b.open(ctx, r)
	if err != nil {
		return nil, err
	}
	defer done()
	cid, err := s.resolve(ref)
	if err != nil {
		return nil, err
	}
	c, err := s.commit(cid)
	if err != nil {
		return nil, err
	}
	id, mode, err := s.lookup(c, path)
	if err != nil {
		return nil, err
	}
	if mode != odb.ModeDir {
		return nil, fmt.Errorf("%q is not a directory: %w", path, gatehouse.ErrNotFound)
	}
	data, err := s.read(id, plumbing.TreeObject)
	if err != nil {
		return nil, err
	}
	t := &gatehouse.TreeListing{Ref: ref, Commit: cid.String(), Path: path}
	it := odb.NewTreeIter(data)
	var e odb.TreeEntry
	var files, dirs []gatehouse.TreeItem
	for it.Next(&e) {
		if len(files)+len(dirs) >= MaxTreeEntries {
			t.Truncated = true
			break
		}
		name := strings.ToValidUTF8(string(e.Name), "\uFFFD")
		item := gatehouse.TreeItem{Name: name, Path: strings.TrimPrefix(path+"/"+name, "/")}
		switch {
		case e.Mode == odb.ModeDir:
			item.Dir = true
			dirs = append(dirs, item)
			continue
		case e.Mode&modeTypeMask == modeGitlink:
			item.Submodule = true
		default:
			item.Size = -1
			if _, size, err := s.odb.Header(e.ID); err == nil {
				item.Size = size
			}
		}
		files = append(files, item)
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	t.Items = append(dirs, files...)
	return t, nil
}

// File reads the file path at ref; its content when it is text no larger
// than MaxFileSize.
func (b *Browser) File(ctx context.Context, r *gatehouse.Repo, ref, path string) (*gatehouse.FileView, error) {
	s, done, err := b.open(ctx, r)
	if err != nil {
		return nil, err
	}
	defer done()
	f, id, err := s.file(ref, path)
	if err != nil {
		return nil, err
	}
	if f.Size > s.max {
		f.TooLarge = true
		return f, nil
	}
	data, err := s.blob(id)
	if err != nil {
		return nil, err
	}
	if binary(data) {
		f.Binary = true
		return f, nil
	}
	f.Content = data
	return f, nil
}

func (s *session) file(ref, path string) (*gatehouse.FileView, plumbing.Hash, error) {
	if path == "" {
		return nil, plumbing.ZeroHash, fmt.Errorf("no file named: %w", gatehouse.ErrInvalid)
	}
	cid, err := s.resolve(ref)
	if err != nil {
		return nil, cid, err
	}
	c, err := s.commit(cid)
	if err != nil {
		return nil, cid, err
	}
	id, mode, err := s.lookup(c, path)
	if err != nil {
		return nil, id, err
	}
	if mode == odb.ModeDir || mode&modeTypeMask == modeGitlink {
		return nil, id, fmt.Errorf("%q is not a file: %w", path, gatehouse.ErrNotFound)
	}
	_, size, err := s.odb.Header(id)
	if err != nil {
		return nil, id, err
	}
	return &gatehouse.FileView{Ref: ref, Commit: cid.String(), Path: path, Size: size}, id, nil
}

// blob reads a blob of at most s.max bytes whole.
func (s *session) blob(id plumbing.Hash) ([]byte, error) {
	_, size, rc, err := s.odb.Read(id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > s.max {
		return nil, fmt.Errorf("blob %s: %w", id, odb.ErrTooLarge)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(rc, data); err != nil {
		return nil, err
	}
	return data, nil
}

// binary reports whether data looks binary, as git decides: a NUL in the
// first 8000 bytes.
func binary(data []byte) bool {
	return bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0
}

// Raw streams the file path at ref, whatever its size, with its size.
// The caller closes the stream.
func (b *Browser) Raw(ctx context.Context, r *gatehouse.Repo, ref, path string) (int64, io.ReadCloser, error) {
	dir, err := b.Dir(r.Owner, r.Name)
	if err != nil {
		return 0, nil, err
	}
	rd := odb.OpenReader(dir, odb.Limits{})
	s := &session{ctx: ctx, dir: dir, odb: rd, max: b.MaxFileSize}
	_, id, err := s.file(ref, path)
	if err != nil {
		rd.Close()
		return 0, nil, err
	}
	_, size, rc, err := rd.Read(id)
	if err != nil {
		rd.Close()
		return 0, nil, err
	}
	return size, &rawStream{rc, rd}, nil
}

type rawStream struct {
	io.ReadCloser
	rd *odb.Reader
}

func (r *rawStream) Close() error {
	err := r.ReadCloser.Close()
	r.rd.Close()
	return err
}

// Subjects returns the subjects of the commits ids names (the first
// gatehouse.MaxSubjects); ids that are not commits of r are left out.
func (b *Browser) Subjects(ctx context.Context, r *gatehouse.Repo, ids []string) (map[string]string, error) {
	s, done, err := b.open(ctx, r)
	if err != nil {
		return nil, err
	}
	defer done()
	out := map[string]string{}
	for _, hex := range ids[:min(len(ids), gatehouse.MaxSubjects)] {
		id, err := odb.ParseID(hex)
		if err != nil {
			continue
		}
		c, err := s.commit(id)
		if errors.Is(err, errTimeout) {
			return out, nil
		}
		if err != nil {
			continue
		}
		out[hex] = c.summary(id).Subject
	}
	return out, nil
}
