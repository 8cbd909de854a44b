// Package totp computes and checks time-based one-time passwords as
// RFC 6238 defines them, with the parameters every authenticator app
// uses by default: HMAC-SHA-1, 30-second steps, 6 digits. It is pure: the
// caller passes the time and remembers the last step it accepted.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"hash"
	"net/url"
	"strings"
	"time"
)

// Parameters of the codes this package checks.
const (
	// Period is the length of one time step.
	Period = 30 * time.Second
	// Digits is the length of a code.
	Digits = 6
	// SecretSize is the length of a new secret: 160 bits, the HMAC-SHA-1
	// output size that RFC 4226 recommends.
	SecretSize = 20
	// Skew is how many steps either side of the current one a code may be
	// from, for clocks that drift and users that type slowly.
	Skew = 1
)

// b32 is the secret's text form: upper-case base32 without padding, as
// the otpauth URI format and authenticator apps expect it.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns SecretSize random bytes.
func NewSecret() []byte {
	b := make([]byte, SecretSize)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return b
}

// EncodeSecret is the base32 text a person types into an app.
func EncodeSecret(secret []byte) string { return b32.EncodeToString(secret) }

// DecodeSecret reads base32 text, ignoring case, spaces and padding.
func DecodeSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.TrimRight(strings.ReplaceAll(s, " ", ""), "="))
	b, err := b32.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("totp: secret is not base32: %w", err)
	}
	return b, nil
}

// Step is the time step t falls in: whole periods since the Unix epoch.
func Step(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// Code is the 6-digit SHA-1 code of secret for step.
func Code(secret []byte, step int64) string { return HOTP(sha1.New, secret, step, Digits) }

// HOTP is RFC 4226's HMAC-based one-time password of key for counter,
// with digits digits (6 to 8) and the hash h (RFC 6238 also allows
// SHA-256 and SHA-512); TOTP is HOTP with the time step as the counter.
func HOTP(h func() hash.Hash, key []byte, counter int64, digits int) string {
	mac := hmac.New(h, key)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	// Dynamic truncation (RFC 4226 section 5.3).
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// Verify checks code against secret at time now, allowing Skew steps
// either way, and accepts only a step after last (the last step accepted
// for this secret, 0 for none), so that each code works once. It returns
// the step the code matched; the caller stores it as the new last. The
// comparison takes the same time whatever the code.
func Verify(secret []byte, code string, now time.Time, last int64) (step int64, ok bool) {
	if len(code) != Digits || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	cur := Step(now)
	for s := cur - Skew; s <= cur+Skew; s++ {
		match := subtle.ConstantTimeCompare([]byte(Code(secret, s)), []byte(code)) == 1
		if match && s > last && !ok {
			step, ok = s, true
		}
	}
	return step, ok
}

// URI is the otpauth:// URI an authenticator app reads from a QR code:
// issuer names the site, account the user on it.
func URI(issuer, account string, secret []byte) string {
	v := url.Values{}
	v.Set("secret", EncodeSecret(secret))
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(Digits))
	v.Set("period", fmt.Sprint(int(Period/time.Second)))
	label := url.PathEscape(issuer) + ":" + url.PathEscape(account)
	return "otpauth://totp/" + label + "?" + v.Encode()
}
