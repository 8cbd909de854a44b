package keys

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"gatehouse"
)

var _ gatehouse.DeployKeyService = (*DeployKeyService)(nil)

// DeployKeyService keeps deploy keys: keys bound to one repository.
type DeployKeyService struct {
	db *DB
	// Blocklist refuses known-compromised keys, as KeyService's does.
	Blocklist *Blocklist
}

// NewDeployKeyService returns a DeployKeyService backed by db.
func NewDeployKeyService(db *DB) *DeployKeyService {
	return &DeployKeyService{db: db, Blocklist: defaultBlocklist(db)}
}

// AddDeployKey parses text with ParseAuthorizedKey, exactly as AddKey does
// for user keys, and registers it on owner/name. The key's comment becomes
// its title. ErrInvalid for what ParseAuthorizedKey refuses, ErrNotFound
// for an unknown repository, ErrConflict when any user or any repository
// has the key already.
func (s *DeployKeyService) AddDeployKey(ctx context.Context, owner, name, text string, write bool) (*gatehouse.DeployKey, error) {
	pk, err := ParseAuthorizedKey(text)
	if err != nil {
		return nil, err
	}
	if err := checkBlocklist(s.Blocklist, pk.Fingerprint); err != nil {
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
	// One fingerprint, one identity: the same check createKey makes, from
	// the other side, in the same kind of transaction.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM public_keys WHERE fingerprint = ?) +
		(SELECT COUNT(*) FROM deploy_keys WHERE fingerprint = ?)`,
		pk.Fingerprint, pk.Fingerprint).Scan(&n); err != nil {
		return nil, translate(err, "key "+pk.Fingerprint)
	}
	if n > 0 {
		return nil, conflict("key %s", pk.Fingerprint)
	}
	k := &gatehouse.DeployKey{
		RepoID: r.ID, Repo: r.FullName(), Title: pk.Comment, Fingerprint: pk.Fingerprint,
		Type: pk.Type, Key: pk.Key, Write: write, CreatedAt: tx.now,
		NoTouchRequired: pk.NoTouchRequired, VerifyRequired: pk.VerifyRequired, Kind: pk.Kind,
	}
	if err := tx.QueryRowContext(ctx, `INSERT INTO deploy_keys
		(repo_id, fingerprint, key, title, write, created_at, no_touch_required, verify_required)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, k.RepoID, k.Fingerprint, k.Key, k.Title, k.Write, formatTime(tx.now),
		k.NoTouchRequired, k.VerifyRequired).Scan(&k.ID); err != nil {
		return nil, translate(err, "key "+k.Fingerprint)
	}
	if err := tx.Commit(); err != nil {
		return nil, translate(err, "key "+k.Fingerprint)
	}
	return k, nil
}

// FindDeployKeys lists the deploy keys of owner/name, oldest first;
// ErrNotFound for an unknown repository.
func (s *DeployKeyService) FindDeployKeys(ctx context.Context, owner, name string) ([]*gatehouse.DeployKey, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	r, err := findRepo(ctx, tx, owner, name)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+deployKeyColumns+`
		FROM deploy_keys d JOIN repos r ON r.id = d.repo_id JOIN users u ON u.id = r.owner_id
		WHERE d.repo_id = ? ORDER BY d.created_at, d.id`, r.ID)
	if err != nil {
		return nil, translate(err, "deploy keys of "+quote(r.FullName()))
	}
	defer rows.Close()
	var ks []*gatehouse.DeployKey
	for rows.Next() {
		k, err := scanDeployKey(rows)
		if err != nil {
			return nil, err
		}
		ks = append(ks, k)
	}
	return ks, translate(rows.Err(), "deploy keys of "+quote(r.FullName()))
}

// FindDeployKeyByFingerprint returns the deploy key with fingerprint;
// ErrNotFound if no repository has it.
func (s *DeployKeyService) FindDeployKeyByFingerprint(ctx context.Context, fingerprint string) (*gatehouse.DeployKey, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	k, err := scanDeployKey(tx.QueryRowContext(ctx, `SELECT `+deployKeyColumns+`
		FROM deploy_keys d JOIN repos r ON r.id = d.repo_id JOIN users u ON u.id = r.owner_id
		WHERE d.fingerprint = ?`, fingerprint))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("deploy key %s", fingerprint)
	}
	return k, translate(err, "deploy key "+fingerprint)
}

// RemoveDeployKey deletes a deploy key of owner/name. ErrNotFound for an
// unknown repository or a key it does not have.
func (s *DeployKeyService) RemoveDeployKey(ctx context.Context, owner, name, fingerprint string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	r, err := findRepo(ctx, tx, owner, name)
	if err != nil {
		return err
	}
	if err := execOne(ctx, tx, "deploy key "+fingerprint, notFound("repository %s has no deploy key %s", quote(r.FullName()), fingerprint),
		`DELETE FROM deploy_keys WHERE repo_id = ? AND fingerprint = ?`, r.ID, fingerprint); err != nil {
		return err
	}
	return translate(tx.Commit(), "deploy key "+fingerprint)
}

// TouchDeployKey sets the deploy key's last use to now; ErrNotFound if no
// repository has it.
func (s *DeployKeyService) TouchDeployKey(ctx context.Context, fingerprint string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	if err := execOne(ctx, tx, "deploy key "+fingerprint, notFound("deploy key %s", fingerprint),
		`UPDATE deploy_keys SET last_used_at = ? WHERE fingerprint = ?`,
		formatTime(tx.now), fingerprint); err != nil {
		return err
	}
	return translate(tx.Commit(), "deploy key "+fingerprint)
}

// deployKeyColumns needs deploy_keys as d, repos as r and users as u.
const deployKeyColumns = `d.id, d.repo_id, u.name, r.name, d.title, d.fingerprint, d.key, d.write, d.created_at, d.last_used_at,
	d.no_touch_required, d.verify_required`

func scanDeployKey(sc scanner) (*gatehouse.DeployKey, error) {
	var k gatehouse.DeployKey
	var owner, name string
	if err := sc.Scan(&k.ID, &k.RepoID, &owner, &name, &k.Title, &k.Fingerprint, &k.Key, &k.Write,
		timeDest{&k.CreatedAt}, nullTimeDest{&k.LastUsedAt}, &k.NoTouchRequired, &k.VerifyRequired); err != nil {
		return nil, err
	}
	k.Repo = owner + "/" + name
	// The type is the key text's first field; no column repeats it.
	k.Type, _, _ = strings.Cut(k.Key, " ")
	k.Kind = k.Traits().KeyKind()
	return &k, nil
}
