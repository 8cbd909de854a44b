package repos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gatehouse"
	"gatehouse/repos/archive"
	"gatehouse/repos/hooks"
	"gatehouse/repos/indexpack"
	"gatehouse/repos/lockfile"
	"gatehouse/repos/maintain"
	"gatehouse/repos/receivepack"
	"gatehouse/repos/refs"
	"gatehouse/repos/uploadpack"
)

// DefaultMaxPushSize bounds one incoming pack unless configured.
const DefaultMaxPushSize = 2 << 30

// DefaultMaxObjectSize bounds one object of an incoming pack unless
// configured.
const DefaultMaxObjectSize = indexpack.DefaultMaxObjectSize

// DefaultMaxRefUpdates bounds the ref updates of one push unless
// configured.
const DefaultMaxRefUpdates = receivepack.DefaultMaxCommands

// DefaultHookTimeout bounds each server hook of a push unless configured.
const DefaultHookTimeout = hooks.DefaultTimeout

// Service implements gatehouse.RepoService and gatehouse.GitService. The
// embedded RepoStore answers metadata questions; the methods here that
// also change the disk override it.
type Service struct {
	gatehouse.RepoStore
	// Root is the folder holding OWNER/NAME.git directories.
	Root string
	// AnonRead is the server's --anon-read setting, fed to Decide.
	AnonRead bool
	// Agent is sent to Git clients ("gatehouse/VERSION").
	Agent string
	// MaxPushSize bounds an incoming pack in bytes.
	MaxPushSize int64
	// MaxObjectSize bounds one object of an incoming pack in bytes; 0
	// means indexpack.DefaultMaxObjectSize.
	MaxObjectSize int64
	// MaxRefUpdates bounds the ref updates of one push; 0 means
	// receivepack.DefaultMaxCommands.
	MaxRefUpdates int
	// MaxArchiveSize bounds the files of one `git archive --remote`
	// (before compression); 0 means archive.DefaultMaxSize.
	MaxArchiveSize int64
	// Protection supplies the protected branch patterns every ref of a
	// push is checked against (see refChecker).
	Protection gatehouse.ProtectionService
	// MaxReposPerUser bounds how many repositories one owner may have;
	// CreateRepo refuses more (gatehouse.ErrLimit). 0 or less: no bound.
	MaxReposPerUser int
	// Audit, when set, records refs refused by the access rules.
	Audit  gatehouse.AuditService
	Logger *slog.Logger
	// Maintenance says when a push is followed by a background repack;
	// a zero Policy never asks for one. Close stops them.
	Maintenance maintain.Policy
	// HooksDir holds the server-wide hooks, in pre-receive.d, update.d
	// and post-receive.d (see package hooks); "" for none. A
	// repository's own hooks/ are run too.
	HooksDir string
	// HookTimeout bounds each hook's run; 0 means hooks.DefaultTimeout.
	HookTimeout time.Duration
	// Created, when set, is told of every repository Authorize creates
	// for a push (or an LFS upload) by actor, once it exists: the backend
	// raises the event a creation through the API raises, so it is
	// audited and webhooks hear it.
	Created func(ctx context.Context, actor gatehouse.Actor, r *gatehouse.Repo)

	// Locker, when set, serialises writes to one repository across the
	// nodes sharing the data folder: a push's ref transaction waits for
	// it at most LockWait, maintenance skips a repository another node
	// holds. Unset (one node), the in-process lock and the lock files do.
	Locker   gatehouse.RepoLocker
	LockWait time.Duration

	maint maintenance
	hooks hooks.Group // the pushes' hooks, killed by Close
}

var (
	_ gatehouse.RepoService = (*Service)(nil)
	_ gatehouse.GitService  = (*Service)(nil)
)

// NewService returns a Service over store with repositories under root.
func NewService(store gatehouse.RepoStore, root string) *Service {
	return &Service{RepoStore: store, Root: root, Agent: "gatehouse", MaxPushSize: DefaultMaxPushSize, Logger: slog.Default(),
		Maintenance: maintain.DefaultPolicy}
}

// Dir returns the directory of owner/name. The names are validated and
// the result checked to lie inside Root, so no input can reach elsewhere.
func (s *Service) Dir(owner, name string) (string, error) {
	if gatehouse.ValidateName(owner) != nil || gatehouse.ValidateName(name) != nil {
		return "", fmt.Errorf("repository %q: %w", owner+"/"+name, gatehouse.ErrInvalid)
	}
	root, err := filepath.Abs(s.Root)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, owner, name+".git")
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == "." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("repository %q: %w", owner+"/"+name, gatehouse.ErrInvalid)
	}
	return dir, nil
}

// UnregisteredError says that a repository's directory exists on disk
// with no metadata (left by a failed removal, or restored from a backup
// without its database): creating the repository would adopt whatever is
// there, so it is refused until an administrator decides (`gatehouse
// check` lists such directories).
//
// It matches gatehouse.ErrConflict: the name is taken.
type UnregisteredError struct {
	Repo string // OWNER/NAME
}

func (e *UnregisteredError) Error() string {
	return "repository " + e.Repo + " exists on disk but is not registered; an administrator can run `gatehouse check`"
}

func (e *UnregisteredError) Is(target error) bool {
	return target == gatehouse.ErrConflict
}

// CreateRepo stores r and creates its bare repository on disk, with HEAD
// at r.DefaultBranch ("main" when empty). If either step fails, neither
// is left behind.
//
// Errors: gatehouse.ErrInvalid, gatehouse.ErrLimit (too many for the
// owner), gatehouse.ErrConflict when the repository exists, and
// *UnregisteredError when only its directory does.
func (s *Service) CreateRepo(ctx context.Context, r *gatehouse.Repo) error {
	if r.DefaultBranch == "" {
		r.DefaultBranch = "main"
	}
	if err := refs.CheckName("refs/heads/" + r.DefaultBranch); err != nil {
		return fmt.Errorf("default branch %q: %w", r.DefaultBranch, gatehouse.ErrInvalid)
	}
	dir, err := s.Dir(r.Owner, r.Name)
	if err != nil {
		return err
	}
	if err := s.checkRepoCount(ctx, r.Owner); err != nil {
		return err
	}
	if err := s.RepoStore.CreateRepo(ctx, r); err != nil {
		return err
	}
	if err := initBare(dir, r.DefaultBranch); err != nil {
		if derr := s.RepoStore.DeleteRepo(context.WithoutCancel(ctx), r.Owner, r.Name); derr != nil {
			s.Logger.Error("undo repo create failed", "repo", r.FullName(), "err", derr)
		}
		if errors.Is(err, fs.ErrExist) {
			s.Logger.Warn("repository directory without metadata", "repo", r.FullName(), "dir", dir)
			return &UnregisteredError{Repo: r.FullName()}
		}
		return fmt.Errorf("create %s on disk: %w", r.FullName(), err)
	}
	return nil
}

// DeleteRepo removes the metadata, then the directory (moved aside first,
// so a half-deleted repository is never visible under its name).
func (s *Service) DeleteRepo(ctx context.Context, owner, name string) error {
	dir, err := s.Dir(owner, name)
	if err != nil {
		return err
	}
	if err := s.RepoStore.DeleteRepo(ctx, owner, name); err != nil {
		return err
	}
	trash := dir + deletedInfix + randomHex(6)
	if err := os.Rename(dir, trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("delete %s/%s on disk: %w", owner, name, err)
	}
	return os.RemoveAll(trash)
}

// RenameRepo renames the metadata and the directory together.
func (s *Service) RenameRepo(ctx context.Context, owner, name, newOwner, newName string) (*gatehouse.Repo, error) {
	from, err := s.Dir(owner, name)
	if err != nil {
		return nil, err
	}
	to, err := s.Dir(newOwner, newName)
	if err != nil {
		return nil, err
	}
	r, err := s.RepoStore.RenameRepo(ctx, owner, name, newOwner, newName)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err == nil {
		// os.Rename would replace an empty directory; refuse to.
		if _, serr := os.Stat(to); serr == nil {
			err = fs.ErrExist
		} else {
			err = os.Rename(from, to)
		}
	}
	if err != nil {
		if _, uerr := s.RepoStore.RenameRepo(context.WithoutCancel(ctx), newOwner, newName, owner, name); uerr != nil {
			s.Logger.Error("undo repo rename failed", "repo", owner+"/"+name, "err", uerr)
		}
		return nil, fmt.Errorf("rename %s/%s on disk: %w", owner, name, err)
	}
	return r, nil
}

// createRaces bounds how often Authorize decides again after losing a
// race to create a repository.
const createRaces = 3

// Authorize gathers the facts, applies gatehouse.Decide, and creates the
// repository when the decision says a push may create it.
func (s *Service) Authorize(ctx context.Context, actor gatehouse.Actor, owner, name string, op gatehouse.Operation) (*gatehouse.Repo, gatehouse.AccessLevel, error) {
	for race := 1; ; race++ {
		r, lvl, err := s.authorize(ctx, actor, owner, name, op)
		if race < createRaces && errors.Is(err, errCreateRace) {
			continue // created by a concurrent push: decide again on it
		}
		return r, lvl, err
	}
}

// errCreateRace marks a create that found the repository there already.
var errCreateRace = errors.New("created meanwhile")

func (s *Service) authorize(ctx context.Context, actor gatehouse.Actor, owner, name string, op gatehouse.Operation) (*gatehouse.Repo, gatehouse.AccessLevel, error) {
	notFound := fmt.Errorf("repository %s/%s: %w", owner, name, gatehouse.ErrNotFound)
	if gatehouse.ValidateName(owner) != nil || gatehouse.ValidateName(name) != nil {
		return nil, gatehouse.AccessNone, notFound
	}
	facts, err := s.RepoStore.AccessFacts(ctx, actor, owner, name)
	if err != nil {
		// Fail closed.
		return nil, gatehouse.AccessNone, fmt.Errorf("access facts for %s/%s: %w", owner, name, err)
	}
	facts.AnonRead = s.AnonRead
	d := gatehouse.Decide(*facts, op)
	switch {
	case d.Create:
		r := &gatehouse.Repo{Owner: owner, Name: name, Private: true}
		if err := s.CreateRepo(ctx, r); err != nil {
			var unreg *UnregisteredError
			if errors.Is(err, gatehouse.ErrConflict) && !errors.As(err, &unreg) {
				err = fmt.Errorf("%w: %w", errCreateRace, err)
			}
			return nil, gatehouse.AccessNone, err
		}
		if s.Created != nil {
			s.Created(ctx, actor, r)
		}
		return r, d.Level, nil
	case d.Allow:
		return facts.Repo, d.Level, nil
	case d.KeyRefused != nil:
		return nil, d.Level, fmt.Errorf("repository %s/%s: %w", owner, name, d.KeyRefused)
	case d.Level >= gatehouse.AccessRead:
		return nil, d.Level, fmt.Errorf("repository %s/%s: %w", owner, name, gatehouse.ErrForbidden)
	}
	return nil, gatehouse.AccessNone, notFound
}

// FindRepos lists repositories, applying the server's --anon-read
// setting to a ReadableBy filter.
func (s *Service) FindRepos(ctx context.Context, f gatehouse.RepoFilter) ([]*gatehouse.Repo, error) {
	f.AnonRead = s.AnonRead
	return s.RepoStore.FindRepos(ctx, f)
}

// DiskUsage sums the sizes of the repository's files (see DirSize).
func (s *Service) DiskUsage(ctx context.Context, owner, name string) (int64, error) {
	dir, err := s.Dir(owner, name)
	if err != nil {
		return 0, err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("repository %s/%s: %w", owner, name, gatehouse.ErrNotFound)
	}
	return DirSize(ctx, dir)
}

// DirSize sums the sizes of the regular files under dir; a missing dir
// is 0. It walks the tree, so it costs a stat per file: fine for a page
// view, not for a hot path.
func DirSize(ctx context.Context, dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			// A file removed meanwhile (a repack, a finished push) is fine.
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total, err
}

// UploadPack serves git-upload-pack (clone, fetch, ls-remote).
func (s *Service) UploadPack(ctx context.Context, r *gatehouse.Repo, gs gatehouse.GitSession) error {
	dir, err := s.Dir(r.Owner, r.Name)
	if err != nil {
		return err
	}
	return uploadpack.Serve(ctx, dir, gs.Stdin, gs.Stdout, uploadpack.Options{Agent: s.Agent, Protocol: gs.Protocol})
}

// UploadArchive serves git-upload-archive (`git archive --remote`),
// bounded by MaxArchiveSize.
func (s *Service) UploadArchive(ctx context.Context, r *gatehouse.Repo, gs gatehouse.GitSession) error {
	dir, err := s.Dir(r.Owner, r.Name)
	if err != nil {
		return err
	}
	return archive.Serve(ctx, dir, gs.Stdin, gs.Stdout, archive.Options{MaxSize: s.MaxArchiveSize})
}

// ReceivePack serves git-receive-pack (push) and records a default branch
// chosen by the first push.
func (s *Service) ReceivePack(ctx context.Context, r *gatehouse.Repo, gs gatehouse.GitSession) (*gatehouse.PushResult, error) {
	dir, err := s.Dir(r.Owner, r.Name)
	if err != nil {
		return nil, err
	}
	// Held for the whole push: ref lock files are swept only while no
	// push holds it (see maintain.Sweep).
	push, err := maintain.HoldPush(dir)
	if err != nil {
		return nil, err
	}
	opts := receivepack.Options{Agent: s.Agent, MaxPackSize: s.MaxPushSize, MaxObjectSize: s.MaxObjectSize, MaxCommands: s.MaxRefUpdates, CheckRef: s.refChecker(ctx, r)}
	if s.Locker != nil {
		opts.LockRepo = func() (func(), error) { return s.lockRepo(ctx, r) }
	}
	if opts.Hooks, err = s.pushHooks(ctx, r, dir); err != nil {
		push.Release()
		return nil, err
	}
	res, err := receivepack.Serve(ctx, dir, gs.Stdin, gs.Stdout, opts)
	push.Release()
	if res != nil && res.Head != "" {
		head := res.Head
		if _, uerr := s.RepoStore.UpdateRepo(context.WithoutCancel(ctx), r.Owner, r.Name, gatehouse.RepoUpdate{DefaultBranch: &head}); uerr != nil {
			s.Logger.Error("record default branch failed", "repo", r.FullName(), "err", uerr)
		}
	}
	if err == nil {
		s.maybeRepack(r, dir)
	}
	return res, err
}

// lockRepo takes r's write lock across the nodes for a push, waiting at
// most LockWait. Its error's text is what the client is shown: "repository
// busy, retry" past the wait; the database's errors are only logged.
func (s *Service) lockRepo(ctx context.Context, r *gatehouse.Repo) (func(), error) {
	unlock, err := s.Locker.LockRepo(ctx, r.ID, s.LockWait)
	switch {
	case errors.Is(err, gatehouse.ErrBusy):
		s.Logger.Warn("push refused: repository busy", "repo", r.FullName(), "wait", s.LockWait)
		return nil, fmt.Errorf("repository %w", gatehouse.ErrBusy)
	case err != nil:
		s.Logger.Error("push refused: repository lock", "repo", r.FullName(), "err", err)
		return nil, errors.New("repository lock failed")
	}
	return unlock, nil
}

// pushHooks finds the hooks of a push to r (nil when there are none, the
// common case) and what they are told of it: the pusher and the key it
// authenticated with come from the actor in ctx.
//
// Errors: the hooks' folders cannot be read; the push is refused then,
// since hooks that cannot be found cannot refuse it.
func (s *Service) pushHooks(ctx context.Context, r *gatehouse.Repo, dir string) (*hooks.Push, error) {
	hs, err := hooks.Find(s.HooksDir, dir)
	if err != nil {
		return nil, fmt.Errorf("push to %s: %w", r.FullName(), err)
	}
	if hs == nil {
		return nil, nil
	}
	actor, _ := gatehouse.ActorFromContext(ctx)
	return &hooks.Push{Hooks: hs, GitDir: dir, Repo: r.FullName(), User: actor.Name(), KeyFingerprint: actor.KeyFingerprint,
		Timeout: s.HookTimeout, Group: &s.hooks, Logger: s.Logger.With("repo", r.FullName())}, nil
}

// initBare writes an empty bare repository the way `git init --bare`
// would, in a temporary directory renamed into place, so a repository
// either exists whole or not at all.
func initBare(dir, branch string) error {
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("%s: %w", dir, fs.ErrExist)
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	// Locked while written, so a sweep tells it from a killed one's.
	tmp, lock, err := lockfile.MakeDir(parent, initPrefix+"*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	defer lock.Release()
	for _, d := range []string{"objects/info", "objects/pack", "refs/heads", "refs/tags", "hooks", "info"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			return err
		}
	}
	files := map[string]string{
		"HEAD":        "ref: refs/heads/" + branch + "\n",
		"config":      "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n",
		"description": "Unnamed repository; edit this file 'description' to name the repository.\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return os.Rename(tmp, dir)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

var _ gatehouse.RefLister = (*Service)(nil)

// FindRefs returns up to max refs of owner/name under prefix, sorted by
// name, with the prefix cut off, and whether more were left out. Only the
// refs returned are held.
func (s *Service) FindRefs(ctx context.Context, owner, name, prefix string, max int) ([]gatehouse.Ref, bool, error) {
	if _, err := s.FindRepo(ctx, owner, name); err != nil {
		return nil, false, err
	}
	dir, err := s.Dir(owner, name)
	if err != nil {
		return nil, false, err
	}
	var out []gatehouse.Ref
	for r, err := range refs.Each(dir, prefix) {
		if err != nil {
			return nil, false, fmt.Errorf("refs of %s/%s: %w", owner, name, err)
		}
		if len(out) == max {
			return out, true, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		out = append(out, gatehouse.Ref{Name: strings.TrimPrefix(r.Name, prefix), ID: r.ID})
	}
	return out, false, nil
}
