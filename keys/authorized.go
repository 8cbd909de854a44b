package keys

import (
	"crypto/rsa"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"

	"gatehouse"
)

const (
	// MinRSABits is the smallest RSA modulus accepted; OpenSSH itself
	// refuses to make smaller keys.
	MinRSABits = 2048
	// maxKeyText bounds the input. The largest RSA key OpenSSH makes
	// (16384 bits) is under 3 KiB in base64, so this leaves room for
	// options and a comment.
	maxKeyText = 16 << 10
	// maxComment keeps comments to something that fits on a CLI line.
	maxComment = 255
)

// keyBits lists the accepted key types. For all but RSA the size follows
// from the type; RSA's is read from the modulus.
var keyBits = map[string]int{
	ssh.KeyAlgoED25519:    256,
	ssh.KeyAlgoSKED25519:  256,
	ssh.KeyAlgoECDSA256:   256,
	ssh.KeyAlgoSKECDSA256: 256,
	ssh.KeyAlgoECDSA384:   384,
	ssh.KeyAlgoECDSA521:   521,
	ssh.KeyAlgoRSA:        0,
}

// ParseAuthorizedKey reads exactly one public key in authorized_keys form,
// "[options] TYPE BASE64 [comment]", as AddKey does for the CLI and the web
// API alike. Surrounding whitespace is ignored; options are dropped, since
// Gatehouse and not the key line decides what a key may do, except a
// security key's no-touch-required and verify-required, which the key
// policies look at (NoTouchRequired, VerifyRequired).
//
// The result has Fingerprint ("SHA256:..." as ssh-keygen -l prints it),
// Type, Bits, Comment and Key ("TYPE BASE64") set; ID, user and times are
// left for the store.
//
// The error wraps gatehouse.ErrInvalid when the text is malformed, holds
// more than one key, is a certificate, is DSA, RSA under MinRSABits, or any
// other type than ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa,
// sk-ssh-ed25519@openssh.com and sk-ecdsa-sha2-nistp256@openssh.com, or
// when the comment is overlong or holds control characters.
func ParseAuthorizedKey(text string) (*gatehouse.PublicKey, error) {
	if len(text) > maxKeyText {
		return nil, invalid("public key text is longer than %d bytes", maxKeyText)
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, invalid("public key is empty")
	}
	// ssh.ParseAuthorizedKey skips lines it cannot parse, so a second line
	// would otherwise be silently ignored or silently chosen instead.
	if strings.ContainsAny(text, "\r\n") {
		return nil, invalid("public key text has more than one line; add one key at a time")
	}
	// The parser's own errors speak of "ignored lines" and blobs; an admin
	// is better served by the expected form.
	pub, comment, options, _, err := ssh.ParseAuthorizedKey([]byte(text))
	if err != nil {
		return nil, invalid("public key is malformed; want \"TYPE BASE64 [comment]\" as in a .pub file")
	}
	if _, ok := pub.(*ssh.Certificate); ok {
		return nil, invalid("certificates are not accepted; add the plain public key")
	}
	typ := pub.Type()
	bits, ok := keyBits[typ]
	switch {
	case typ == ssh.InsecureKeyAlgoDSA:
		return nil, invalid("DSA keys (ssh-dss) are not accepted; use ssh-ed25519")
	case !ok:
		return nil, invalid("key type %q is not accepted", typ)
	case typ == ssh.KeyAlgoRSA:
		ck, ok := pub.(ssh.CryptoPublicKey)
		if !ok {
			return nil, invalid("RSA key is malformed")
		}
		rk, ok := ck.CryptoPublicKey().(*rsa.PublicKey)
		if !ok {
			return nil, invalid("RSA key is malformed")
		}
		bits = rk.N.BitLen()
		if bits < MinRSABits {
			return nil, invalid("RSA key has %d bits; at least %d are needed", bits, MinRSABits)
		}
	}
	if err := checkComment(comment); err != nil {
		return nil, err
	}
	k := &gatehouse.PublicKey{
		Fingerprint: ssh.FingerprintSHA256(pub),
		Type:        typ,
		Bits:        bits,
		Comment:     comment,
		Key:         strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))),
	}
	k.NoTouchRequired, k.VerifyRequired = skOptions(typ, options)
	k.Kind = k.Traits().KeyKind()
	return k, nil
}

// skOptions reads the two options of a security key's line that the key
// policies look at (see gatehouse.KeyTraits); other keys have neither.
// OpenSSH spells options case-insensitively.
func skOptions(typ string, options []string) (noTouch, verify bool) {
	if !gatehouse.SecurityKey(typ) {
		return false, false
	}
	for _, o := range options {
		switch strings.ToLower(o) {
		case "no-touch-required":
			noTouch = true
		case "verify-required":
			verify = true
		}
	}
	return noTouch, verify
}

// checkComment refuses comments that would garble a listing: the CLI and
// the logs print them verbatim, so a terminal escape could hide or forge
// text there.
func checkComment(c string) error {
	if len(c) > maxComment {
		return invalid("key comment is longer than %d bytes", maxComment)
	}
	if !utf8.ValidString(c) {
		return invalid("key comment is not valid UTF-8")
	}
	for _, r := range c {
		if unicode.IsControl(r) && r != '\t' {
			return invalid("key comment contains control characters")
		}
	}
	return nil
}
