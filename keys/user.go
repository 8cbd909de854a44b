package keys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gatehouse"
)

var _ gatehouse.UserService = (*UserService)(nil)

// UserService keeps users in the database.
type UserService struct {
	db *DB
}

// NewUserService returns a UserService backed by db.
func NewUserService(db *DB) *UserService {
	return &UserService{db: db}
}

// CreateUser validates u.Name and stores u, filling ID and CreatedAt.
// ErrInvalid for a bad name, ErrConflict if the name is taken.
func (s *UserService) CreateUser(ctx context.Context, u *gatehouse.User) error {
	// Names become paths on disk and in URLs; only ValidateName decides.
	if err := gatehouse.ValidateName(u.Name); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	if err := createUser(ctx, tx, u); err != nil {
		return err
	}
	return tx.Commit()
}

// FindUserByName returns ErrNotFound if there is no such user.
func (s *UserService) FindUserByName(ctx context.Context, name string) (*gatehouse.User, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findUserByName(ctx, tx, name)
}

// FindUsers lists all users by name.
func (s *UserService) FindUsers(ctx context.Context) ([]*gatehouse.User, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	rows, err := tx.QueryContext(ctx, `SELECT id, name, admin, disabled, created_at FROM users
		WHERE `+notOrg+` ORDER BY name`)
	if err != nil {
		return nil, translate(err, "list users")
	}
	defer rows.Close()
	var users []*gatehouse.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, translate(rows.Err(), "list users")
}

// UpdateUser applies upd; ErrNotFound if there is no such user.
func (s *UserService) UpdateUser(ctx context.Context, name string, upd gatehouse.UserUpdate) (*gatehouse.User, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	u, err := findUserByName(ctx, tx, name)
	if err != nil {
		return nil, err
	}
	if upd.Admin != nil {
		u.Admin = *upd.Admin
	}
	if upd.Disabled != nil {
		u.Disabled = *upd.Disabled
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET admin = ?, disabled = ? WHERE id = ?`,
		u.Admin, u.Disabled, u.ID); err != nil {
		return nil, translate(err, "user "+quote(name))
	}
	if err := tx.Commit(); err != nil {
		return nil, translate(err, "user "+quote(name))
	}
	return u, nil
}

// DeleteUser removes the user with their keys, grants and tokens.
// ErrNotFound for an unknown user; ErrConflict while the user owns
// repositories, which must be deleted or renamed away first.
func (s *UserService) DeleteUser(ctx context.Context, name string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	u, err := findUserByName(ctx, tx, name)
	if err != nil {
		return err
	}
	// Repositories are not deleted with their owner: their content lives on
	// disk and the store cannot remove it. The foreign key on repos would
	// refuse too, but with a less helpful message.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM repos WHERE owner_id = ?`, u.ID).Scan(&n); err != nil {
		return translate(err, "user "+quote(name))
	}
	if n > 0 {
		return kindError{fmt.Sprintf("user %q still owns %d repositories; remove or move them first", name, n), gatehouse.ErrConflict}
	}
	// Keys, grants and tokens go by ON DELETE CASCADE.
	if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, u.ID); err != nil {
		return translate(err, "user "+quote(name))
	}
	return tx.Commit()
}

// CountUsers says how many users exist.
func (s *UserService) CountUsers(ctx context.Context) (int, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()

	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE `+notOrg).Scan(&n); err != nil {
		return 0, translate(err, "count users")
	}
	return n, nil
}

// notOrg keeps organizations, which are rows in users (0005_orgs.sql),
// out of a query on users: an organization is never a user.
const notOrg = `id NOT IN (SELECT id FROM orgs)`

func createUser(ctx context.Context, tx *Tx, u *gatehouse.User) error {
	// One namespace: checked in this transaction for the message, and
	// enforced by UNIQUE (users.name) either way.
	if err := nameFree(ctx, tx, u.Name, "user"); err != nil {
		return err
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO users (name, admin, disabled, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
		u.Name, u.Admin, u.Disabled, formatTime(tx.now)).Scan(&id); err != nil {
		return translate(err, "user "+quote(u.Name))
	}
	u.ID, u.CreatedAt = id, tx.now
	return nil
}

func findUserByName(ctx context.Context, tx *Tx, name string) (*gatehouse.User, error) {
	row := tx.QueryRowContext(ctx, `SELECT id, name, admin, disabled, created_at FROM users
		WHERE name = ? AND `+notOrg, name)
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("user %q", name)
	}
	if err != nil {
		return nil, translate(err, "user "+quote(name))
	}
	return u, nil
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

func scanUser(sc scanner) (*gatehouse.User, error) {
	var u gatehouse.User
	if err := sc.Scan(&u.ID, &u.Name, &u.Admin, &u.Disabled, timeDest{&u.CreatedAt}); err != nil {
		return nil, err
	}
	return &u, nil
}
