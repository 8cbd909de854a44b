package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"gatehouse/backup"
)

// backupTake writes a snapshot of the data folder into DEST while the
// server runs (see package backup).
func backupTake(ctx context.Context, c *cli, a []string) error {
	opts := backup.Options{Data: c.data, DB: c.db, Repos: c.repos, Dest: a[0],
		Archive: c.flagString("archive"), Version: Version}
	if c.flagBool("progress") {
		opts.Progress = c.stderr
	}
	m, st, err := backup.Take(ctx, opts)
	if err != nil {
		return err
	}
	return c.out(struct {
		*backup.Stats
		LeftOut []string `json:"left_out"`
	}{st, m.LeftOut}, func(w io.Writer) {
		fmt.Fprintf(w, "snapshot\t%s\n", st.Snapshot)
		if st.Archive != "" {
			fmt.Fprintf(w, "archive\t%s (%d bytes)\n", st.Archive, st.ArchiveBytes)
		}
		fmt.Fprintf(w, "repositories\t%d\n", st.Repos)
		for _, r := range m.LeftOut {
			fmt.Fprintf(w, "left out\t%s (removed during the backup)\n", r)
		}
		fmt.Fprintf(w, "files\t%d, %d bytes\n", st.Files, st.Bytes)
		fmt.Fprintf(w, "written\t%d bytes copied; %d hard-linked from the data folder, %d from the previous snapshot\n", st.Copied, st.Linked, st.Reused)
		fmt.Fprintf(w, "took\t%s\n", st.Duration.Round(time.Millisecond))
	})
}

// backupVerify checks a backup folder, snapshot or archive against its
// manifest.
func backupVerify(ctx context.Context, c *cli, a []string) error {
	var progress io.Writer
	if c.flagBool("progress") {
		progress = c.stderr
	}
	m, err := backup.Verify(ctx, a[0], progress)
	if err != nil {
		return err
	}
	// The manifest without its file list, which may be long.
	summary := *m
	summary.Files = nil
	return c.out(struct {
		backup.Manifest
		Files int `json:"files"`
	}{summary, len(m.Files)}, func(w io.Writer) {
		fmt.Fprintf(w, "backup of %s (gatehouse %s): %d repositories, %d files, all as the manifest says\n",
			m.Started.Format(time.RFC3339), m.Version, len(m.Repos), len(m.Files))
	})
}

// restoreData builds the data folder --data (missing or empty) from a backup.
func restoreData(ctx context.Context, c *cli, a []string) error {
	var progress io.Writer
	if c.flagBool("progress") {
		progress = c.stderr
	}
	m, st, err := backup.Restore(ctx, a[0], c.data, progress)
	if err != nil {
		return err
	}
	return c.out(st, func(w io.Writer) {
		fmt.Fprintf(w, "restored %s into %s: %d repositories, %d files, %d bytes in %s\n",
			m.Started.Format(time.RFC3339), st.Snapshot, st.Repos, st.Files, st.Bytes, st.Duration.Round(time.Millisecond))
		fmt.Fprintf(w, "start the server with --data %s\n", st.Snapshot)
	})
}
