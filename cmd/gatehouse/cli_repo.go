package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"gatehouse"
	"gatehouse/sshd"
)

// Repositories, who may reach them (collaborators and teams, deploy keys,
// protected branches), their maintenance, and the host keys.

func repoCreate(ctx context.Context, c *cli, a []string) error {
	owner, name, err := splitRepo(a[0])
	if err != nil {
		return err
	}
	if c.flagBool("private") && c.flagBool("public") {
		return usagef("--private and --public exclude each other")
	}
	r := &gatehouse.Repo{Owner: owner, Name: name, Private: !c.flagBool("public"), Description: c.flagString("description")}
	if err := c.b.CreateRepo(ctx, r); err != nil {
		return err
	}
	return c.out(r, func(w io.Writer) { fmt.Fprintf(w, "created %s (%s)\n", r.FullName(), r.Visibility()) })
}

func repoList(ctx context.Context, c *cli, a []string) error {
	rs, err := c.b.FindRepos(ctx, gatehouse.RepoFilter{})
	if err != nil {
		return err
	}
	return c.out(rs, func(w io.Writer) {
		fmt.Fprintln(w, "REPOSITORY\tVISIBILITY\tDEFAULT BRANCH\tDESCRIPTION")
		for _, r := range rs {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.FullName(), r.Visibility(), r.DefaultBranch, r.Description)
		}
	})
}

func repoShow(ctx context.Context, c *cli, a []string) error {
	owner, name, err := splitRepo(a[0])
	if err != nil {
		return err
	}
	r, err := c.b.FindRepo(ctx, owner, name)
	if err != nil {
		return err
	}
	dir, _ := c.repos.Dir(owner, name)
	lfsSize, err := c.b.LFSUsage(ctx, owner, name)
	if err != nil {
		return err
	}
	shown := struct {
		*gatehouse.Repo
		LFSSize int64 `json:"lfs_size"`
	}{r, lfsSize}
	return c.out(shown, func(w io.Writer) {
		fmt.Fprintf(w, "repository:\t%s\nvisibility:\t%s\ndefault branch:\t%s\ndescription:\t%s\ncreated:\t%s\npath:\t%s\nlfs size:\t%d bytes\n",
			r.FullName(), r.Visibility(), r.DefaultBranch, r.Description, r.CreatedAt.Format(time.RFC3339), dir, lfsSize)
	})
}

func repoRemove(ctx context.Context, c *cli, a []string) error {
	owner, name, err := splitRepo(a[0])
	if err != nil {
		return err
	}
	if err := c.b.DeleteRepo(ctx, owner, name); err != nil {
		return err
	}
	return c.out(map[string]string{"deleted": owner + "/" + name}, func(w io.Writer) { fmt.Fprintf(w, "removed %s/%s\n", owner, name) })
}

func repoRename(ctx context.Context, c *cli, a []string) error {
	owner, name, err := splitRepo(a[0])
	if err != nil {
		return err
	}
	nowner, nname, err := splitRepo(a[1])
	if err != nil {
		return err
	}
	r, err := c.b.RenameRepo(ctx, owner, name, nowner, nname)
	if err != nil {
		return err
	}
	return c.out(r, func(w io.Writer) { fmt.Fprintf(w, "renamed %s/%s to %s\n", owner, name, r.FullName()) })
}

// repoGC runs now, and waits for, the repack a push starts in the
// background when needed (repos/maintain).
func repoGC(ctx context.Context, c *cli, a []string) error {
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
}

// collabAdd grants a user, or a team written @ORG/TEAM, a level.
func collabAdd(ctx context.Context, c *cli, a []string) error {
	owner, name, err := splitRepo(a[0])
	if err != nil {
		return err
	}
	org, team, isTeam, err := gatehouse.ParseTeamRef(a[1], true)
	if err != nil {
		return err
	}
	lvl, err := gatehouse.ParseGrantLevel(a[2])
	if err != nil {
		return err
	}
	if isTeam {
		if err := c.b.SetTeamGrant(ctx, owner, name, org, team, lvl); err != nil {
			return err
		}
		return c.out(gatehouse.Collaborator{User: a[1], Level: lvl}, func(w io.Writer) {
			fmt.Fprintf(w, "team %s has %s on %s/%s\n", a[1], lvl, owner, name)
		})
	}
	if err := c.b.SetCollaborator(ctx, owner, name, a[1], lvl); err != nil {
		return err
	}
	return c.out(gatehouse.Collaborator{User: a[1], Level: lvl}, func(w io.Writer) {
		fmt.Fprintf(w, "%s has %s on %s/%s\n", a[1], lvl, owner, name)
	})
}

func collabRemove(ctx context.Context, c *cli, a []string) error {
	owner, name, err := splitRepo(a[0])
	if err != nil {
		return err
	}
	org, team, isTeam, err := gatehouse.ParseTeamRef(a[1], true)
	if err != nil {
		return err
	}
	if isTeam {
		if err := c.b.RemoveTeamGrant(ctx, owner, name, org, team); err != nil {
			return err
		}
		return c.out(map[string]string{"removed": a[1]}, func(w io.Writer) {
			fmt.Fprintf(w, "removed team %s from %s/%s\n", a[1], owner, name)
		})
	}
	if err := c.b.RemoveCollaborator(ctx, owner, name, a[1]); err != nil {
		return err
	}
	return c.out(map[string]string{"removed": a[1]}, func(w io.Writer) { fmt.Fprintf(w, "removed %s from %s/%s\n", a[1], owner, name) })
}

// collabList lists users, then teams as "@ORG/TEAM" in the same list,
// the way collab add takes them.
func collabList(ctx context.Context, c *cli, a []string) error {
	owner, name, err := splitRepo(a[0])
	if err != nil {
		return err
	}
	cs, err := c.b.FindCollaborators(ctx, owner, name)
	if err != nil {
		return err
	}
	gs, err := c.b.FindTeamGrants(ctx, owner, name)
	if err != nil {
		return err
	}
	for _, g := range gs {
		cs = append(cs, &gatehouse.Collaborator{User: "@" + g.Team, Level: g.Level})
	}
	return c.out(cs, func(w io.Writer) {
		fmt.Fprintln(w, "USER\tLEVEL")
		for _, cb := range cs {
			fmt.Fprintf(w, "%s\t%s\n", cb.User, cb.Level)
		}
	})
}

func deployKeyAdd(ctx context.Context, c *cli, a []string) error {
	owner, name, err := splitRepo(a[0])
	if err != nil {
		return err
	}
	text, err := readKeyArg(a[1], c.stdin)
	if err != nil {
		return err
	}
	k, err := c.b.AddDeployKey(ctx, owner, name, text, c.flagBool("write"))
	if err != nil {
		return err
	}
	return c.out(k, func(w io.Writer) {
		fmt.Fprintf(w, "added deploy key %s (%s, %s) to %s\n", k.Fingerprint, k.Type, readWrite(k.Write), k.Repo)
	})
}

func deployKeyList(ctx context.Context, c *cli, a []string) error {
	owner, name, err := splitRepo(a[0])
	if err != nil {
		return err
	}
	ks, err := c.b.FindDeployKeys(ctx, owner, name)
	if err != nil {
		return err
	}
	return c.out(ks, func(w io.Writer) {
		fmt.Fprintln(w, "FINGERPRINT\tTYPE\tKIND\tACCESS\tTITLE\tLAST USED")
		for _, k := range ks {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", k.Fingerprint, k.Type, k.Kind, readWrite(k.Write), k.Title, timeOrNever(k.LastUsedAt))
		}
	})
}

func deployKeyRemove(ctx context.Context, c *cli, a []string) error {
	owner, name, err := splitRepo(a[0])
	if err != nil {
		return err
	}
	if err := c.b.RemoveDeployKey(ctx, owner, name, a[1]); err != nil {
		return err
	}
	return c.out(map[string]string{"removed": a[1]}, func(w io.Writer) {
		fmt.Fprintf(w, "removed deploy key %s from %s/%s\n", a[1], owner, name)
	})
}

func protectAdd(ctx context.Context, c *cli, a []string) error {
	owner, name, err := splitRepo(a[0])
	if err != nil {
		return err
	}
	pb, err := c.b.AddProtectedBranch(ctx, owner, name, a[1], c.flagBool("admin-only"))
	if err != nil {
		return err
	}
	return c.out(pb, func(w io.Writer) {
		fmt.Fprintf(w, "protected %s on %s/%s%s\n", pb.Pattern, owner, name, yesNo(pb.AdminOnly, " (admin-only)"))
	})
}

func protectRemove(ctx context.Context, c *cli, a []string) error {
	owner, name, err := splitRepo(a[0])
	if err != nil {
		return err
	}
	if err := c.b.RemoveProtectedBranch(ctx, owner, name, a[1]); err != nil {
		return err
	}
	return c.out(map[string]string{"removed": a[1]}, func(w io.Writer) {
		fmt.Fprintf(w, "unprotected %s on %s/%s\n", a[1], owner, name)
	})
}

func protectList(ctx context.Context, c *cli, a []string) error {
	owner, name, err := splitRepo(a[0])
	if err != nil {
		return err
	}
	pbs, err := c.b.FindProtectedBranches(ctx, owner, name)
	if err != nil {
		return err
	}
	return c.out(pbs, func(w io.Writer) {
		fmt.Fprintln(w, "PATTERN\tADMIN ONLY")
		for _, pb := range pbs {
			fmt.Fprintf(w, "%s\t%s\n", pb.Pattern, yesNo(pb.AdminOnly, "admin-only"))
		}
	})
}

func hostKeys(ctx context.Context, c *cli, a []string) error {
	signers, err := sshd.LoadHostKeys(c.data)
	if err != nil {
		return err
	}
	ks := sshd.DescribeHostKeys(signers)
	return c.out(ks, func(w io.Writer) {
		for _, k := range ks {
			fmt.Fprintf(w, "%s\t%s\n", k.Fingerprint, k.Type)
		}
	})
}

func readWrite(write bool) string {
	if write {
		return "read-write"
	}
	return "read-only"
}
