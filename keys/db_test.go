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
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/keys"
	"gatehouse/migrations"
)

// appliedMigrations reads schema_migrations through a connection of its
// own, as an operator's shell would.
func appliedMigrations(t *testing.T, d testDB) []string {
	t.Helper()
	return queryStrings(t, d.raw(t), `SELECT name FROM schema_migrations ORDER BY name`)
}

func queryStrings(t *testing.T, raw *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := raw.Query(query, args...)
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

func testOpen_Migrations(t *testing.T) {
	want, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	d := freshDB(t)

	db, err := keys.OpenURL(d.dir, d.url)
	if err != nil {
		t.Fatal(err)
	}
	MustCreateUser(t, db, "alice")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := appliedMigrations(t, d); !slices.Equal(got, want) {
		t.Fatalf("applied %v, want %v", got, want)
	}

	// Reopening applies nothing twice and keeps the data.
	db = d.open(t)
	if got := appliedMigrations(t, d); !slices.Equal(got, want) {
		t.Fatalf("after reopen applied %v, want %v", got, want)
	}
	if len(db.Upgraded) != 0 {
		t.Fatalf("reopen upgraded %v", db.Upgraded)
	}
	if n, err := keys.NewUserService(db).CountUsers(context.Background()); err != nil || n != 1 {
		t.Fatalf("CountUsers = %d, %v; want 1", n, err)
	}
}

func TestOpen_Migrations(t *testing.T) { eachDB(t, testOpen_Migrations) }

// A database that records a migration this program does not have was
// upgraded by a newer one: Open refuses it and changes nothing.
func testOpen_Newer(t *testing.T) {
	d := freshDB(t)
	d.open(t)
	raw := d.raw(t)
	if _, err := raw.Exec(d.rebind(`INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`),
		"9999_from_the_future.sql", "2030-01-01T00:00:00.000000000Z"); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.OpenURL(d.dir, d.url); !errors.Is(err, migrations.ErrNewer) {
		t.Fatalf("Open of a newer database: %v, want ErrNewer", err)
	}
}

func TestOpen_Newer(t *testing.T) { eachDB(t, testOpen_Newer) }

func TestOpen_Errors(t *testing.T) {
	for _, p := range []string{"", ":memory:"} {
		if _, err := keys.Open(p); err == nil {
			t.Errorf("Open(%q) succeeded", p)
		}
	}
	if _, err := keys.Open(filepath.Join(t.TempDir(), "missing", "dir", "x.db")); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
	if _, err := keys.OpenURL(t.TempDir(), "mysql://x"); err == nil {
		t.Error("OpenURL of an unknown kind succeeded")
	}
	// A server that is not there: the message names it without the
	// password.
	_, err := keys.OpenURL(t.TempDir(), "postgres://alice:s3cret@127.0.0.1:1/db?connect_timeout=5")
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("OpenURL of a missing server: %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://alice:s3cret@db.example:5432/gh?sslmode=require": "postgres://alice:xxxxx@db.example:5432/gh?sslmode=require",
		"postgresql://db.example/gh?user=alice&password=s3cret":      "postgresql://db.example/gh?password=xxxxx&user=alice",
		"postgres://alice@db.example/gh":                             "postgres://alice@db.example/gh",
	} {
		if got := keys.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
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

// Two servers (or a server and the CLI, or several nodes) starting at
// once on a new database all migrate it, and each migration is applied
// once.
func testOpen_Concurrent(t *testing.T) {
	d := freshDB(t)
	const n = 4
	dbs := make([]*keys.DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dbs[i], errs[i] = keys.OpenURL(d.dir, d.url) })
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
	if got := appliedMigrations(t, d); !slices.Equal(got, want) {
		t.Fatalf("applied %v, want %v", got, want)
	}
}

func TestOpen_Concurrent(t *testing.T) { eachDB(t, testOpen_Concurrent) }

// The same migrations make the same tables with the same columns on both
// databases, and on PostgreSQL generated ids are identity columns except
// where the id is another table's (orgs.id is a users.id).
func TestSchema_SameOnBoth(t *testing.T) {
	lite := freshDB(t) // SQLite: t is not a "postgres" subtest
	lite.open(t)
	t.Run("postgres", func(t *testing.T) {
		pg := freshDB(t)
		pg.open(t)
		liteCols := queryStrings(t, lite.raw(t), `SELECT m.name || '.' || c.name FROM sqlite_master m, pragma_table_info(m.name) c
			WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1`)
		pgCols := queryStrings(t, pg.raw(t), `SELECT table_name || '.' || column_name FROM information_schema.columns
			WHERE table_schema = current_schema()`)
		slices.Sort(liteCols)
		slices.Sort(pgCols)
		if !slices.Equal(liteCols, pgCols) {
			t.Fatalf("columns differ:\nsqlite   %v\npostgres %v", liteCols, pgCols)
		}
		ids := queryStrings(t, pg.raw(t), `SELECT table_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND column_name = 'id' AND is_identity = 'YES' ORDER BY 1`)
		for _, table := range []string{"users", "repos", "public_keys", "audit_log", "teams", "webhooks", "lfs_locks"} {
			if !slices.Contains(ids, table) {
				t.Errorf("%s.id is not an identity column (identity: %v)", table, ids)
			}
		}
		if slices.Contains(ids, "orgs") {
			t.Error("orgs.id generates its own ids; it must be the user's")
		}
		if slices.Contains(ids, "webhook_deliveries") {
			t.Error("webhook_deliveries.id (a UUID) became an identity column")
		}
		// Text compares byte by byte, as in SQLite.
		colls := queryStrings(t, pg.raw(t), `SELECT DISTINCT COALESCE(collation_name, '') FROM information_schema.columns
			WHERE table_schema = current_schema() AND data_type = 'text'`)
		if !slices.Equal(colls, []string{"C"}) {
			t.Errorf("text columns have collations %v, want only C", colls)
		}
	})
}

// The rewrite of a migration for PostgreSQL, in the style the
// migrations are written in.
func TestPostgresSchema(t *testing.T) {
	in := `-- a comment with ? and INTEGER
CREATE TABLE things (
	id       INTEGER PRIMARY KEY,
	owner_id INTEGER NOT NULL REFERENCES users (id),
	data     BLOB NOT NULL,
	name     TEXT NOT NULL DEFAULT '',
	flag     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE extras (
	id INTEGER PRIMARY KEY REFERENCES things (id) ON DELETE CASCADE
);
ALTER TABLE things ADD COLUMN n INTEGER NOT NULL DEFAULT 3 CHECK (n BETWEEN 1 AND 3);
`
	want := `-- a comment with ? and BIGINT
CREATE TABLE things (
	id       BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	owner_id BIGINT NOT NULL REFERENCES users (id),
	data     BYTEA NOT NULL,
	name     TEXT COLLATE "C" NOT NULL DEFAULT '',
	flag     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE extras (
	id BIGINT PRIMARY KEY REFERENCES things (id) ON DELETE CASCADE
);
ALTER TABLE things ADD COLUMN n BIGINT NOT NULL DEFAULT 3 CHECK (n BETWEEN 1 AND 3);
`
	if got := keys.PostgresSchema(in); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestNumberPlaceholders(t *testing.T) {
	for in, want := range map[string]string{
		`SELECT 1`: `SELECT 1`,
		`SELECT a FROM t WHERE b = ? AND c IN (?, ?)`:                      `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)`,
		`SELECT '?', "a?" FROM t WHERE x = ? -- why?` + "\n" + `AND y = ?`: `SELECT '?', "a?" FROM t WHERE x = $1 -- why?` + "\n" + `AND y = $2`,
		`SELECT 'it''s ?' WHERE z = ?`:                                     `SELECT 'it''s ?' WHERE z = $1`,
	} {
		if got := keys.NumberPlaceholders(in); got != want {
			t.Errorf("NumberPlaceholders(%q) = %q, want %q", in, got, want)
		}
	}
}

// Two handles on one file, one playing the CLI adding users and keys, the
// other the server logging people in and writing the audit log.
func testDB_TwoHandles(t *testing.T) {
	d := freshDB(t)
	cli, server := d.open(t), d.open(t)
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

func TestDB_TwoHandles(t *testing.T) { eachDB(t, testDB_TwoHandles) }

// helperEnv names the database a child process should write to.
const helperEnv = "GATEHOUSE_KEYS_TEST_DB"

// TestHelperProcess is the child of TestDB_TwoProcesses; it does nothing
// when run normally.
func TestHelperProcess(t *testing.T) {
	url := os.Getenv(helperEnv)
	if url == "" {
		t.Skip("helper process only")
	}
	db := testDB{dir: t.TempDir(), url: url}.open(t)
	ctx := context.Background()
	for i := range 50 {
		if err := keys.NewUserService(db).CreateUser(ctx, &gatehouse.User{Name: fmt.Sprintf("child%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
}

// A real second process, as when the admin CLI runs next to the server
// (or a second node): SQLite's file locks, not just its in-process ones,
// and PostgreSQL's write lock across sessions are exercised.
func testDB_TwoProcesses(t *testing.T) {
	d := freshDB(t)
	db := d.open(t)
	ctx := context.Background()

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+d.url)
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

func TestDB_TwoProcesses(t *testing.T) {
	if os.Getenv(helperEnv) != "" {
		t.Skip("in helper process")
	}
	eachDB(t, testDB_TwoProcesses)
}

// Write transactions are serialised across handles (processes, nodes),
// so the store's check-then-insert steps hold: one key raced in as a
// user key and as a deploy key through two handles at once is stored
// once, and every other attempt is a conflict, never a second row.
func testDB_WritesSerialised(t *testing.T) {
	d := freshDB(t)
	a, b := d.open(t), d.open(t)
	ctx := context.Background()
	MustCreateUser(t, a, "alice")
	MustCreateRepo(t, a, "alice", "r", false)
	line := ed25519Line(t)

	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		db := []*keys.DB{a, b}[i%2]
		wg.Go(func() {
			if i%4 < 2 {
				_, errs[i] = keys.NewKeyService(db).AddKey(ctx, "alice", line)
			} else {
				_, errs[i] = keys.NewDeployKeyService(db).AddDeployKey(ctx, "alice", "r", line, false)
			}
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, gatehouse.ErrConflict):
			t.Errorf("attempt %d: %v, want a conflict", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d attempts stored the key, want 1", ok)
	}
	var rows int64
	if err := d.raw(t).QueryRow(`SELECT (SELECT COUNT(*) FROM public_keys) + (SELECT COUNT(*) FROM deploy_keys)`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("%d key rows, %v; want 1", rows, err)
	}
}

func TestDB_WritesSerialised(t *testing.T) { eachDB(t, testDB_WritesSerialised) }

// A writer waits a bounded time for another one holding the write lock
// (another process's transaction), then is refused as busy, a message
// that says to retry and no sentinel; once the lock is free it goes
// through.
func testDB_BusyWriter(t *testing.T) {
	d := freshDB(t)
	db := d.open(t)
	ctx := context.Background()
	conn, err := d.raw(t).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hold := `BEGIN IMMEDIATE`
	if d.postgres() {
		hold = fmt.Sprintf(`BEGIN; SELECT pg_advisory_xact_lock(%d)`, keys.PostgresWriteLock)
	}
	if _, err := conn.ExecContext(ctx, hold); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = keys.NewUserService(db).CreateUser(ctx, &gatehouse.User{Name: "alice"})
	waited := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "busy, try again") || errors.Is(err, gatehouse.ErrConflict) || errors.Is(err, gatehouse.ErrInvalid) {
		t.Fatalf("a write while another holds the lock: %v", err)
	}
	if waited < 4*time.Second || waited > 30*time.Second {
		t.Errorf("refused after %v, want about 5s", waited)
	}
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	MustCreateUser(t, db, "alice")
}

func TestDB_BusyWriter(t *testing.T) { eachDB(t, testDB_BusyWriter) }
