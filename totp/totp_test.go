package totp_test

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"strings"
	"testing"
	"time"

	"gatehouse/totp"
)

// TestRFC6238Vectors checks the test vectors of RFC 6238 appendix B
// (8 digits; the seed is the ASCII string repeated to the hash's size).
func TestRFC6238Vectors(t *testing.T) {
	seed20 := []byte("12345678901234567890")
	seed32 := []byte("12345678901234567890123456789012")
	seed64 := []byte("1234567890123456789012345678901234567890123456789012345678901234")
	algs := []struct {
		name string
		h    func() hash.Hash
		key  []byte
	}{{"SHA1", sha1.New, seed20}, {"SHA256", sha256.New, seed32}, {"SHA512", sha512.New, seed64}}
	vectors := []struct {
		unix int64
		want [3]string
	}{
		{59, [3]string{"94287082", "46119246", "90693936"}},
		{1111111109, [3]string{"07081804", "68084774", "25091201"}},
		{1111111111, [3]string{"14050471", "67062674", "99943326"}},
		{1234567890, [3]string{"89005924", "91819424", "93441116"}},
		{2000000000, [3]string{"69279037", "90698825", "38618901"}},
		{20000000000, [3]string{"65353130", "77737706", "47863826"}},
	}
	for _, v := range vectors {
		step := totp.Step(time.Unix(v.unix, 0))
		for i, a := range algs {
			if got := totp.HOTP(a.h, a.key, step, 8); got != v.want[i] {
				t.Errorf("%s at %d: got %s, want %s", a.name, v.unix, got, v.want[i])
			}
		}
		// The 6-digit SHA-1 code is the last six digits of the 8-digit one.
		if got := totp.Code(seed20, step); got != v.want[0][2:] {
			t.Errorf("Code at %d: got %s, want %s", v.unix, got, v.want[0][2:])
		}
	}
}

// TestRFC4226Vectors checks HOTP against RFC 4226 appendix D.
func TestRFC4226Vectors(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		if got := totp.HOTP(sha1.New, []byte("12345678901234567890"), int64(i), 6); got != w {
			t.Errorf("counter %d: got %s, want %s", i, got, w)
		}
	}
}

func TestVerify(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0)
	cur := totp.Step(now)
	tests := []struct {
		name string
		code string
		last int64
		want int64 // 0: refused
	}{
		{"current step", totp.Code(secret, cur), 0, cur},
		{"one step behind", totp.Code(secret, cur-1), 0, cur - 1},
		{"one step ahead", totp.Code(secret, cur+1), 0, cur + 1},
		{"two steps behind", totp.Code(secret, cur-2), 0, 0},
		{"two steps ahead", totp.Code(secret, cur+2), 0, 0},
		{"reused step", totp.Code(secret, cur), cur, 0},
		{"older than the last used", totp.Code(secret, cur-1), cur, 0},
		{"after the last used", totp.Code(secret, cur+1), cur, cur + 1},
		{"wrong code", "000000", 0, 0}, // no code of steps cur-1..cur+1 is 000000 (checked below)
		{"too short", "12345", 0, 0},
		{"not digits", "12a456", 0, 0},
		{"empty", "", 0, 0},
	}
	for s := cur - 1; s <= cur+1; s++ {
		if totp.Code(secret, s) == "000000" {
			t.Fatal("pick another wrong code")
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, ok := totp.Verify(secret, tt.code, now, tt.last)
			if ok != (tt.want != 0) || step != tt.want {
				t.Errorf("Verify(%q, last %d) = %d, %v; want %d", tt.code, tt.last, step, ok, tt.want)
			}
		})
	}
}

func TestSecretAndURI(t *testing.T) {
	s := totp.NewSecret()
	if len(s) != totp.SecretSize {
		t.Fatalf("secret has %d bytes", len(s))
	}
	text := totp.EncodeSecret(s)
	if len(text) != 32 || strings.Contains(text, "=") {
		t.Errorf("encoded secret %q: want 32 base32 characters without padding", text)
	}
	back, err := totp.DecodeSecret(strings.ToLower(text[:4] + " " + text[4:]))
	if err != nil || string(back) != string(s) {
		t.Errorf("DecodeSecret round trip: %x, %v", back, err)
	}
	u := totp.URI("Gatehouse", "alice", s)
	for _, want := range []string{"otpauth://totp/Gatehouse:alice?", "secret=" + text, "issuer=Gatehouse", "digits=6", "period=30"} {
		if !strings.Contains(u, want) {
			t.Errorf("URI %q lacks %q", u, want)
		}
	}
}
