package main_test

import (
	"bytes"
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	main "gatehouse/cmd/gatehouse"
	"gatehouse/migrations"
)

// openSQLite opens the database file at path directly, as an older or
// newer program would have left it.
func openSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// applied lists the migrations the database at path records. A copy
// (immutable) is read without writing anything beside it.
func applied(t *testing.T, path string, immutable bool) []string {
	t.Helper()
	dsn := "file:" + path + "?mode=ro"
	if immutable {
		dsn += "&immutable=1"
	}
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	return names
}

// A data folder an older version left (every migration but the last) is
// upgraded at start, after a copy of its database is taken, and keeps
// its data.
func TestUpgradeOlderDataFolder(t *testing.T) {
	data := t.TempDir()
	path := filepath.Join(data, "gatehouse.db")
	names := migrations.Names()
	old := openSQLite(t, path)
	if _, err := old.Exec(`CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z07:00")
	for _, name := range names[:len(names)-1] {
		body, _ := fs.ReadFile(migrations.FS, name)
		if _, err := old.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		old.Exec(`INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, name, now)
	}
	if _, err := old.Exec(`INSERT INTO users (name, admin, created_at) VALUES ('olduser', TRUE, ?)`, now); err != nil {
		t.Fatal(err)
	}
	old.Close()

	s := MustRunMain(t, func(c *main.Config) { c.Data = data })
	backups, _ := filepath.Glob(path + ".before-" + names[len(names)-1][:4] + "-*")
	if len(backups) != 1 {
		t.Fatalf("copies before the upgrade: %v", backups)
	}
	if got := applied(t, backups[0], true); len(got) != len(names)-1 {
		t.Fatalf("the copy has migrations %v: not the state before", got)
	}
	if got := applied(t, path, false); len(got) != len(names) {
		t.Fatalf("after the upgrade: %v", got)
	}
	if !strings.Contains(s.Log.String(), "database upgraded") || !strings.Contains(s.Log.String(), backups[0]) {
		t.Fatalf("the upgrade was not logged:\n%s", s.Log.String())
	}
	if out := s.MustCLI("user", "show", "olduser"); !strings.Contains(out, "olduser") {
		t.Fatalf("user show olduser:\n%s", out)
	}
	s.Close()
	// Nothing to apply the next time: no copy.
	MustRunMain(t, func(c *main.Config) { c.Data = data }).Close()
	if b, _ := filepath.Glob(path + ".before-*"); len(b) != 1 {
		t.Fatalf("copies after a second start: %v", b)
	}
}

// A data folder a newer version upgraded refuses this one, server and
// admin commands alike, with what to do, and is left as it was.
func TestNewerDataFolderRefused(t *testing.T) {
	s := MustRunMain(t)
	s.User("alice")
	s.Close()
	path := filepath.Join(s.Data, "gatehouse.db")
	if _, err := openSQLite(t, path).Exec(`INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_from_the_future.sql', '2030-01-01T00:00:00.000000000Z')`); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := main.Run(context.Background(), []string{"serve", "--data", s.Data, "--ssh-addr", "127.0.0.1:0", "--http-addr", ""}, nil, &out, &errb)
	want := "cannot serve this data folder: open " + path + ": the database was upgraded by a newer Gatehouse: it has migration 9999_from_the_future.sql, which this version does not know; run that version or a later one"
	if code != 1 || !strings.Contains(errb.String(), want) {
		t.Fatalf("serve on a newer folder: exit %d\n%s", code, errb.String())
	}
	if cli, err := s.CLI("user", "list"); err == nil || !strings.Contains(cli, "upgraded by a newer Gatehouse") {
		t.Fatalf("user list on a newer folder: %v\n%s", err, cli)
	}
	if got := applied(t, path, false); got[len(got)-1] != "9999_from_the_future.sql" {
		t.Fatalf("the folder changed: %v", got)
	}
	if b, _ := filepath.Glob(path + ".before-*"); len(b) != 0 {
		t.Fatalf("copies of a database not upgraded: %v", b)
	}
}
