package gatehouse

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Read-only code browsing in the panel: what a repository page shows of
// a repository's refs, history, trees, files and commits. Package
// repos/browse reads it through the object layer; backend authorizes it.

// Bounds on what a browsing URL names, checked before anything is read.
const (
	MaxBrowseRef  = 256
	MaxBrowsePath = 4096
	MaxSubjects   = 50
)

// BrowseRef is a branch or tag.
type BrowseRef struct {
	Name string // "main", "v1.0"
	Tag  bool
	ID   string // the commit it reaches
}

// CommitSummary is one commit of a log.
type CommitSummary struct {
	ID      string
	Subject string
	Author  string
	When    time.Time
}

// Short is the commit's abbreviated id.
func (c CommitSummary) Short() string { return ShortID(c.ID) }

// ShortID abbreviates a 40-digit object id to 10 digits, as git's default
// short ids read.
func ShortID(id string) string {
	if len(id) > 10 {
		return id[:10]
	}
	return id
}

// RepoOverview is what a repository page shows of its contents.
type RepoOverview struct {
	Branches []BrowseRef
	Tags     []BrowseRef
	// Head is the default branch's name ("" when the repository is empty).
	Head string
	Log  []CommitSummary
	// Readme is the name of the README at the top of the default
	// branch ("" for none).
	Readme string
	// Truncated: there are more refs than listed.
	Truncated bool
}

// TreeItem is one entry of a tree listing.
type TreeItem struct {
	Name string
	Path string // from the top of the repository
	Dir  bool
	// Submodule: a gitlink, whose commit is not in this repository.
	Submodule bool
	Size      int64 // files only
}

// TreeListing is a directory at a commit.
type TreeListing struct {
	Ref    string
	Commit string
	Path   string
	Items  []TreeItem
	// Truncated: the tree has more entries than listed.
	Truncated bool
}

// FileView is a file at a commit. Content is set for text that fits the
// display bound; binary and larger files are only described.
type FileView struct {
	Ref      string
	Commit   string
	Path     string
	Size     int64
	Binary   bool
	TooLarge bool
	Content  []byte
}

// FileChange is one file a commit changed, with its diff when bounded.
type FileChange struct {
	Path   string
	Status string // "added", "deleted", "modified"
	Binary bool
	// Lines is the unified diff's lines, each starting with ' ', '+', '-'
	// or '@'; nil when summarised (Skipped says why).
	Lines   []string
	Added   int
	Deleted int
	Skipped string
}

// CommitDetail is a commit with its changes against its first parent.
type CommitDetail struct {
	CommitSummary
	Message   string
	Committer string
	Parents   []string
	Changes   []FileChange
	// Truncated: more files changed than shown.
	Truncated bool
}

// CodeBrowser reads what the browsing pages show. Ref is a branch, a
// tag or a commit id; path is slash-separated, relative to the top.
type CodeBrowser interface {
	Overview(ctx context.Context, r *Repo, logLen int) (*RepoOverview, error)
	Tree(ctx context.Context, r *Repo, ref, path string) (*TreeListing, error)
	File(ctx context.Context, r *Repo, ref, path string) (*FileView, error)
	Commit(ctx context.Context, r *Repo, ref string) (*CommitDetail, error)
	// Subjects returns the subject lines of the commits ids names that
	// are in r (at most MaxSubjects of them), by id.
	Subjects(ctx context.Context, r *Repo, ids []string) (map[string]string, error)
	// Raw streams a file whatever its size; the caller closes it.
	Raw(ctx context.Context, r *Repo, ref, path string) (int64, io.ReadCloser, error)
}

// ValidateBrowsePath checks a path named in a browsing URL: bounded,
// relative, no empty, "." or ".." parts. "" is the top.
func ValidateBrowsePath(p string) error {
	if p == "" {
		return nil
	}
	if len(p) > MaxBrowsePath || strings.ContainsRune(p, 0) {
		return fmt.Errorf("path too long or not text: %w", ErrInvalid)
	}
	for part := range strings.SplitSeq(p, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("path %q: %w", p, ErrInvalid)
		}
	}
	return nil
}

// ValidateBrowseRef checks a ref named in a browsing URL: bounded,
// without "..", control characters or a leading '-'.
func ValidateBrowseRef(ref string) error {
	if ref == "" || len(ref) > MaxBrowseRef || strings.Contains(ref, "..") || strings.HasPrefix(ref, "-") || strings.HasPrefix(ref, "/") {
		return fmt.Errorf("ref %q: %w", ref, ErrInvalid)
	}
	for _, c := range ref {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return fmt.Errorf("ref %q: %w", ref, ErrInvalid)
		}
	}
	return nil
}

// ParsePushDetail reads a push's audit detail, "REF OLD NEW" with
// " forced" after it when forced, as backend writes it. A deleted ref's
// New is "" and a created ref's Old is "".
func ParsePushDetail(detail string) (RefUpdate, bool) {
	f := strings.Fields(detail)
	if len(f) < 3 || len(f[1]) != 40 || len(f[2]) != 40 {
		return RefUpdate{}, false
	}
	u := RefUpdate{Name: f[0], Old: f[1], New: f[2], Forced: len(f) > 3 && f[3] == "forced"}
	const zero = "0000000000000000000000000000000000000000"
	if u.Old == zero {
		u.Old = ""
	}
	if u.New == zero {
		u.New = ""
	}
	return u, true
}
