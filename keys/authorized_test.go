package keys_test

import (
	"crypto/elliptic"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"gatehouse"
	"gatehouse/keys"
)

func testParseAuthorizedKey(t *testing.T) {
	ed := ed25519Line(t)
	rsa2048 := rsaLine(t, 2048)
	tests := []struct {
		name    string
		text    string
		typ     string
		bits    int
		comment string
		key     string // "" means the text itself
		wantErr bool
		errText string // part of the message for errors
	}{
		{name: "ed25519", text: ed, typ: ssh.KeyAlgoED25519, bits: 256},
		{name: "ed25519 with options and comment",
			text: `no-pty,command="echo hi",from="10.0.0.0/8" ` + ed + " alice@laptop",
			typ:  ssh.KeyAlgoED25519, bits: 256, comment: "alice@laptop", key: ed},
		{name: "comment with spaces", text: ed + " Alice's work laptop", typ: ssh.KeyAlgoED25519, bits: 256,
			comment: "Alice's work laptop", key: ed},
		{name: "trailing newline and spaces", text: "  " + ed + " c\r\n\n", typ: ssh.KeyAlgoED25519, bits: 256,
			comment: "c", key: ed},
		{name: "rsa 2048", text: rsa2048, typ: ssh.KeyAlgoRSA, bits: 2048},
		{name: "rsa 3072", text: rsaLine(t, 3072), typ: ssh.KeyAlgoRSA, bits: 3072},
		{name: "ecdsa p256", text: ecdsaLine(t, elliptic.P256()), typ: ssh.KeyAlgoECDSA256, bits: 256},
		{name: "ecdsa p384", text: ecdsaLine(t, elliptic.P384()), typ: ssh.KeyAlgoECDSA384, bits: 384},
		{name: "ecdsa p521", text: ecdsaLine(t, elliptic.P521()), typ: ssh.KeyAlgoECDSA521, bits: 521},
		{name: "sk ed25519", text: skLine(t, ssh.KeyAlgoSKED25519), typ: ssh.KeyAlgoSKED25519, bits: 256},
		{name: "sk ecdsa", text: skLine(t, ssh.KeyAlgoSKECDSA256), typ: ssh.KeyAlgoSKECDSA256, bits: 256},

		{name: "empty", text: " \n", wantErr: true},
		{name: "garbage", text: "hello world", wantErr: true, errText: "malformed"},
		{name: "truncated base64", text: ed[:len(ed)-10], wantErr: true},
		{name: "type mismatch", text: "ssh-rsa " + strings.Fields(ed)[1], wantErr: true},
		{name: "comment line only", text: "# " + ed, wantErr: true},
		{name: "dsa", text: dsaLine(t), wantErr: true, errText: "DSA"},
		{name: "rsa 1024", text: rsaLine(t, 1024), wantErr: true, errText: "1024 bits"},
		{name: "certificate", text: certLine(t), wantErr: true, errText: "certificate"},
		{name: "two keys", text: ed + "\n" + rsa2048, wantErr: true, errText: "more than one line"},
		{name: "garbage then key", text: "nonsense\n" + ed, wantErr: true},
		{name: "control character in comment", text: ed + " evil\x1b[2Jcomment", wantErr: true, errText: "control"},
		{name: "overlong comment", text: ed + " " + strings.Repeat("c", 300), wantErr: true},
		{name: "overlong text", text: ed + " " + strings.Repeat("c", 20000), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := keys.ParseAuthorizedKey(tt.text)
			if tt.wantErr {
				if !errors.Is(err, gatehouse.ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				t.Log(err)
				if !strings.Contains(err.Error(), tt.errText) {
					t.Errorf("message %q does not mention %q", err, tt.errText)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("message %q is not one line", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			key := tt.key
			if key == "" {
				key = tt.text
			}
			if k.Type != tt.typ || k.Bits != tt.bits || k.Comment != tt.comment || k.Key != key {
				t.Errorf("got type %q bits %d comment %q key %q\nwant type %q bits %d comment %q key %q",
					k.Type, k.Bits, k.Comment, k.Key, tt.typ, tt.bits, tt.comment, key)
			}
			if want := fingerprintOf(key); k.Fingerprint != want {
				t.Errorf("fingerprint %s, want %s", k.Fingerprint, want)
			}
		})
	}
}

func TestParseAuthorizedKey(t *testing.T) { eachDB(t, testParseAuthorizedKey) }

// The fingerprint and size are what ssh-keygen -l shows an admin.
func testParseAuthorizedKey_SSHKeygen(t *testing.T) {
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Fatal("ssh-keygen not installed (.ci/run installs openssh-client)")
	}
	for _, tt := range []struct{ name, line string }{
		{"ed25519", ed25519Line(t)},
		{"rsa", rsaLine(t, 2048)},
		{"ecdsa", ecdsaLine(t, elliptic.P384())},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "key.pub")
			if err := os.WriteFile(file, []byte(tt.line+" me@host\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(keygen, "-E", "sha256", "-lf", file).Output()
			if err != nil {
				t.Fatal(err)
			}
			// "256 SHA256:... me@host (ED25519)"
			f := strings.Fields(string(out))
			if len(f) < 2 {
				t.Fatalf("ssh-keygen said %q", out)
			}
			k, err := keys.ParseAuthorizedKey(tt.line + " me@host")
			if err != nil {
				t.Fatal(err)
			}
			if got := strconv.Itoa(k.Bits) + " " + k.Fingerprint; got != f[0]+" "+f[1] {
				t.Errorf("got %q, ssh-keygen says %q", got, f[0]+" "+f[1])
			}
		})
	}
}

func TestParseAuthorizedKey_SSHKeygen(t *testing.T) { eachDB(t, testParseAuthorizedKey_SSHKeygen) }
