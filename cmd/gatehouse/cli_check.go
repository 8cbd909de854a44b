package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"gatehouse/repos"
)

// errCheckFailed is check's exit status 1 when it found something: the
// report itself is on stdout.
var errCheckFailed = errors.New("check found problems")

// check reports the data folder's consistency: repository directories
// against their metadata, every repository's refs and history, and what operations killed midway left. --repair removes the
// leftovers and moves orphan folders to DATA/lost+found.
func check(ctx context.Context, c *cli, a []string) error {
	repair := c.flagBool("repair")
	rep, err := c.repos.Check(ctx, repos.CheckOptions{
		Repair: repair,
		Aside:  filepath.Join(c.data, "lost+found"),
	})
	if err != nil {
		return err
	}
	if err := c.out(rep, func(w io.Writer) {
		for _, d := range rep.Unregistered {
			fmt.Fprintf(w, "unregistered\t%s\t%s: on disk with no metadata; pushes cannot create it (check --repair moves it aside, or restore the database)\n", d.Repo, d.Dir)
		}
		for _, d := range rep.Missing {
			fmt.Fprintf(w, "missing\t%s\t%s: registered, folder not there (restore it, or repo rm)\n", d.Repo, d.Dir)
		}
		for _, d := range rep.Damaged {
			for _, p := range d.Problems {
				fmt.Fprintf(w, "damaged\t%s\t%s\n", d.Repo, p)
			}
			if d.More > 0 {
				fmt.Fprintf(w, "damaged\t%s\tand %d more problems\n", d.Repo, d.More)
			}
		}
		for _, m := range rep.Moved {
			fmt.Fprintf(w, "moved aside\t%s\t%s -> %s\n", m.Repo, m.From, m.To)
		}
		verb := "left behind"
		if rep.Swept {
			verb = "removed"
		}
		for _, l := range rep.Leftovers {
			fmt.Fprintf(w, "%s\t%s\t%s (%d bytes)\n", verb, l.Kind, l.Path, l.Bytes)
		}
		if !rep.Problems() {
			fmt.Fprintf(w, "no problems found (%d repositories, %d objects reachable)\n", rep.Checked, rep.Objects)
			return
		}
		if len(rep.Leftovers) > 0 && !rep.Swept {
			fmt.Fprintln(w, "leftovers are removed at the next start, by maintenance, or now by check --repair")
		}
		if repair {
			fmt.Fprintf(w, "left for an administrator: %d missing, %d damaged (restore them from a backup)\n", len(rep.Missing), len(rep.Damaged))
		}
	}); err != nil {
		return err
	}
	if rep.Problems() {
		return errCheckFailed
	}
	return nil
}
