package keys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gatehouse"
)

var _ gatehouse.OrgService = (*OrgService)(nil)

// OrgService keeps organizations, memberships, teams and team grants in
// the database. An organization is a users row plus an orgs row (see
// migrations/0005_orgs.sql), so the two share one namespace.
type OrgService struct {
	db *DB
}

// NewOrgService returns an OrgService backed by db.
func NewOrgService(db *DB) *OrgService {
	return &OrgService{db: db}
}

// CreateOrg stores o, filling ID and CreatedAt. ErrInvalid for a bad
// name or a default level other than none or read; ErrConflict if a user
// or an organization has the name.
func (s *OrgService) CreateOrg(ctx context.Context, o *gatehouse.Organization) error {
	if err := gatehouse.ValidateName(o.Name); err != nil {
		return err
	}
	if err := validateDefaultLevel(o.DefaultLevel); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	// The check and both inserts are one transaction: a user of the same
	// name cannot appear in between (and UNIQUE (users.name) backs it).
	if err := nameFree(ctx, tx, o.Name, "organization"); err != nil {
		return err
	}
	subject := "organization " + quote(o.Name)
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO users (name, admin, disabled, created_at) VALUES (?, FALSE, FALSE, ?) RETURNING id`,
		o.Name, formatTime(tx.now)).Scan(&id); err != nil {
		return translate(err, subject)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO orgs (id, default_level) VALUES (?, ?)`, id, int(o.DefaultLevel)); err != nil {
		return translate(err, subject)
	}
	if err := tx.Commit(); err != nil {
		return translate(err, subject)
	}
	o.ID, o.CreatedAt = id, tx.now
	return nil
}

// FindOrgByName returns ErrNotFound if there is no such organization.
func (s *OrgService) FindOrgByName(ctx context.Context, name string) (*gatehouse.Organization, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findOrgByName(ctx, tx, name)
}

// FindOrgs lists the organizations f selects, by name.
func (s *OrgService) FindOrgs(ctx context.Context, f gatehouse.OrgFilter) ([]*gatehouse.Organization, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	q, args := `SELECT `+orgColumns, []any{}
	if f.Member != "" {
		q += ` WHERE u.id IN (SELECT m.org_id FROM org_members m JOIN users mu ON mu.id = m.user_id WHERE mu.name = ?)`
		args = append(args, f.Member)
	}
	rows, err := tx.QueryContext(ctx, q+` ORDER BY u.name`, args...)
	if err != nil {
		return nil, translate(err, "list organizations")
	}
	defer rows.Close()
	var orgs []*gatehouse.Organization
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, translate(err, "list organizations")
		}
		orgs = append(orgs, o)
	}
	return orgs, translate(rows.Err(), "list organizations")
}

// UpdateOrg applies upd. ErrInvalid, ErrNotFound.
func (s *OrgService) UpdateOrg(ctx context.Context, name string, upd gatehouse.OrgUpdate) (*gatehouse.Organization, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	o, err := findOrgByName(ctx, tx, name)
	if err != nil {
		return nil, err
	}
	if upd.DefaultLevel != nil {
		if err := validateDefaultLevel(*upd.DefaultLevel); err != nil {
			return nil, err
		}
		o.DefaultLevel = *upd.DefaultLevel
	}
	subject := "organization " + quote(name)
	if _, err := tx.ExecContext(ctx, `UPDATE orgs SET default_level = ? WHERE id = ?`, int(o.DefaultLevel), o.ID); err != nil {
		return nil, translate(err, subject)
	}
	return o, translate(tx.Commit(), subject)
}

// DeleteOrg removes the organization with its memberships, teams and
// their grants. ErrNotFound; ErrConflict while it owns repositories.
func (s *OrgService) DeleteOrg(ctx context.Context, name string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	o, err := findOrgByName(ctx, tx, name)
	if err != nil {
		return err
	}
	// As for users: repositories have content on disk the store cannot
	// remove, so they go first, through the repository service.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM repos WHERE owner_id = ?`, o.ID).Scan(&n); err != nil {
		return translate(err, "organization "+quote(name))
	}
	if n > 0 {
		return kindError{fmt.Sprintf("organization %q still owns %d repositories; remove or move them first (or --force)", name, n), gatehouse.ErrConflict}
	}
	// orgs, org_members, teams, team_members and team_grants go by
	// ON DELETE CASCADE from the users row.
	if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, o.ID); err != nil {
		return translate(err, "organization "+quote(name))
	}
	return translate(tx.Commit(), "organization "+quote(name))
}

// SetOrgMember adds user to org with role, or changes the role.
// ErrInvalid for an unknown role; ErrNotFound for an unknown org or user.
func (s *OrgService) SetOrgMember(ctx context.Context, org, user string, role gatehouse.OrgRole) error {
	if role != gatehouse.RoleMember && role != gatehouse.RoleAdmin {
		return invalid("role %q must be member or admin", role)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	o, err := findOrgByName(ctx, tx, org)
	if err != nil {
		return err
	}
	u, err := findUserByName(ctx, tx, user)
	if err != nil {
		return err
	}
	subject := "member " + quote(user) + " of " + quote(org)
	if _, err := tx.ExecContext(ctx, `INSERT INTO org_members (org_id, user_id, admin) VALUES (?, ?, ?)
		ON CONFLICT (org_id, user_id) DO UPDATE SET admin = excluded.admin`,
		o.ID, u.ID, role == gatehouse.RoleAdmin); err != nil {
		return translate(err, subject)
	}
	return translate(tx.Commit(), subject)
}

// RemoveOrgMember removes user from org and from all of org's teams, in
// one transaction: a team never keeps someone the organization dropped.
// ErrNotFound for an unknown org or user, or one who is not a member.
func (s *OrgService) RemoveOrgMember(ctx context.Context, org, user string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	o, err := findOrgByName(ctx, tx, org)
	if err != nil {
		return err
	}
	u, err := findUserByName(ctx, tx, user)
	if err != nil {
		return err
	}
	subject := "member " + quote(user) + " of " + quote(org)
	if err := execOne(ctx, tx, subject, notFound("%s", subject),
		`DELETE FROM org_members WHERE org_id = ? AND user_id = ?`, o.ID, u.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM team_members
		WHERE user_id = ? AND team_id IN (SELECT id FROM teams WHERE org_id = ?)`, u.ID, o.ID); err != nil {
		return translate(err, subject)
	}
	return translate(tx.Commit(), subject)
}

// FindOrgMembers lists org's members by user name. ErrNotFound for an
// unknown org.
func (s *OrgService) FindOrgMembers(ctx context.Context, org string) ([]*gatehouse.OrgMember, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	o, err := findOrgByName(ctx, tx, org)
	if err != nil {
		return nil, err
	}
	subject := "members of " + quote(org)
	rows, err := tx.QueryContext(ctx, `SELECT u.name, m.admin FROM org_members m JOIN users u ON u.id = m.user_id
		WHERE m.org_id = ? ORDER BY u.name`, o.ID)
	if err != nil {
		return nil, translate(err, subject)
	}
	defer rows.Close()
	var ms []*gatehouse.OrgMember
	for rows.Next() {
		var m gatehouse.OrgMember
		var admin bool
		if err := rows.Scan(&m.User, &admin); err != nil {
			return nil, translate(err, subject)
		}
		m.Role = roleOf(admin)
		ms = append(ms, &m)
	}
	return ms, translate(rows.Err(), subject)
}

// CreateTeam stores t, filling ID and CreatedAt. ErrInvalid for bad
// names, ErrNotFound for an unknown organization, ErrConflict if taken.
func (s *OrgService) CreateTeam(ctx context.Context, t *gatehouse.Team) error {
	if err := gatehouse.ValidateName(t.Name); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	o, err := findOrgByName(ctx, tx, t.Org)
	if err != nil {
		return err
	}
	subject := "team " + quote(t.FullName())
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO teams (org_id, name, created_at) VALUES (?, ?, ?) RETURNING id`,
		o.ID, t.Name, formatTime(tx.now)).Scan(&id); err != nil {
		return translate(err, subject)
	}
	if err := tx.Commit(); err != nil {
		return translate(err, subject)
	}
	t.ID, t.CreatedAt = id, tx.now
	return nil
}

// DeleteTeam removes org/team with its members and grants. ErrNotFound.
func (s *OrgService) DeleteTeam(ctx context.Context, org, team string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	t, err := findTeam(ctx, tx, org, team)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM teams WHERE id = ?`, t.ID); err != nil {
		return translate(err, "team "+quote(t.FullName()))
	}
	return translate(tx.Commit(), "team "+quote(t.FullName()))
}

// FindTeams lists org's teams by name. ErrNotFound for an unknown org.
func (s *OrgService) FindTeams(ctx context.Context, org string) ([]*gatehouse.Team, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	o, err := findOrgByName(ctx, tx, org)
	if err != nil {
		return nil, err
	}
	subject := "teams of " + quote(org)
	rows, err := tx.QueryContext(ctx, `SELECT id, name, created_at FROM teams WHERE org_id = ? ORDER BY name`, o.ID)
	if err != nil {
		return nil, translate(err, subject)
	}
	defer rows.Close()
	var ts []*gatehouse.Team
	for rows.Next() {
		t := gatehouse.Team{Org: o.Name}
		if err := rows.Scan(&t.ID, &t.Name, timeDest{&t.CreatedAt}); err != nil {
			return nil, translate(err, subject)
		}
		ts = append(ts, &t)
	}
	return ts, translate(rows.Err(), subject)
}

// AddTeamMember adds user to org/team. ErrInvalid unless user is a member
// of org, ErrConflict if already in the team, ErrNotFound.
func (s *OrgService) AddTeamMember(ctx context.Context, org, team, user string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	t, err := findTeam(ctx, tx, org, team)
	if err != nil {
		return err
	}
	u, err := findUserByName(ctx, tx, user)
	if err != nil {
		return err
	}
	// Teams reach no further than their organization, so that removing
	// someone from it (RemoveOrgMember) is enough to cut them off.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM org_members m JOIN teams t ON t.org_id = m.org_id
		WHERE t.id = ? AND m.user_id = ?`, t.ID, u.ID).Scan(&n); err != nil {
		return translate(err, "team "+quote(t.FullName()))
	}
	if n == 0 {
		return invalid("user %q is not a member of organization %q; add them to it first", user, org)
	}
	subject := "member " + quote(user) + " of team " + quote(t.FullName())
	if _, err := tx.ExecContext(ctx, `INSERT INTO team_members (team_id, user_id) VALUES (?, ?)`, t.ID, u.ID); err != nil {
		return translate(err, subject)
	}
	return translate(tx.Commit(), subject)
}

// RemoveTeamMember removes user from org/team. ErrNotFound if not in it.
func (s *OrgService) RemoveTeamMember(ctx context.Context, org, team, user string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	t, err := findTeam(ctx, tx, org, team)
	if err != nil {
		return err
	}
	u, err := findUserByName(ctx, tx, user)
	if err != nil {
		return err
	}
	subject := "member " + quote(user) + " of team " + quote(t.FullName())
	if err := execOne(ctx, tx, subject, notFound("%s", subject),
		`DELETE FROM team_members WHERE team_id = ? AND user_id = ?`, t.ID, u.ID); err != nil {
		return err
	}
	return translate(tx.Commit(), subject)
}

// FindTeamMembers lists the user names in org/team. ErrNotFound.
func (s *OrgService) FindTeamMembers(ctx context.Context, org, team string) ([]string, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	t, err := findTeam(ctx, tx, org, team)
	if err != nil {
		return nil, err
	}
	subject := "members of team " + quote(t.FullName())
	rows, err := tx.QueryContext(ctx, `SELECT u.name FROM team_members m JOIN users u ON u.id = m.user_id
		WHERE m.team_id = ? ORDER BY u.name`, t.ID)
	if err != nil {
		return nil, translate(err, subject)
	}
	defer rows.Close()
	names := []string{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, translate(err, subject)
		}
		names = append(names, n)
	}
	return names, translate(rows.Err(), subject)
}

// SetTeamGrant grants org/team level on owner/name, replacing an earlier
// grant. ErrInvalid unless level is read, write or admin; ErrNotFound.
func (s *OrgService) SetTeamGrant(ctx context.Context, owner, name, org, team string, level gatehouse.AccessLevel) error {
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
	t, err := findTeam(ctx, tx, org, team)
	if err != nil {
		return err
	}
	subject := "team " + quote("@"+t.FullName()) + " on " + quote(r.FullName())
	if _, err := tx.ExecContext(ctx, `INSERT INTO team_grants (repo_id, team_id, level) VALUES (?, ?, ?)
		ON CONFLICT (repo_id, team_id) DO UPDATE SET level = excluded.level`,
		r.ID, t.ID, int(level)); err != nil {
		return translate(err, subject)
	}
	return translate(tx.Commit(), subject)
}

// RemoveTeamGrant withdraws org/team's grant on owner/name. ErrNotFound
// for an unknown repository or team, or a team without a grant.
func (s *OrgService) RemoveTeamGrant(ctx context.Context, owner, name, org, team string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	r, err := findRepo(ctx, tx, owner, name)
	if err != nil {
		return err
	}
	t, err := findTeam(ctx, tx, org, team)
	if err != nil {
		return err
	}
	subject := "team " + quote("@"+t.FullName()) + " on " + quote(r.FullName())
	if err := execOne(ctx, tx, subject, notFound("%s", subject),
		`DELETE FROM team_grants WHERE repo_id = ? AND team_id = ?`, r.ID, t.ID); err != nil {
		return err
	}
	return translate(tx.Commit(), subject)
}

// FindTeamGrants lists the teams granted on owner/name, by team name.
// ErrNotFound for an unknown repository.
func (s *OrgService) FindTeamGrants(ctx context.Context, owner, name string) ([]*gatehouse.TeamGrant, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	r, err := findRepo(ctx, tx, owner, name)
	if err != nil {
		return nil, err
	}
	subject := "teams on " + quote(r.FullName())
	rows, err := tx.QueryContext(ctx, `SELECT o.name, t.name, g.level
		FROM team_grants g JOIN teams t ON t.id = g.team_id JOIN users o ON o.id = t.org_id
		WHERE g.repo_id = ? ORDER BY o.name, t.name`, r.ID)
	if err != nil {
		return nil, translate(err, subject)
	}
	defer rows.Close()
	var gs []*gatehouse.TeamGrant
	for rows.Next() {
		var org, team string
		var level int
		if err := rows.Scan(&org, &team, &level); err != nil {
			return nil, translate(err, subject)
		}
		gs = append(gs, &gatehouse.TeamGrant{Team: org + "/" + team, Level: gatehouse.AccessLevel(level)})
	}
	return gs, translate(rows.Err(), subject)
}

// nameFree returns ErrConflict if a user or an organization already has
// name; kind ("user" or "organization") is what the caller is creating,
// and the message says what took the name when it is the other kind.
// Callers run it in the transaction that inserts the name.
func nameFree(ctx context.Context, tx *Tx, name, kind string) error {
	var isOrg bool
	err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM orgs WHERE id = u.id) FROM users u WHERE u.name = ?`,
		name).Scan(&isOrg)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return translate(err, "name "+quote(name))
	}
	taken := map[bool]string{false: "user", true: "organization"}[isOrg]
	if taken == kind {
		return conflict("%s %q", kind, name)
	}
	return kindError{fmt.Sprintf("name %q is taken by %s %s", name, map[bool]string{false: "a", true: "an"}[isOrg], taken), gatehouse.ErrConflict}
}

// findOwnerByName returns the id of the user or organization called
// name: what a repository may be created or renamed under.
func findOwnerByName(ctx context.Context, tx *Tx, name string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound("user or organization %q", name)
	}
	return id, translate(err, "owner "+quote(name))
}

// orgColumns selects an organization for scanOrg; append the WHERE.
const orgColumns = `u.id, u.name, o.default_level, u.created_at FROM users u JOIN orgs o ON o.id = u.id`

func scanOrg(sc scanner) (*gatehouse.Organization, error) {
	var o gatehouse.Organization
	var level int
	if err := sc.Scan(&o.ID, &o.Name, &level, timeDest{&o.CreatedAt}); err != nil {
		return nil, err
	}
	o.DefaultLevel = gatehouse.AccessLevel(level)
	return &o, nil
}

func findOrgByName(ctx context.Context, tx *Tx, name string) (*gatehouse.Organization, error) {
	o, err := scanOrg(tx.QueryRowContext(ctx, `SELECT `+orgColumns+` WHERE u.name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("organization %q", name)
	}
	if err != nil {
		return nil, translate(err, "organization "+quote(name))
	}
	return o, nil
}

func findTeam(ctx context.Context, tx *Tx, org, team string) (*gatehouse.Team, error) {
	t := gatehouse.Team{Org: org, Name: team}
	err := tx.QueryRowContext(ctx, `SELECT t.id, t.created_at FROM teams t JOIN orgs o ON o.id = t.org_id
		JOIN users u ON u.id = o.id WHERE u.name = ? AND t.name = ?`, org, team).Scan(&t.ID, timeDest{&t.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("team %q", org+"/"+team)
	}
	if err != nil {
		return nil, translate(err, "team "+quote(org+"/"+team))
	}
	return &t, nil
}

func validateDefaultLevel(l gatehouse.AccessLevel) error {
	if l != gatehouse.AccessNone && l != gatehouse.AccessRead {
		return invalid("default member level %s must be none or read", l)
	}
	return nil
}

func roleOf(admin bool) gatehouse.OrgRole {
	if admin {
		return gatehouse.RoleAdmin
	}
	return gatehouse.RoleMember
}

// The access facts about organizations and teams. The store only
// collects them; gatehouse.Decide alone says what they are worth.

// orgFactsByName returns the facts about the organization called owner
// for userID (0 for no user), or nil if owner is not an organization.
func orgFactsByName(ctx context.Context, tx *Tx, owner string, userID int64) (*gatehouse.OrgFacts, error) {
	var f gatehouse.OrgFacts
	var level int
	var admin sql.NullBool
	var policy string
	err := tx.QueryRowContext(ctx, `SELECT o.id, o.default_level, m.admin, u.key_policy
		FROM orgs o JOIN users u ON u.id = o.id
		LEFT JOIN org_members m ON m.org_id = o.id AND m.user_id = ?
		WHERE u.name = ?`, userID, owner).Scan(&f.ID, &level, &admin, &policy)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, translate(err, "organization "+quote(owner))
	}
	// An unreadable policy fails closed: the caller denies.
	if f.KeyPolicy, err = gatehouse.ParseKeyPolicy(policy); err != nil {
		return nil, fmt.Errorf("organization %s: %w", quote(owner), err)
	}
	f.DefaultLevel = gatehouse.AccessLevel(level)
	if admin.Valid {
		f.Role = roleOf(admin.Bool)
	}
	return &f, nil
}

// findOrgFacts maps every organization's id to its facts for userID.
func findOrgFacts(ctx context.Context, tx *Tx, userID int64) (map[int64]*gatehouse.OrgFacts, error) {
	rows, err := tx.QueryContext(ctx, `SELECT o.id, o.default_level, m.admin
		FROM orgs o LEFT JOIN org_members m ON m.org_id = o.id AND m.user_id = ?`, userID)
	if err != nil {
		return nil, translate(err, "organizations")
	}
	defer rows.Close()
	facts := map[int64]*gatehouse.OrgFacts{}
	for rows.Next() {
		var f gatehouse.OrgFacts
		var level int
		var admin sql.NullBool
		if err := rows.Scan(&f.ID, &level, &admin); err != nil {
			return nil, translate(err, "organizations")
		}
		f.DefaultLevel = gatehouse.AccessLevel(level)
		if admin.Valid {
			f.Role = roleOf(admin.Bool)
		}
		facts[f.ID] = &f
	}
	return facts, translate(rows.Err(), "organizations")
}

// findTeamGrants maps repository ids to the levels granted there to the
// teams userID is in; repoID, when not 0, narrows it to one repository.
func findTeamGrants(ctx context.Context, tx *Tx, userID, repoID int64) (map[int64][]gatehouse.AccessLevel, error) {
	rows, err := tx.QueryContext(ctx, `SELECT g.repo_id, g.level
		FROM team_grants g JOIN team_members m ON m.team_id = g.team_id
		WHERE m.user_id = ? AND (? = 0 OR g.repo_id = ?)`, userID, repoID, repoID)
	if err != nil {
		return nil, translate(err, "team grants")
	}
	defer rows.Close()
	grants := map[int64][]gatehouse.AccessLevel{}
	for rows.Next() {
		var id int64
		var level int
		if err := rows.Scan(&id, &level); err != nil {
			return nil, translate(err, "team grants")
		}
		grants[id] = append(grants[id], gatehouse.AccessLevel(level))
	}
	return grants, translate(rows.Err(), "team grants")
}
