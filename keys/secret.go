package keys

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Secrets (API tokens, login links, sessions) are a prefix naming their
// kind and 32 random bytes in unpadded base64url. The prefix lets a leaked
// token be recognised by secret scanners and keeps one kind of secret
// from being accepted as another.
const (
	prefixToken   = "gh_tok_"
	prefixLink    = "gh_link_"
	prefixSession = "gh_sess_"
	secretBytes   = 32
)

// newSecret returns a fresh secret with prefix and the digest to store.
func newSecret(prefix string) (secret, hash string) {
	b := make([]byte, secretBytes)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	secret = prefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, digest(secret)
}

// digest is what the database keeps of a secret: a lookup by it reveals
// nothing through timing about the secret itself, and the secret is
// random enough that no salt or slow hash is needed.
func digest(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// wellFormed reports whether secret could be one of ours of this kind, so
// that garbage is refused without a query.
func wellFormed(secret, prefix string) bool {
	rest, ok := strings.CutPrefix(secret, prefix)
	if !ok || len(rest) != base64.RawURLEncoding.EncodedLen(secretBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil
}

// sameDigest compares digests in constant time: the row was found by its
// digest already, this guards against a collation or index surprise.
func sameDigest(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
