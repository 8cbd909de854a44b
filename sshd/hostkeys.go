package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	gossh "golang.org/x/crypto/ssh"
)

// Host key files in the data folder, named as OpenSSH names them.
const (
	HostKeyEd25519 = "ssh_host_ed25519_key"
	HostKeyRSA     = "ssh_host_rsa_key"
	rsaHostKeyBits = 3072
)

// rsaSigAlgos are the only signatures the RSA host key makes: SHA-2.
var rsaSigAlgos = []string{gossh.KeyAlgoRSASHA512, gossh.KeyAlgoRSASHA256}

// LoadHostKeys reads the host keys from dir, creating any that are missing
// (ed25519, and RSA-3072 for older clients). Keys are written 0600 in
// OpenSSH format, first to a temporary file and then renamed, so a crash
// never leaves half a key. The RSA signer signs only with rsa-sha2-256/512.
func LoadHostKeys(dir string) ([]gossh.Signer, error) {
	ed, err := loadOrCreate(filepath.Join(dir, HostKeyEd25519), func() (any, error) {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	})
	if err != nil {
		return nil, err
	}
	rs, err := loadOrCreate(filepath.Join(dir, HostKeyRSA), func() (any, error) {
		return rsa.GenerateKey(rand.Reader, rsaHostKeyBits)
	})
	if err != nil {
		return nil, err
	}
	as, ok := rs.(gossh.AlgorithmSigner)
	if !ok {
		return nil, fmt.Errorf("host key %s cannot choose its signature algorithm", HostKeyRSA)
	}
	rsaSigner, err := gossh.NewSignerWithAlgorithms(as, rsaSigAlgos)
	if err != nil {
		return nil, err
	}
	return []gossh.Signer{ed, rsaSigner}, nil
}

func loadOrCreate(path string, gen func() (any, error)) (gossh.Signer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err := gen()
		if err != nil {
			return nil, fmt.Errorf("generate host key: %w", err)
		}
		block, err := gossh.MarshalPrivateKey(key, "gatehouse")
		if err != nil {
			return nil, fmt.Errorf("encode host key: %w", err)
		}
		b = pem.EncodeToMemory(block)
		if err := writeFileAtomic(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("write host key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read host key: %w", err)
	}
	s, err := gossh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("host key %s: %w", path, err)
	}
	return s, nil
}

func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-hostkey-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// Link instead of rename: if another process created the key first,
	// keep theirs so both agree on the host's identity.
	if err := os.Link(f.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// HostKeyInfo describes a host key for people and for known_hosts.
type HostKeyInfo struct {
	Type        string `json:"type"`
	Fingerprint string `json:"fingerprint"` // SHA256:..., as ssh-keygen -l prints it
	PublicKey   string `json:"public_key"`  // authorized_keys form
}

// DescribeHostKeys returns the fingerprints of the given host keys.
func DescribeHostKeys(signers []gossh.Signer) []HostKeyInfo {
	out := make([]HostKeyInfo, 0, len(signers))
	for _, s := range signers {
		pk := s.PublicKey()
		line := string(gossh.MarshalAuthorizedKey(pk))
		out = append(out, HostKeyInfo{
			Type:        pk.Type(),
			Fingerprint: gossh.FingerprintSHA256(pk),
			PublicKey:   line[:len(line)-1],
		})
	}
	return out
}
