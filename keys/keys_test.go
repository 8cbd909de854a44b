package keys_test

import (
	"context"
	"crypto/dsa"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"database/sql"
	"math/big"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"gatehouse"
	"gatehouse/gittest"
	"gatehouse/keys"
)

// eachDB runs test twice, as the subtests "sqlite" and "postgres": the
// store's tests are its contract, and both databases must keep it.
// MustOpenDB and freshDB open the database of the subtest they are given.
func eachDB(t *testing.T, test func(t *testing.T)) {
	t.Run("sqlite", test)
	t.Run("postgres", test)
}

// onPostgres reports whether tb runs under eachDB's "postgres" subtest.
func onPostgres(tb testing.TB) bool {
	return strings.Contains(tb.Name()+"/", "/postgres/")
}

// testDB is a fresh, empty database of the kind tb runs on: a SQLite file
// in a temporary directory, or a PostgreSQL database of its own (see
// gittest.PostgresURL).
type testDB struct {
	dir string // the data folder
	url string // "sqlite:PATH" or a postgres:// URL
}

func freshDB(tb testing.TB) testDB {
	tb.Helper()
	dir := tb.TempDir()
	if onPostgres(tb) {
		return testDB{dir: dir, url: gittest.PostgresURL(tb)}
	}
	return testDB{dir: dir, url: "sqlite:" + filepath.Join(dir, "gatehouse.db")}
}

func (d testDB) postgres() bool { return keys.IsPostgresURL(d.url) }

// open opens a handle on the database and closes it when the test ends;
// two handles act like the CLI and the server (or two nodes).
func (d testDB) open(tb testing.TB) *keys.DB {
	tb.Helper()
	db, err := keys.OpenURL(d.dir, d.url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Error(err)
		}
	})
	return db
}

// raw opens a plain database/sql handle on the database, as an operator's
// shell would, for writing what the store would not. Queries on it are
// the database's own SQL: rebind turns ? into $n for PostgreSQL.
func (d testDB) raw(tb testing.TB) *sql.DB {
	tb.Helper()
	var raw *sql.DB
	var err error
	if d.postgres() {
		raw, err = sql.Open("pgx", d.url)
	} else {
		raw, err = sql.Open("sqlite3", strings.TrimPrefix(d.url, "sqlite:")+"?_busy_timeout=5000&_foreign_keys=on")
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { raw.Close() })
	return raw
}

func (d testDB) rebind(query string) string {
	if d.postgres() {
		return keys.NumberPlaceholders(query)
	}
	return query
}

// MustOpenDB opens a fresh database of the kind tb runs on and closes it
// when the test ends.
func MustOpenDB(tb testing.TB) *keys.DB {
	tb.Helper()
	return freshDB(tb).open(tb)
}

// MustOpenDBPath opens the SQLite database at path and closes it when the
// test ends; two calls with one path act like the CLI and the server.
func MustOpenDBPath(tb testing.TB, path string) *keys.DB {
	tb.Helper()
	return testDB{dir: filepath.Dir(path), url: "sqlite:" + path}.open(tb)
}

// MustCreateUser creates a user named name.
func MustCreateUser(tb testing.TB, db *keys.DB, name string) *gatehouse.User {
	tb.Helper()
	u := &gatehouse.User{Name: name}
	if err := keys.NewUserService(db).CreateUser(context.Background(), u); err != nil {
		tb.Fatal(err)
	}
	return u
}

// MustCreateRepo creates owner/name.
func MustCreateRepo(tb testing.TB, db *keys.DB, owner, name string, private bool) *gatehouse.Repo {
	tb.Helper()
	r := &gatehouse.Repo{Owner: owner, Name: name, Private: private}
	if err := keys.NewRepoStore(db).CreateRepo(context.Background(), r); err != nil {
		tb.Fatal(err)
	}
	return r
}

// authorizedLine formats a crypto public key as an authorized_keys line.
func authorizedLine(tb testing.TB, pub any) string {
	tb.Helper()
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
}

func ed25519Line(tb testing.TB) string {
	tb.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return authorizedLine(tb, pub)
}

func rsaLine(tb testing.TB, bits int) string {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		tb.Fatal(err)
	}
	return authorizedLine(tb, &k.PublicKey)
}

func ecdsaLine(tb testing.TB, c elliptic.Curve) string {
	tb.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return authorizedLine(tb, &k.PublicKey)
}

// dsaLine makes an ssh-dss line. The numbers are random but of the sizes
// SSH requires, which is all a parser can check; generating real DSA
// parameters is slow and nothing here verifies a signature.
func dsaLine(tb testing.TB) string {
	tb.Helper()
	randBits := func(n int) *big.Int {
		v, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(n-1)))
		if err != nil {
			tb.Fatal(err)
		}
		return v.SetBit(v, n-1, 1)
	}
	pub := &dsa.PublicKey{
		Parameters: dsa.Parameters{P: randBits(1024), Q: randBits(160), G: big.NewInt(2)},
		Y:          randBits(1000),
	}
	return authorizedLine(tb, pub)
}

// skLine makes a security key line of the given type by hand: the
// x/crypto package parses these but has no constructor for them.
func skLine(tb testing.TB, typ string) string {
	tb.Helper()
	var blob []byte
	switch typ {
	case ssh.KeyAlgoSKED25519:
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		blob = ssh.Marshal(struct {
			Name, Key, App string
		}{typ, string(pub), "ssh:"})
	case ssh.KeyAlgoSKECDSA256:
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		point, err := k.PublicKey.Bytes()
		if err != nil {
			tb.Fatal(err)
		}
		blob = ssh.Marshal(struct {
			Name, Curve, Key, App string
		}{typ, "nistp256", string(point), "ssh:"})
	default:
		tb.Fatalf("no security key type %s", typ)
	}
	pub, err := ssh.ParsePublicKey(blob)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
}

// certLine makes an ed25519 user certificate line.
func certLine(tb testing.TB) string {
	tb.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	_, caKey, _ := ed25519.GenerateKey(rand.Reader)
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := ssh.NewSignerFromKey(caKey)
	if err != nil {
		tb.Fatal(err)
	}
	cert := &ssh.Certificate{Key: sp, CertType: ssh.UserCert, KeyId: "test", ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(cert)))
}

// fingerprintOf is the SHA256 fingerprint of an authorized_keys line.
func fingerprintOf(line string) string {
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		panic(err)
	}
	return ssh.FingerprintSHA256(pub)
}
