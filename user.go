package gatehouse

import (
	"context"
	"time"
)

// User is a person (or a bot) known by one or more public keys.
type User struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Admin     bool      `json:"admin"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

// UserUpdate holds the fields to change; nil means leave as is.
type UserUpdate struct {
	Admin    *bool
	Disabled *bool
}

// UserService manages users.
type UserService interface {
	// CreateUser validates u.Name and stores u, filling ID and CreatedAt.
	// ErrInvalid for a bad name, ErrConflict if the name is taken.
	CreateUser(ctx context.Context, u *User) error
	// FindUserByName returns ErrNotFound if there is no such user.
	FindUserByName(ctx context.Context, name string) (*User, error)
	// FindUsers lists all users by name.
	FindUsers(ctx context.Context) ([]*User, error)
	// UpdateUser applies upd; ErrNotFound if there is no such user.
	UpdateUser(ctx context.Context, name string, upd UserUpdate) (*User, error)
	// DeleteUser removes the user with its keys and grants. It is refused
	// with ErrConflict while the user owns repositories.
	DeleteUser(ctx context.Context, name string) error
	// CountUsers says how many users exist (first-start bootstrap).
	CountUsers(ctx context.Context) (int, error)
}
