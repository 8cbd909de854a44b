package keys_test

import (
	"strings"
	"testing"

	"gatehouse/keys"
)

// FuzzParseAuthorizedKey: an accepted key re-parses from its stored form
// to the same fingerprint, type and size.
func FuzzParseAuthorizedKey(f *testing.F) {
	f.Add(ed25519Line(f) + " alice@laptop")
	f.Add(`no-pty,command="x" ` + ed25519Line(f))
	f.Add(rsaLine(f, 2048))
	f.Add(rsaLine(f, 1024))
	f.Add(certLine(f))
	f.Add("ssh-ed25519 AAAA")
	f.Add("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\nssh-rsa x")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		k, err := keys.ParseAuthorizedKey(text)
		if err != nil {
			return
		}
		if !strings.HasPrefix(k.Fingerprint, "SHA256:") || k.Bits <= 0 || strings.ContainsAny(k.Comment, "\n\r\x00") {
			t.Fatalf("ParseAuthorizedKey(%q) = %+v", text, k)
		}
		k2, err := keys.ParseAuthorizedKey(k.Key)
		if err != nil || k2.Fingerprint != k.Fingerprint || k2.Type != k.Type || k2.Bits != k.Bits {
			t.Fatalf("stored form %q of %q re-parses as %+v, %v", k.Key, text, k2, err)
		}
	})
}
