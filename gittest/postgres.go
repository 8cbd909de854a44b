package gittest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// PostgresEnv names the PostgreSQL server the tests use: a postgres://
// URL of a role that may CREATE DATABASE. ./test.sh starts a throwaway
// server and sets it.
const PostgresEnv = "GATEHOUSE_TEST_POSTGRES"

// PostgresURL creates a fresh, empty database with a random name on the
// server in GATEHOUSE_TEST_POSTGRES and returns its URL; the database is
// dropped when the test ends, whoever is still connected. Without the
// variable the test fails: the PostgreSQL tests never skip.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		tb.Fatalf("%s is not set: run the tests with ./test.sh, which starts a PostgreSQL server for them, or set it to a postgres:// URL of a role that may create databases", PostgresEnv)
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", PostgresEnv, err)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close()
	name := "gatehouse_test_" + rand.Text()[:16]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The name is ours (base32 letters and digits), quoted all the same.
	if _, err := admin.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE "%s"`, name)); err != nil {
		tb.Fatalf("create a test database on %s: %v", u.Redacted(), err)
	}
	tb.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			tb.Error(err)
			return
		}
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS "%s" WITH (FORCE)`, name)); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
