package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Repository maintenance: the repack a push starts in the background
// when needed (repos/maintain), run now and waited for.
func init() {
	commands["repo gc"] = command{args: 1, run: func(ctx context.Context, c *cli, a []string) error {
		owner, name, err := splitRepo(a[0])
		if err != nil {
			return err
		}
		st, err := c.repos.Repack(ctx, owner, name)
		if err != nil {
			return err
		}
		return c.out(st, func(w io.Writer) {
			if st.Pack == "" {
				fmt.Fprintf(w, "%s/%s: no objects, nothing to do\n", owner, name)
				return
			}
			fmt.Fprintf(w, "repacked %s/%s in %s\npack:\t%s\nobjects:\t%d (%d bytes)\npacks repacked:\t%d (and %d loose objects)\nbitmaps:\t%d commits of %d\nold packs removed:\t%d\n",
				owner, name, st.Duration.Round(time.Millisecond), st.Pack, st.Objects, st.Bytes, st.PacksIn, st.LooseIn, st.Bitmaps, st.Commits, st.Removed)
		})
	}}
}
