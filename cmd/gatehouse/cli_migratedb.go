package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gatehouse/keys"
)

// migrateDB copies a SQLite installation's metadata into a new
// PostgreSQL database: gatehouse migrate-db --from sqlite:PATH --to
// postgres://... The source may be in use (one read transaction is
// copied); the target must hold no rows, and is left as it was when the
// copy fails. Repositories and the rest of the data folder stay where
// they are: serve --db on the same --data then uses them.
func migrateDB(ctx context.Context, c *cli, _ []string) error {
	from, to := c.flagString("from"), c.flagString("to")
	if !strings.HasPrefix(from, "sqlite:") || from == "sqlite:" {
		return usagef("migrate-db: --from must be sqlite:PATH, the installation's DATA/gatehouse.db")
	}
	if !keys.IsPostgresURL(to) {
		return usagef("migrate-db: --to must be a postgres:// URL")
	}
	path := strings.TrimPrefix(from, "sqlite:")
	// keys.Open would make a new, empty database, and the copy of
	// nothing would succeed.
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("migrate-db: the database to copy: %w", err)
	}
	src, err := keys.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	// The target's data folder is the source's: the webhook marker goes
	// where serve will look for it.
	dst, err := keys.OpenURL(filepath.Dir(path), to)
	if err != nil {
		return err
	}
	defer dst.Close()
	counts, err := src.CopyTo(ctx, dst)
	if err != nil {
		return err
	}
	var total int64
	for _, n := range counts {
		total += n.Rows
	}
	return c.out(struct {
		Tables []keys.TableCount `json:"tables"`
		Rows   int64             `json:"rows"`
		To     string            `json:"to"`
	}{counts, total, dst.Name}, func(w io.Writer) {
		for _, n := range counts {
			fmt.Fprintf(w, "%s\t%d rows\n", n.Table, n.Rows)
		}
		fmt.Fprintf(w, "copied %d rows into %s, each table's count checked; start serve with --db pointing there\n", total, dst.Name)
	})
}
