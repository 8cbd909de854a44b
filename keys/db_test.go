package keys_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"gatehouse"
	"gatehouse/keys"
	"gatehouse/migrations"
)

// appliedMigrations reads schema_migrations through a connection of its
// own, as an operator's sqlite3 shell would.
func appliedMigrations(t *testing.T, path string) []string {
	t.Helper()
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query(`SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

func TestOpen_Migrations(t *testing.T) {
	want, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "gatehouse.db")

	db, err := keys.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	MustCreateUser(t, db, "alice")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := appliedMigrations(t, path); !slices.Equal(got, want) {
		t.Fatalf("applied %v, want %v", got, want)
	}

	// Reopening applies nothing twice and keeps the data.
	db = MustOpenDBPath(t, path)
	if got := appliedMigrations(t, path); !slices.Equal(got, want) {
		t.Fatalf("after reopen applied %v, want %v", got, want)
	}
	if n, err := keys.NewUserService(db).CountUsers(context.Background()); err != nil || n != 1 {
		t.Fatalf("CountUsers = %d, %v; want 1", n, err)
	}
}

func TestOpen_Errors(t *testing.T) {
	for _, p := range []string{"", ":memory:"} {
		if _, err := keys.Open(p); err == nil {
			t.Errorf("Open(%q) succeeded", p)
		}
	}
	if _, err := keys.Open(filepath.Join(t.TempDir(), "missing", "dir", "x.db")); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
}

// A path with characters that mean something in a URI still names a file.
func TestOpen_OddPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a?b#c%d.db")
	MustOpenDBPath(t, path)
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// Two servers (or a server and the CLI) starting at once on a new file
// both migrate it, and each migration is applied once.
func TestOpen_Concurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	const n = 4
	dbs := make([]*keys.DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dbs[i], errs[i] = keys.Open(path) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
			continue
		}
		dbs[i].Close()
	}
	want, _ := fs.Glob(migrations.FS, "*.sql")
	if got := appliedMigrations(t, path); !slices.Equal(got, want) {
		t.Fatalf("applied %v, want %v", got, want)
	}
}

// Two handles on one file, one playing the CLI adding users and keys, the
// other the server logging people in and writing the audit log.
func TestDB_TwoHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	cli, server := MustOpenDBPath(t, path), MustOpenDBPath(t, path)
	ctx := context.Background()

	const n = 20
	lines := make([]string, n)
	for i := range lines {
		lines[i] = ed25519Line(t)
	}
	var wg sync.WaitGroup
	cliErr := make(chan error, 1)
	wg.Go(func() {
		cliErr <- func() error {
			for i := range n {
				name := fmt.Sprintf("user%d", i)
				if err := keys.NewUserService(cli).CreateUser(ctx, &gatehouse.User{Name: name}); err != nil {
					return err
				}
				if _, err := keys.NewKeyService(cli).AddKey(ctx, name, lines[i]); err != nil {
					return err
				}
				if err := keys.NewRepoStore(cli).CreateRepo(ctx, &gatehouse.Repo{Owner: name, Name: "r"}); err != nil {
					return err
				}
			}
			return nil
		}()
	})
	serverErr := make(chan error, 1)
	wg.Go(func() {
		serverErr <- func() error {
			ks, audit := keys.NewKeyService(server), keys.NewAuditService(server)
			for i := 0; i < 3*n; i++ {
				fp := fingerprintOf(lines[i%n])
				_, u, err := ks.FindKeyByFingerprint(ctx, fp)
				switch {
				case errors.Is(err, gatehouse.ErrNotFound):
					// Not added yet.
				case err != nil:
					return err
				default:
					if err := ks.TouchKey(ctx, fp); err != nil {
						return err
					}
					if err := audit.RecordEvent(ctx, &gatehouse.AuditEvent{Actor: u.Name, Action: gatehouse.AuditLogin}); err != nil {
						return err
					}
				}
				if _, err := keys.NewRepoStore(server).FindRepos(ctx, gatehouse.RepoFilter{}); err != nil {
					return err
				}
			}
			return nil
		}()
	})
	wg.Wait()
	if err := <-cliErr; err != nil {
		t.Fatalf("cli: %v", err)
	}
	if err := <-serverErr; err != nil {
		t.Fatalf("server: %v", err)
	}

	// Each handle sees what the other wrote.
	users, err := keys.NewUserService(server).FindUsers(ctx)
	if err != nil || len(users) != n {
		t.Fatalf("server sees %d users, %v; want %d", len(users), err, n)
	}
	if _, _, err := keys.NewKeyService(server).FindKeyByFingerprint(ctx, fingerprintOf(lines[n-1])); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.NewAuditService(cli).FindAuditEvents(ctx, gatehouse.AuditFilter{}); err != nil {
		t.Fatal(err)
	}
}

// helperEnv names the database a child process should write to.
const helperEnv = "GATEHOUSE_KEYS_TEST_DB"

// TestHelperProcess is the child of TestDB_TwoProcesses; it does nothing
// when run normally.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper process only")
	}
	db := MustOpenDBPath(t, path)
	ctx := context.Background()
	for i := range 50 {
		if err := keys.NewUserService(db).CreateUser(ctx, &gatehouse.User{Name: fmt.Sprintf("child%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
}

// A real second process, as when the admin CLI runs next to the server:
// SQLite's file locks, not just its in-process ones, are exercised.
func TestDB_TwoProcesses(t *testing.T) {
	if os.Getenv(helperEnv) != "" {
		t.Skip("in helper process")
	}
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	db := MustOpenDBPath(t, path)
	ctx := context.Background()

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	out := make(chan error, 1)
	var output []byte
	go func() {
		var err error
		output, err = cmd.CombinedOutput()
		out <- err
	}()
	audit := keys.NewAuditService(db)
	for i := range 50 {
		if err := keys.NewUserService(db).CreateUser(ctx, &gatehouse.User{Name: fmt.Sprintf("parent%d", i)}); err != nil {
			t.Fatal(err)
		}
		if err := audit.RecordEvent(ctx, &gatehouse.AuditEvent{Actor: "cli", Action: gatehouse.AuditUserCreate}); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-out; err != nil {
		t.Fatalf("child: %v\n%s", err, output)
	}
	if n, err := keys.NewUserService(db).CountUsers(ctx); err != nil || n != 100 {
		t.Fatalf("CountUsers = %d, %v; want 100", n, err)
	}
}
