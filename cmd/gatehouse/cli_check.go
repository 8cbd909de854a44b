package main

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// errCheckFailed is check's exit status 1 when it found something: the
// report itself is on stdout.
var errCheckFailed = errors.New("check found problems")

// check reports the data folder's consistency: repository directories
// against their metadata, and what pushes and repacks killed midway left.
func check(ctx context.Context, c *cli, a []string) error {
	rep, err := c.repos.Check(ctx, c.flagBool("repair"))
	if err != nil {
		return err
	}
	if err := c.out(rep, func(w io.Writer) {
		for _, d := range rep.Unregistered {
			fmt.Fprintf(w, "unregistered\t%s\t%s: on disk with no metadata; pushes cannot create it (move or remove the folder, or restore the database)\n", d.Repo, d.Dir)
		}
		for _, d := range rep.Missing {
			fmt.Fprintf(w, "missing\t%s\t%s: registered, folder not there\n", d.Repo, d.Dir)
		}
		verb := "left behind"
		if rep.Swept {
			verb = "removed"
		}
		for _, l := range rep.Leftovers {
			fmt.Fprintf(w, "%s\t%s\t%s (%d bytes)\n", verb, l.Kind, l.Path, l.Bytes)
		}
		if !rep.Problems() {
			fmt.Fprintln(w, "no problems found")
		} else if len(rep.Leftovers) > 0 && !rep.Swept {
			fmt.Fprintln(w, "leftovers are removed at the next start, by maintenance, or now by check --repair")
		}
	}); err != nil {
		return err
	}
	if rep.Problems() {
		return errCheckFailed
	}
	return nil
}
