package keys

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"gatehouse"
)

var _ gatehouse.RepoStore = (*RepoStore)(nil)

// RepoStore keeps repository metadata and grants in the database. It
// knows nothing of the repositories on disk.
type RepoStore struct {
	db *DB
}

// NewRepoStore returns a RepoStore backed by db.
func NewRepoStore(db *DB) *RepoStore {
	return &RepoStore{db: db}
}

// defaultBranch is used when a repository is created without one.
const defaultBranch = "main"

// maxDescription keeps descriptions to a paragraph.
const maxDescription = 1024

// CreateRepo stores r, filling ID, OwnerID, the times and, when empty,
// DefaultBranch. ErrInvalid for bad names or fields, ErrNotFound for an
// unknown owner, ErrConflict if the owner has a repository by that name.
func (s *RepoStore) CreateRepo(ctx context.Context, r *gatehouse.Repo) error {
	if r.DefaultBranch == "" {
		r.DefaultBranch = defaultBranch
	}
	// Validated before the transaction so that bad input never waits for
	// the write lock.
	if err := validateRepo(r); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	// The owner is a user or an organization.
	ownerID, err := findOwnerByName(ctx, tx, r.Owner)
	if err != nil {
		return err
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO repos
		(owner_id, name, private, description, default_branch, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		ownerID, r.Name, r.Private, r.Description, r.DefaultBranch, formatTime(tx.now), formatTime(tx.now)).Scan(&id); err != nil {
		return translate(err, "repository "+quote(r.FullName()))
	}
	if err := tx.Commit(); err != nil {
		return translate(err, "repository "+quote(r.FullName()))
	}
	r.ID, r.OwnerID, r.CreatedAt, r.UpdatedAt = id, ownerID, tx.now, tx.now
	return nil
}

// FindRepo returns ErrNotFound if owner/name does not exist.
func (s *RepoStore) FindRepo(ctx context.Context, owner, name string) (*gatehouse.Repo, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findRepo(ctx, tx, owner, name)
}

// FindRepos lists repositories by owner and name. With f.ReadableBy set,
// each candidate is judged by gatehouse.Decide, exactly as a fetch would
// be, with f.AnonRead as the server's --anon-read setting.
func (s *RepoStore) FindRepos(ctx context.Context, f gatehouse.RepoFilter) ([]*gatehouse.Repo, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	q := `SELECT ` + repoColumns + ` FROM repos r JOIN users u ON u.id = r.owner_id`
	var args []any
	if f.Owner != "" {
		q += ` WHERE u.name = ?`
		args = append(args, f.Owner)
	}
	q += ` ORDER BY u.name, r.name`
	repos, err := queryRepos(ctx, tx, q, args...)
	if err != nil || f.ReadableBy == nil {
		return repos, err
	}

	// The grants are read in one query rather than per repository, but the
	// verdict is Decide's alone: no access rule is restated in SQL.
	actor := *f.ReadableBy
	grants := map[int64]gatehouse.AccessLevel{}
	teamGrants := map[int64][]gatehouse.AccessLevel{}
	var userID int64
	if actor.User != nil {
		userID = actor.User.ID
		if grants, err = findGrants(ctx, tx, userID); err != nil {
			return nil, err
		}
		if teamGrants, err = findTeamGrants(ctx, tx, userID, 0); err != nil {
			return nil, err
		}
	}
	orgs, err := findOrgFacts(ctx, tx, userID)
	if err != nil {
		return nil, err
	}
	readable := repos[:0] // filtered in place; repos is not used after
	for _, r := range repos {
		facts := gatehouse.AccessFacts{Actor: actor, Owner: r.Owner, Repo: r, Grant: grants[r.ID],
			Org: orgs[r.OwnerID], TeamGrants: teamGrants[r.ID], AnonRead: f.AnonRead}
		if gatehouse.Decide(facts, gatehouse.OpRead).Allow {
			readable = append(readable, r)
		}
	}
	return readable, nil
}

// UpdateRepo applies upd and bumps UpdatedAt. ErrNotFound, ErrInvalid.
func (s *RepoStore) UpdateRepo(ctx context.Context, owner, name string, upd gatehouse.RepoUpdate) (*gatehouse.Repo, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	r, err := findRepo(ctx, tx, owner, name)
	if err != nil {
		return nil, err
	}
	if upd.Private != nil {
		r.Private = *upd.Private
	}
	if upd.Description != nil {
		r.Description = *upd.Description
	}
	if upd.DefaultBranch != nil {
		r.DefaultBranch = *upd.DefaultBranch
	}
	if err := validateRepo(r); err != nil {
		return nil, err
	}
	r.UpdatedAt = tx.now
	if _, err := tx.ExecContext(ctx, `UPDATE repos
		SET private = ?, description = ?, default_branch = ?, updated_at = ? WHERE id = ?`,
		r.Private, r.Description, r.DefaultBranch, formatTime(r.UpdatedAt), r.ID); err != nil {
		return nil, translate(err, "repository "+quote(r.FullName()))
	}
	if err := tx.Commit(); err != nil {
		return nil, translate(err, "repository "+quote(r.FullName()))
	}
	return r, nil
}

// RenameRepo moves owner/name to newOwner/newName, keeping its grants.
// ErrInvalid for bad new names, ErrNotFound for an unknown repository or
// new owner, ErrConflict if the new name is taken.
func (s *RepoStore) RenameRepo(ctx context.Context, owner, name, newOwner, newName string) (*gatehouse.Repo, error) {
	if err := gatehouse.ValidateName(newOwner); err != nil {
		return nil, err
	}
	if err := gatehouse.ValidateName(newName); err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	r, err := findRepo(ctx, tx, owner, name)
	if err != nil {
		return nil, err
	}
	ownerID, err := findOwnerByName(ctx, tx, newOwner)
	if err != nil {
		return nil, err
	}
	// Grants and deploy keys hang on the ID and move along. The UNIQUE
	// (owner_id, name) constraint reports a taken name.
	subject := "repository " + quote(newOwner+"/"+newName)
	if _, err := tx.ExecContext(ctx, `UPDATE repos SET owner_id = ?, name = ?, updated_at = ? WHERE id = ?`,
		ownerID, newName, formatTime(tx.now), r.ID); err != nil {
		return nil, translate(err, subject)
	}
	if err := tx.Commit(); err != nil {
		return nil, translate(err, subject)
	}
	r.OwnerID, r.Owner, r.Name, r.UpdatedAt = ownerID, newOwner, newName, tx.now
	return r, nil
}

// DeleteRepo removes the repository's metadata with its grants, deploy
// keys and branch rules. ErrNotFound if it does not exist.
func (s *RepoStore) DeleteRepo(ctx context.Context, owner, name string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	r, err := findRepo(ctx, tx, owner, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM repos WHERE id = ?`, r.ID); err != nil {
		return translate(err, "repository "+quote(r.FullName()))
	}
	return translate(tx.Commit(), "repository "+quote(r.FullName()))
}

// SetCollaborator grants user the level on owner/name, replacing an
// earlier grant. ErrInvalid unless level is read, write or admin;
// ErrNotFound for an unknown repository or user.
func (s *RepoStore) SetCollaborator(ctx context.Context, owner, name, user string, level gatehouse.AccessLevel) error {
	if level < gatehouse.AccessRead || level > gatehouse.AccessAdmin {
		return invalid("access level %s must be read, write or admin", level)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	r, err := findRepo(ctx, tx, owner, name)
	if err != nil {
		return err
	}
	u, err := findUserByName(ctx, tx, user)
	if err != nil {
		return err
	}
	subject := "collaborator " + quote(user) + " on " + quote(r.FullName())
	// An upsert, which PostgreSQL spells the same way.
	if _, err := tx.ExecContext(ctx, `INSERT INTO collaborators (repo_id, user_id, level) VALUES (?, ?, ?)
		ON CONFLICT (repo_id, user_id) DO UPDATE SET level = excluded.level`,
		r.ID, u.ID, int(level)); err != nil {
		return translate(err, subject)
	}
	return translate(tx.Commit(), subject)
}

// RemoveCollaborator withdraws user's grant on owner/name. ErrNotFound for
// an unknown repository or user, or a user without a grant.
func (s *RepoStore) RemoveCollaborator(ctx context.Context, owner, name, user string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	r, err := findRepo(ctx, tx, owner, name)
	if err != nil {
		return err
	}
	u, err := findUserByName(ctx, tx, user)
	if err != nil {
		return err
	}
	subject := "collaborator " + quote(user) + " on " + quote(r.FullName())
	if err := execOne(ctx, tx, subject, notFound("%s", subject),
		`DELETE FROM collaborators WHERE repo_id = ? AND user_id = ?`, r.ID, u.ID); err != nil {
		return err
	}
	return translate(tx.Commit(), subject)
}

// FindCollaborators lists the grants on owner/name by user name.
// ErrNotFound for an unknown repository.
func (s *RepoStore) FindCollaborators(ctx context.Context, owner, name string) ([]*gatehouse.Collaborator, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	r, err := findRepo(ctx, tx, owner, name)
	if err != nil {
		return nil, err
	}
	subject := "collaborators on " + quote(r.FullName())
	rows, err := tx.QueryContext(ctx, `SELECT u.name, c.level
		FROM collaborators c JOIN users u ON u.id = c.user_id
		WHERE c.repo_id = ? ORDER BY u.name`, r.ID)
	if err != nil {
		return nil, translate(err, subject)
	}
	defer rows.Close()
	var cs []*gatehouse.Collaborator
	for rows.Next() {
		var c gatehouse.Collaborator
		var level int
		if err := rows.Scan(&c.User, &level); err != nil {
			return nil, translate(err, subject)
		}
		c.Level = gatehouse.AccessLevel(level)
		cs = append(cs, &c)
	}
	return cs, translate(rows.Err(), subject)
}

// AccessFacts gathers what gatehouse.Decide needs to judge actor on
// owner/name: the repository (nil if it does not exist), the grant to
// actor.User, the grants to the teams actor.User is in, and, when owner
// is an organization, actor.User's role in it and its default level.
// AnonRead is left false for the caller to fill. Any lookup error is
// returned, and the caller must then deny.
func (s *RepoStore) AccessFacts(ctx context.Context, actor gatehouse.Actor, owner, name string) (*gatehouse.AccessFacts, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	facts := &gatehouse.AccessFacts{Actor: actor, Owner: owner}
	// The organization matters even when the repository does not exist:
	// its admins may create it by pushing.
	var userID int64
	if actor.User != nil {
		userID = actor.User.ID
	}
	if facts.Org, err = orgFactsByName(ctx, tx, owner, userID); err != nil {
		return nil, err
	}
	r, err := findRepo(ctx, tx, owner, name)
	switch {
	case errors.Is(err, gatehouse.ErrNotFound):
		return facts, nil
	case err != nil:
		return nil, err
	}
	facts.Repo = r
	// Only users have grants; a deploy key's reach is in the key itself.
	if actor.User == nil {
		return facts, nil
	}
	teamGrants, err := findTeamGrants(ctx, tx, userID, r.ID)
	if err != nil {
		return nil, err
	}
	facts.TeamGrants = teamGrants[r.ID]
	var level int
	err = tx.QueryRowContext(ctx, `SELECT level FROM collaborators WHERE repo_id = ? AND user_id = ?`,
		r.ID, actor.User.ID).Scan(&level)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// No grant: Grant stays AccessNone.
	case err != nil:
		return nil, translate(err, "grants on "+quote(r.FullName()))
	default:
		facts.Grant = gatehouse.AccessLevel(level)
	}
	return facts, nil
}

func findRepo(ctx context.Context, tx *Tx, owner, name string) (*gatehouse.Repo, error) {
	full := quote(owner + "/" + name)
	repos, err := queryRepos(ctx, tx, `SELECT `+repoColumns+`
		FROM repos r JOIN users u ON u.id = r.owner_id
		WHERE u.name = ? AND r.name = ?`, owner, name)
	if err != nil {
		return nil, translate(err, "repository "+full)
	}
	// Also the answer for a repository the caller may not see; the layer
	// that applies Decide keeps the two indistinguishable.
	if len(repos) == 0 {
		return nil, notFound("repository %s", full)
	}
	return repos[0], nil
}

// findGrants maps repository IDs to the level granted to the user.
func findGrants(ctx context.Context, tx *Tx, userID int64) (map[int64]gatehouse.AccessLevel, error) {
	rows, err := tx.QueryContext(ctx, `SELECT repo_id, level FROM collaborators WHERE user_id = ?`, userID)
	if err != nil {
		return nil, translate(err, "grants")
	}
	defer rows.Close()
	grants := map[int64]gatehouse.AccessLevel{}
	for rows.Next() {
		var id int64
		var level int
		if err := rows.Scan(&id, &level); err != nil {
			return nil, translate(err, "grants")
		}
		grants[id] = gatehouse.AccessLevel(level)
	}
	return grants, translate(rows.Err(), "grants")
}

// repoColumns goes with queryRepos; the query must join users as u.
const repoColumns = `r.id, u.name, r.owner_id, r.name, r.private, r.description, r.default_branch, r.created_at, r.updated_at`

func queryRepos(ctx context.Context, tx *Tx, q string, args ...any) ([]*gatehouse.Repo, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate(err, "repositories")
	}
	defer rows.Close()
	var repos []*gatehouse.Repo
	for rows.Next() {
		var r gatehouse.Repo
		if err := rows.Scan(&r.ID, &r.Owner, &r.OwnerID, &r.Name, &r.Private, &r.Description,
			&r.DefaultBranch, timeDest{&r.CreatedAt}, timeDest{&r.UpdatedAt}); err != nil {
			return nil, translate(err, "repositories")
		}
		repos = append(repos, &r)
	}
	return repos, translate(rows.Err(), "repositories")
}

func validateRepo(r *gatehouse.Repo) error {
	if err := gatehouse.ValidateName(r.Owner); err != nil {
		return err
	}
	if err := gatehouse.ValidateName(r.Name); err != nil {
		return err
	}
	if len(r.Description) > maxDescription {
		return invalid("description is longer than %d bytes", maxDescription)
	}
	return validateBranch(r.DefaultBranch)
}

// validateBranch applies the parts of git check-ref-format that matter to
// a branch name given on the CLI or the web, so that HEAD can always be
// pointed at refs/heads/<name>.
func validateBranch(b string) error {
	bad := b == "" || b == "@" || len(b) > 255 ||
		strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") || strings.HasPrefix(b, ".") ||
		strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".") || strings.HasSuffix(b, ".lock") || strings.Contains(b, ".lock/") ||
		strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "@{") ||
		strings.Contains(b, "/.")
	for i := 0; !bad && i < len(b); i++ {
		c := b[i]
		bad = c < 0x20 || c == 0x7f || strings.IndexByte(" ~^:?*[\\", c) >= 0
	}
	if bad {
		return invalid("branch name %q is not a valid git branch name", b)
	}
	return nil
}
