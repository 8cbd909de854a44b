package keys

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"gatehouse"
	"gatehouse/totp"
)

var _ gatehouse.StepUpService = (*StepUpService)(nil)

// StepUpService keeps two-factor step-up state (migrations/0010_stepup.sql):
// TOTP secrets, recovery code digests, open windows, wrong-code counts
// and policies. A code is checked and its step (or recovery code) used
// up in the transaction that opens the window, so two sessions racing
// with one code open at most one window.
type StepUpService struct {
	db *DB
}

// NewStepUpService returns a StepUpService backed by db.
func NewStepUpService(db *DB) *StepUpService {
	return &StepUpService{db: db}
}

// BeginEnrollment stores secret as user's unconfirmed secret.
func (s *StepUpService) BeginEnrollment(ctx context.Context, user string, secret []byte) error {
	if len(secret) < 16 {
		return invalid("TOTP secret of %d bytes", len(secret))
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	u, err := findUserByName(ctx, tx, user)
	if err != nil {
		return err
	}
	var confirmed bool
	err = tx.QueryRowContext(ctx, `SELECT confirmed FROM totp_secrets WHERE user_id = ?`, u.ID).Scan(&confirmed)
	switch {
	case err == nil && confirmed:
		return kindError{msg: "user " + quote(user) + " is enrolled already; an admin can reset it (gatehouse 2fa reset)", kind: gatehouse.ErrConflict}
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return translate(err, "enrolment of "+quote(user))
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO totp_secrets (user_id, secret, confirmed, last_step, created_at) VALUES (?, ?, ?, 0, ?)
		ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at`,
		u.ID, secret, false, formatTime(tx.now)); err != nil {
		return translate(err, "enrolment of "+quote(user))
	}
	return translate(tx.Commit(), "enrolment of "+quote(user))
}

// PendingSecret returns user's unconfirmed secret.
func (s *StepUpService) PendingSecret(ctx context.Context, user string) ([]byte, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	u, err := findUserByName(ctx, tx, user)
	if err != nil {
		return nil, err
	}
	var secret []byte
	err = tx.QueryRowContext(ctx, `SELECT secret FROM totp_secrets WHERE user_id = ? AND confirmed = ?`, u.ID, false).Scan(&secret)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("enrolment of %q waiting for a code", user)
	}
	return secret, translate(err, "enrolment of "+quote(user))
}

// ConfirmEnrollment confirms user's pending secret with code and makes
// the recovery codes.
func (s *StepUpService) ConfirmEnrollment(ctx context.Context, user, address, code string) ([]string, error) {
	tx, u, subjects, err := s.beginCodeCheck(ctx, user, address)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var secret []byte
	err = tx.QueryRowContext(ctx, `SELECT secret FROM totp_secrets WHERE user_id = ? AND confirmed = ?`, u.ID, false).Scan(&secret)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("enrolment of %q waiting for a code", user)
	}
	if err != nil {
		return nil, translate(err, "enrolment of "+quote(user))
	}
	step, ok := totp.Verify(secret, strings.TrimSpace(code), tx.now, 0)
	if !ok {
		return nil, wrongCode(ctx, tx, subjects)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE totp_secrets SET confirmed = ?, confirmed_at = ?, last_step = ? WHERE user_id = ?`,
		true, formatTime(tx.now), step, u.ID); err != nil {
		return nil, translate(err, "enrolment of "+quote(user))
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM totp_recovery_codes WHERE user_id = ?`, u.ID); err != nil {
		return nil, translate(err, "recovery codes of "+quote(user))
	}
	codes := make([]string, gatehouse.RecoveryCodes)
	for i := range codes {
		codes[i] = newRecoveryCode()
		if _, err := tx.ExecContext(ctx, `INSERT INTO totp_recovery_codes (user_id, hash) VALUES (?, ?)`,
			u.ID, digest(normalizeRecoveryCode(codes[i]))); err != nil {
			return nil, translate(err, "recovery codes of "+quote(user))
		}
	}
	if err := clearFailures(ctx, tx, subjects); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, translate(err, "enrolment of "+quote(user))
	}
	return codes, nil
}

// beginCodeCheck starts the write transaction of a code check: user, the
// subjects a wrong code counts against, and ErrLimit while one of them is
// locked out. The caller rolls tx back or commits it.
func (s *StepUpService) beginCodeCheck(ctx context.Context, user, address string) (*Tx, *gatehouse.User, []failureSubject, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	u, err := findUserByName(ctx, tx, user)
	if err != nil {
		tx.Rollback()
		return nil, nil, nil, err
	}
	subjects := failureSubjects(u.ID, address)
	if err := checkLockout(ctx, tx, subjects); err != nil {
		tx.Rollback()
		return nil, nil, nil, err
	}
	return tx, u, subjects, nil
}

// RedeemCode checks a TOTP or recovery code and opens a window.
func (s *StepUpService) RedeemCode(ctx context.Context, user, address, code string, window time.Duration) (*gatehouse.StepUpWindow, error) {
	tx, u, subjects, err := s.beginCodeCheck(ctx, user, address)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var (
		secret []byte
		last   int64
	)
	err = tx.QueryRowContext(ctx, `SELECT secret, last_step FROM totp_secrets WHERE user_id = ? AND confirmed = ?`, u.ID, true).Scan(&secret, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("two-factor enrolment of %q", user)
	}
	if err != nil {
		return nil, translate(err, "two-factor enrolment of "+quote(user))
	}
	code = strings.TrimSpace(code)
	ok := false
	if step, match := totp.Verify(secret, code, tx.now, last); match {
		// Remembered before the commit that opens the window: the same
		// code (or an older one) is refused from now on.
		if _, err := tx.ExecContext(ctx, `UPDATE totp_secrets SET last_step = ? WHERE user_id = ?`, step, u.ID); err != nil {
			return nil, translate(err, "two-factor enrolment of "+quote(user))
		}
		ok = true
	} else if rc := normalizeRecoveryCode(code); len(rc) == recoveryCodeLen {
		res, err := tx.ExecContext(ctx, `UPDATE totp_recovery_codes SET used_at = ? WHERE user_id = ? AND hash = ? AND used_at IS NULL`,
			formatTime(tx.now), u.ID, digest(rc))
		if err != nil {
			return nil, translate(err, "recovery codes of "+quote(user))
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		ok = n == 1
	}
	if !ok {
		return nil, wrongCode(ctx, tx, subjects)
	}
	if err := clearFailures(ctx, tx, subjects); err != nil {
		return nil, err
	}
	w := &gatehouse.StepUpWindow{User: u.Name, Address: address}
	if window > 0 {
		w.ExpiresAt = tx.now.Add(window)
		// Expired windows of anyone are swept on the way.
		if _, err := tx.ExecContext(ctx, `DELETE FROM stepup_windows WHERE expires_at <= ?`, formatTime(tx.now)); err != nil {
			return nil, translate(err, "step-up windows")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO stepup_windows (user_id, address, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (user_id, address) DO UPDATE SET expires_at = excluded.expires_at`,
			u.ID, address, formatTime(w.ExpiresAt)); err != nil {
			return nil, translate(err, "step-up window of "+quote(user))
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, translate(err, "two-factor enrolment of "+quote(user))
	}
	return w, nil
}

// ResetStepUp removes everything two-factor of user.
func (s *StepUpService) ResetStepUp(ctx context.Context, user string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	u, err := findUserByName(ctx, tx, user)
	if err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM totp_secrets WHERE user_id = ?`,
		`DELETE FROM totp_recovery_codes WHERE user_id = ?`,
		`DELETE FROM stepup_windows WHERE user_id = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, u.ID); err != nil {
			return translate(err, "two-factor state of "+quote(user))
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM stepup_failures WHERE subject = ?`, userSubject(u.ID)); err != nil {
		return translate(err, "two-factor state of "+quote(user))
	}
	return translate(tx.Commit(), "two-factor state of "+quote(user))
}

// FindStepUpStatus returns user's two-factor state.
func (s *StepUpService) FindStepUpStatus(ctx context.Context, user string) (*gatehouse.StepUpStatus, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	u, err := findUserByName(ctx, tx, user)
	if err != nil {
		return nil, err
	}
	st := &gatehouse.StepUpStatus{User: u.Name, Windows: []gatehouse.StepUpWindow{}}
	var confirmed bool
	err = tx.QueryRowContext(ctx, `SELECT confirmed, confirmed_at FROM totp_secrets WHERE user_id = ?`, u.ID).
		Scan(&confirmed, nullTimeDest{&st.EnrolledAt})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return st, nil
	case err != nil:
		return nil, translate(err, "two-factor state of "+quote(user))
	}
	st.Enrolled, st.Pending = confirmed, !confirmed
	if !confirmed {
		st.EnrolledAt = nil
	}
	var left int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM totp_recovery_codes WHERE user_id = ? AND used_at IS NULL`, u.ID).Scan(&left); err != nil {
		return nil, translate(err, "recovery codes of "+quote(user))
	}
	st.RecoveryCodesLeft = int(left)
	rows, err := tx.QueryContext(ctx, `SELECT address, expires_at FROM stepup_windows WHERE user_id = ? AND expires_at > ? ORDER BY address`,
		u.ID, formatTime(tx.now))
	if err != nil {
		return nil, translate(err, "step-up windows of "+quote(user))
	}
	defer rows.Close()
	for rows.Next() {
		w := gatehouse.StepUpWindow{User: u.Name}
		if err := rows.Scan(&w.Address, timeDest{&w.ExpiresAt}); err != nil {
			return nil, err
		}
		st.Windows = append(st.Windows, w)
	}
	return st, translate(rows.Err(), "step-up windows of "+quote(user))
}

// StepUpFacts gathers the policies, enrolment and window for one check,
// in one read transaction.
func (s *StepUpService) StepUpFacts(ctx context.Context, userID int64, owner, address string) (*gatehouse.StepUpFacts, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	f := &gatehouse.StepUpFacts{}
	if f.Site, err = sitePolicy(ctx, tx); err != nil {
		return nil, err
	}
	if owner != "" {
		err := scanPolicy(tx.QueryRowContext(ctx, `SELECT p.level, p.protected_only FROM stepup_org_policies p
			JOIN users u ON u.id = p.org_id WHERE u.name = ?`, owner), &f.Org)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, translate(err, "step-up policy of "+quote(owner))
		}
	}
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM totp_secrets WHERE user_id = ? AND confirmed = ?`, userID, true).Scan(&n); err != nil {
		return nil, translate(err, "two-factor enrolment")
	}
	f.Enrolled = n > 0
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM stepup_windows WHERE user_id = ? AND address = ? AND expires_at > ?`,
		userID, address, formatTime(tx.now)).Scan(&n); err != nil {
		return nil, translate(err, "step-up window")
	}
	f.WindowOpen = f.Enrolled && n > 0
	return f, nil
}

// SetStepUpPolicy sets the policy of org, or the site's for "".
func (s *StepUpService) SetStepUpPolicy(ctx context.Context, org string, p gatehouse.StepUpPolicy) error {
	if p.Level < gatehouse.StepUpOff || p.Level > gatehouse.StepUpAll {
		return invalid("step-up level %d", int(p.Level))
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if org == "" {
		_, err = tx.ExecContext(ctx, `INSERT INTO stepup_site_policy (id, level, protected_only) VALUES (1, ?, ?)
			ON CONFLICT (id) DO UPDATE SET level = excluded.level, protected_only = excluded.protected_only`, int64(p.Level), p.ProtectedOnly)
	} else {
		o, ferr := findOrgByName(ctx, tx, org)
		if ferr != nil {
			return ferr
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO stepup_org_policies (org_id, level, protected_only) VALUES (?, ?, ?)
			ON CONFLICT (org_id) DO UPDATE SET level = excluded.level, protected_only = excluded.protected_only`, o.ID, int64(p.Level), p.ProtectedOnly)
	}
	if err != nil {
		return translate(err, "step-up policy")
	}
	return translate(tx.Commit(), "step-up policy")
}

// FindStepUpPolicy returns the policy of org, or the site's for "".
func (s *StepUpService) FindStepUpPolicy(ctx context.Context, org string) (gatehouse.StepUpPolicy, error) {
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return gatehouse.StepUpPolicy{}, err
	}
	defer tx.Rollback()
	if org == "" {
		return sitePolicy(ctx, tx)
	}
	o, err := findOrgByName(ctx, tx, org)
	if err != nil {
		return gatehouse.StepUpPolicy{}, err
	}
	var p gatehouse.StepUpPolicy
	err = scanPolicy(tx.QueryRowContext(ctx, `SELECT level, protected_only FROM stepup_org_policies WHERE org_id = ?`, o.ID), &p)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return p, translate(err, "step-up policy of "+quote(org))
	}
	return p, nil
}

// FindLoginLinkUser returns the user of a live login link.
func (s *StepUpService) FindLoginLinkUser(ctx context.Context, secret string) (*gatehouse.User, error) {
	refused := notFound("login link")
	if !wellFormed(secret, prefixLink) {
		return nil, refused
	}
	tx, err := s.db.BeginTx(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	hash := digest(secret)
	var stored string
	u := &gatehouse.User{}
	err = tx.QueryRowContext(ctx, `SELECT l.hash, u.id, u.name, u.admin, u.disabled, u.created_at
		FROM login_links l JOIN users u ON u.id = l.user_id WHERE l.hash = ? AND l.expires_at > ?`, hash, formatTime(tx.now)).
		Scan(&stored, &u.ID, &u.Name, &u.Admin, &u.Disabled, timeDest{&u.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (!sameDigest(stored, hash) || u.Disabled)) {
		return nil, refused
	}
	if err != nil {
		return nil, translate(err, "login link")
	}
	return u, nil
}

// sitePolicy reads the site's policy; none stored is off.
func sitePolicy(ctx context.Context, tx *Tx) (gatehouse.StepUpPolicy, error) {
	var p gatehouse.StepUpPolicy
	err := scanPolicy(tx.QueryRowContext(ctx, `SELECT level, protected_only FROM stepup_site_policy WHERE id = 1`), &p)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return p, translate(err, "site step-up policy")
	}
	return p, nil
}

func scanPolicy(row *sql.Row, p *gatehouse.StepUpPolicy) error {
	var level int64
	if err := row.Scan(&level, &p.ProtectedOnly); err != nil {
		return err
	}
	p.Level = gatehouse.StepUpLevel(level)
	return nil
}

// failureSubjects are the keys wrong codes are counted under: the user
// and, when known, the source address.
func failureSubjects(userID int64, address string) []failureSubject {
	s := []failureSubject{{userSubject(userID), gatehouse.StepUpMaxFailures}}
	if address != "" {
		s = append(s, failureSubject{"addr:" + addrBucket(address), gatehouse.StepUpMaxAddrFailures})
	}
	return s
}

// addrBucket is what wrong codes from address are counted under, as the
// SSH login limits count (gatehouse.AddrBucket): an IPv4 address itself,
// the /64 of an IPv6 one.
func addrBucket(address string) string {
	ip, err := netip.ParseAddr(address)
	if err != nil {
		return address
	}
	b := gatehouse.AddrBucket(ip)
	if b.Is6() {
		return netip.PrefixFrom(b, 64).String()
	}
	return b.String()
}

type failureSubject struct {
	key string
	max int64
}

func userSubject(id int64) string { return fmt.Sprintf("user:%d", id) }

// checkLockout returns ErrLimit while any subject is locked out.
func checkLockout(ctx context.Context, tx *Tx, subjects []failureSubject) error {
	for _, s := range subjects {
		var until time.Time
		err := tx.QueryRowContext(ctx, `SELECT locked_until FROM stepup_failures WHERE subject = ? AND locked_until > ?`,
			s.key, formatTime(tx.now)).Scan(timeDest{&until})
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return translate(err, "two-factor failures")
		}
		return lockedOut(until)
	}
	return nil
}

func lockedOut(until time.Time) error {
	return kindError{msg: "too many wrong codes; try again after " + until.UTC().Format("15:04 UTC"), kind: gatehouse.ErrLimit}
}

// wrongCode counts a wrong code against every subject and commits the
// count (the caller's transaction changed nothing else yet). It returns
// ErrInvalid, or ErrLimit when the count reached a multiple of a
// subject's bound: the count runs on until a right code clears it, so
// each lockout in a row lasts longer (StepUpLockoutAfter).
func wrongCode(ctx context.Context, tx *Tx, subjects []failureSubject) error {
	var locked *time.Time
	for _, s := range subjects {
		var n int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO stepup_failures (subject, failures) VALUES (?, 1)
			ON CONFLICT (subject) DO UPDATE SET failures = stepup_failures.failures + 1 RETURNING failures`, s.key).Scan(&n); err != nil {
			return translate(err, "two-factor failures")
		}
		if n%s.max == 0 {
			until := tx.now.Add(gatehouse.StepUpLockoutAfter(n / s.max))
			if _, err := tx.ExecContext(ctx, `UPDATE stepup_failures SET locked_until = ? WHERE subject = ?`,
				formatTime(until), s.key); err != nil {
				return translate(err, "two-factor failures")
			}
			locked = &until
		}
	}
	if err := tx.Commit(); err != nil {
		return translate(err, "two-factor failures")
	}
	if locked != nil {
		return lockedOut(*locked)
	}
	return invalid("wrong, used or expired code")
}

func clearFailures(ctx context.Context, tx *Tx, subjects []failureSubject) error {
	for _, s := range subjects {
		if _, err := tx.ExecContext(ctx, `DELETE FROM stepup_failures WHERE subject = ?`, s.key); err != nil {
			return translate(err, "two-factor failures")
		}
	}
	return nil
}

// Recovery codes are 80 random bits as 16 lower-case base32 letters,
// shown in groups of four. So much entropy makes a brute-force search of
// a stolen digest hopeless, so SHA-256 (digest) is enough and a slow
// password hash would only slow down every check.
const recoveryCodeLen = 16

var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newRecoveryCode() string {
	b := make([]byte, 10)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	s := strings.ToLower(recoveryEncoding.EncodeToString(b))
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// normalizeRecoveryCode drops the dashes and spaces people type or not.
func normalizeRecoveryCode(s string) string {
	return strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(s))
}
