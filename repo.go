package gatehouse

import (
	"context"
	"encoding/json"
	"io"
	"time"
)

// Repo is a repository's metadata; its content lives on disk.
type Repo struct {
	ID            int64     `json:"id"`
	Owner         string    `json:"owner"`
	OwnerID       int64     `json:"owner_id"`
	Name          string    `json:"name"`
	Private       bool      `json:"private"`
	Description   string    `json:"description"`
	DefaultBranch string    `json:"default_branch"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// FullName is "owner/name".
func (r *Repo) FullName() string { return r.Owner + "/" + r.Name }

// Visibility is "private" or "public", as listings show it.
func (r *Repo) Visibility() string {
	if r.Private {
		return "private"
	}
	return "public"
}

// RepoFilter narrows FindRepos; zero fields match everything.
type RepoFilter struct {
	Owner string
	// ReadableBy, when set, keeps only repositories that actor may read.
	ReadableBy *Actor
	// AnonRead is the server's --anon-read setting, used with ReadableBy.
	AnonRead bool
}

// RepoUpdate holds the fields to change; nil means leave as is.
type RepoUpdate struct {
	Private       *bool
	Description   *string
	DefaultBranch *string
}

// Collaborator is a user granted a level on a repository.
type Collaborator struct {
	User  string      `json:"user"`
	Level AccessLevel `json:"level"`
}

// RepoStore keeps repository metadata and grants. Implemented by the
// database; it knows nothing of the repositories on disk.
type RepoStore interface {
	// CreateRepo stores r (Owner names an existing user), filling ID,
	// OwnerID and times. ErrInvalid, ErrNotFound (owner), ErrConflict.
	CreateRepo(ctx context.Context, r *Repo) error
	FindRepo(ctx context.Context, owner, name string) (*Repo, error)
	FindRepos(ctx context.Context, f RepoFilter) ([]*Repo, error)
	UpdateRepo(ctx context.Context, owner, name string, upd RepoUpdate) (*Repo, error)
	// RenameRepo moves owner/name to newOwner/newName (ErrConflict if taken).
	RenameRepo(ctx context.Context, owner, name, newOwner, newName string) (*Repo, error)
	DeleteRepo(ctx context.Context, owner, name string) error

	// SetCollaborator grants user the level on the repository, replacing
	// an earlier grant. ErrInvalid for AccessNone or an out-of-range level.
	SetCollaborator(ctx context.Context, owner, name, user string, level AccessLevel) error
	RemoveCollaborator(ctx context.Context, owner, name, user string) error
	FindCollaborators(ctx context.Context, owner, name string) ([]*Collaborator, error)

	// AccessFacts gathers what Decide needs to judge actor on owner/name.
	// A repository that does not exist is reported with Repo nil, not an
	// error; any lookup error is returned and the caller must deny.
	AccessFacts(ctx context.Context, actor Actor, owner, name string) (*AccessFacts, error)
}

// RepoService is the repository service the front ends use: metadata and
// disk kept together, and the access decision applied.
type RepoService interface {
	RepoStore
	// Authorize applies Decide to actor, owner/name and op. A denied read
	// (or any access to a repository actor may not see) is ErrNotFound, so
	// private repositories never leak; a denied write on a readable
	// repository is ErrForbidden. When op is OpWrite and Decide allows
	// creating, the repository is created (private) and returned.
	Authorize(ctx context.Context, actor Actor, owner, name string, op Operation) (*Repo, AccessLevel, error)
	// DiskUsage is the size in bytes of the repository's files on disk.
	// The caller has authorized the read.
	DiskUsage(ctx context.Context, owner, name string) (int64, error)
}

// GitSession is one Git command's streams.
type GitSession struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Protocol is the client's GIT_PROTOCOL value ("version=2"), or "".
	Protocol string
}

// RefUpdate is one ref changed by a push.
type RefUpdate struct {
	Name   string `json:"ref"`
	Old    string `json:"old"`
	New    string `json:"new"`
	Forced bool   `json:"forced,omitempty"`
}

// RefUpdates are the refs a push moved, in order. A push of tens of
// thousands of refs keeps them in its own compact form and makes each
// RefUpdate when asked for it, so that its readers (audit, events,
// hooks) can take them a chunk at a time. The zero value is empty.
type RefUpdates struct {
	n  int
	at func(i int) RefUpdate
}

// NewRefUpdates returns the n updates at(0) .. at(n-1); at must stay
// valid as long as the result is used.
func NewRefUpdates(n int, at func(i int) RefUpdate) RefUpdates {
	return RefUpdates{n: n, at: at}
}

// RefUpdatesOf returns RefUpdates holding us.
func RefUpdatesOf(us ...RefUpdate) RefUpdates {
	return RefUpdates{n: len(us), at: func(i int) RefUpdate { return us[i] }}
}

// Len is the number of updates.
func (u RefUpdates) Len() int { return u.n }

// At returns the ith update, 0 <= i < Len().
func (u RefUpdates) At(i int) RefUpdate { return u.at(i) }

// List returns every update in a new slice: for a few of them (tests,
// a hook's input).
func (u RefUpdates) List() []RefUpdate {
	l := make([]RefUpdate, u.n)
	for i := range l {
		l[i] = u.at(i)
	}
	return l
}

// MarshalJSON writes the updates as a JSON array.
func (u RefUpdates) MarshalJSON() ([]byte, error) { return json.Marshal(u.List()) }

// UnmarshalJSON reads what MarshalJSON wrote.
func (u *RefUpdates) UnmarshalJSON(b []byte) error {
	var l []RefUpdate
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*u = RefUpdatesOf(l...)
	return nil
}

// PushResult says what a push changed.
type PushResult struct {
	Updated RefUpdates
	// Head is set when the push set HEAD (the first push to an empty
	// repository chooses the default branch), as a branch name.
	Head string
	// PushOptions are the client's `git push -o` values, for hooks and
	// the log.
	PushOptions []string
}

// GitService serves the Git protocol for one repository the caller has
// already authorized.
type GitService interface {
	UploadPack(ctx context.Context, repo *Repo, s GitSession) error
	ReceivePack(ctx context.Context, repo *Repo, s GitSession) (*PushResult, error)
	// UploadArchive serves git-upload-archive (`git archive --remote`),
	// a read operation.
	UploadArchive(ctx context.Context, repo *Repo, s GitSession) error
}

// Ref is a branch or tag of a repository, as listings show it: Name
// without its "refs/heads/" or "refs/tags/" prefix.
type Ref struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

// RefLister lists a repository's refs. Implemented by the repository
// service; the caller has authorized the read.
type RefLister interface {
	// FindRefs returns up to max refs under prefix ("refs/heads/"),
	// sorted by name, and whether more were left out.
	FindRefs(ctx context.Context, owner, name, prefix string, max int) (refs []Ref, more bool, err error)
}
