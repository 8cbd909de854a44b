package keys

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gatehouse"
)

var _ gatehouse.KeyService = (*KeyService)(nil)

// KeyService keeps users' public keys in the database.
type KeyService struct {
	db *DB
	// Blocklist refuses known-compromised keys at AddKey; by default the
	// data folder's key-blocklist file (see BlocklistFile).
	Blocklist *Blocklist
}

// NewKeyService returns a KeyService backed by db.
func NewKeyService(db *DB) *KeyService {
	return &KeyService{db: db, Blocklist: defaultBlocklist(db)}
}

// AddKey parses text with ParseAuthorizedKey and registers the key to the
// user. ErrInvalid for what ParseAuthorizedKey refuses, ErrNotFound for an
// unknown user, ErrConflict when any user or any repository (as a deploy
// key) has the key already.
func (s *KeyService) AddKey(ctx context.Context, user, text string) (*gatehouse.PublicKey, error) {
	return s.AddExpiringKey(ctx, user, text, nil)
}

// AddExpiringKey is AddKey for a key that stops logging in at expires
// (nil: never). ErrInvalid also for an expiry that is not in the future.
func (s *KeyService) AddExpiringKey(ctx context.Context, user, text string, expires *time.Time) (*gatehouse.PublicKey, error) {
	// Parsed outside the transaction: it is pure, and the CLI and the web
	// API get the same verdict on the same text.
	k, err := ParseAuthorizedKey(text)
	if err != nil {
		return nil, err
	}
	if expires != nil {
		if !expires.After(s.db.Now()) {
			return nil, invalid("key expiry %s is not in the future", expires.UTC().Format(time.RFC3339))
		}
		t := expires.UTC()
		k.ExpiresAt = &t
	}
	if err := checkBlocklist(s.Blocklist, k.Fingerprint); err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	u, err := findUserByName(ctx, tx, user)
	if err != nil {
		return nil, err
	}
	k.UserID, k.UserName = u.ID, u.Name
	if err := createKey(ctx, tx, k); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, translate(err, "key "+k.Fingerprint)
	}
	return k, nil
}

// FindKeys lists a user's keys, oldest first; ErrNotFound for an unknown
// user.
func (s *KeyService) FindKeys(ctx context.Context, user string) ([]*gatehouse.PublicKey, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	u, err := findUserByName(ctx, tx, user)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+keyColumns+`
		FROM public_keys k JOIN users u ON u.id = k.user_id
		WHERE k.user_id = ? ORDER BY k.created_at, k.id`, u.ID)
	if err != nil {
		return nil, translate(err, "keys of user "+quote(user))
	}
	defer rows.Close()
	var keys []*gatehouse.PublicKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, translate(rows.Err(), "keys of user "+quote(user))
}

// FindKeyByFingerprint returns the key and its user (disabled or not; the
// access decision looks at that). ErrNotFound if no user has the key.
func (s *KeyService) FindKeyByFingerprint(ctx context.Context, fingerprint string) (*gatehouse.PublicKey, *gatehouse.User, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()

	row := tx.QueryRowContext(ctx, `SELECT `+keyColumns+`, u.admin, u.disabled, u.created_at
		FROM public_keys k JOIN users u ON u.id = k.user_id
		WHERE k.fingerprint = ?`, fingerprint)
	var k gatehouse.PublicKey
	var u gatehouse.User
	err = row.Scan(append(keyDests(&k), &u.Admin, &u.Disabled, timeDest{&u.CreatedAt})...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, notFound("key %s", fingerprint)
	}
	if err != nil {
		return nil, nil, translate(err, "key "+fingerprint)
	}
	// The key row already carries the user's ID and name.
	u.ID, u.Name = k.UserID, k.UserName
	k.Kind = k.Traits().KeyKind()
	return &k, &u, nil
}

// RemoveKey deletes one of the user's keys. ErrNotFound for an unknown
// user or a key the user does not have.
func (s *KeyService) RemoveKey(ctx context.Context, user, fingerprint string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	u, err := findUserByName(ctx, tx, user)
	if err != nil {
		return err
	}
	if err := execOne(ctx, tx, "key "+fingerprint, notFound("user %q has no key %s", user, fingerprint),
		`DELETE FROM public_keys WHERE user_id = ? AND fingerprint = ?`, u.ID, fingerprint); err != nil {
		return err
	}
	return translate(tx.Commit(), "key "+fingerprint)
}

// TouchKey sets the key's last use to now; ErrNotFound if no user has it.
func (s *KeyService) TouchKey(ctx context.Context, fingerprint string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	// One write per login; the write lock is held only for this statement.
	if err := execOne(ctx, tx, "key "+fingerprint, notFound("key %s", fingerprint),
		`UPDATE public_keys SET last_used_at = ? WHERE fingerprint = ?`,
		formatTime(tx.now), fingerprint); err != nil {
		return err
	}
	return translate(tx.Commit(), "key "+fingerprint)
}

// createKey inserts k for k.UserID. A fingerprint is unique across user
// and deploy keys: the deploy key table is checked here, in the same
// transaction, and each table's UNIQUE constraint catches the rest.
func createKey(ctx context.Context, tx *Tx, k *gatehouse.PublicKey) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM public_keys WHERE fingerprint = ?) +
		(SELECT COUNT(*) FROM deploy_keys WHERE fingerprint = ?)`,
		k.Fingerprint, k.Fingerprint).Scan(&n); err != nil {
		return translate(err, "key "+k.Fingerprint)
	}
	// The message does not say who holds the key: through the web API a
	// user could otherwise learn whose key they pasted.
	if n > 0 {
		return conflict("key %s", k.Fingerprint)
	}
	if err := tx.QueryRowContext(ctx, `INSERT INTO public_keys
		(user_id, fingerprint, type, bits, comment, key, created_at, expires_at, no_touch_required, verify_required)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		k.UserID, k.Fingerprint, k.Type, k.Bits, k.Comment, k.Key, formatTime(tx.now), formatNullTime(k.ExpiresAt),
		k.NoTouchRequired, k.VerifyRequired).Scan(&k.ID); err != nil {
		return translate(err, "key "+k.Fingerprint)
	}
	k.CreatedAt, k.LastUsedAt = tx.now, nil
	return nil
}

// keyColumns and keyDests go together; the query must join users as u.
const keyColumns = `k.id, k.user_id, u.name, k.fingerprint, k.type, k.bits, k.comment, k.key, k.created_at, k.last_used_at, k.expires_at,
	k.no_touch_required, k.verify_required`

func keyDests(k *gatehouse.PublicKey) []any {
	return []any{&k.ID, &k.UserID, &k.UserName, &k.Fingerprint, &k.Type, &k.Bits, &k.Comment, &k.Key,
		timeDest{&k.CreatedAt}, nullTimeDest{&k.LastUsedAt}, nullTimeDest{&k.ExpiresAt},
		&k.NoTouchRequired, &k.VerifyRequired}
}

func scanKey(sc scanner) (*gatehouse.PublicKey, error) {
	var k gatehouse.PublicKey
	if err := sc.Scan(keyDests(&k)...); err != nil {
		return nil, err
	}
	k.Kind = k.Traits().KeyKind()
	return &k, nil
}
