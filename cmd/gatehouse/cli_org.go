package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"gatehouse"
)

// Organizations and teams (SPEC 3 and 5).

func orgCreate(ctx context.Context, c *cli, a []string) error {
	lvl, err := c.defaultLevel()
	if err != nil {
		return err
	}
	o := &gatehouse.Organization{Name: a[0], DefaultLevel: lvl}
	if err := c.b.CreateOrg(ctx, o); err != nil {
		return err
	}
	return c.out(o, func(w io.Writer) {
		fmt.Fprintf(w, "created organization %s (members: %s)\n", o.Name, o.DefaultLevel)
	})
}

func orgSet(ctx context.Context, c *cli, a []string) error {
	lvl, err := c.defaultLevel()
	if err != nil {
		return err
	}
	o, err := c.b.UpdateOrg(ctx, a[0], gatehouse.OrgUpdate{DefaultLevel: &lvl})
	if err != nil {
		return err
	}
	return c.out(o, func(w io.Writer) {
		fmt.Fprintf(w, "members of %s have %s on its repositories\n", o.Name, o.DefaultLevel)
	})
}

func orgList(ctx context.Context, c *cli, a []string) error {
	list, err := c.b.FindOrgs(ctx, gatehouse.OrgFilter{})
	if err != nil {
		return err
	}
	return c.out(list, func(w io.Writer) {
		fmt.Fprintln(w, "NAME\tMEMBERS HAVE\tCREATED")
		for _, o := range list {
			fmt.Fprintf(w, "%s\t%s\t%s\n", o.Name, o.DefaultLevel, o.CreatedAt.Format(time.DateOnly))
		}
	})
}

// orgRemove removes an organization; with --force its repositories
// first, each with its disk.
func orgRemove(ctx context.Context, c *cli, a []string) error {
	o, err := c.b.FindOrgByName(ctx, a[0])
	if err != nil {
		return err
	}
	var removed []string
	if c.flagBool("force") {
		removed, err = c.b.DeleteOrgWithRepos(ctx, o.Name)
	} else {
		err = c.b.DeleteOrg(ctx, o.Name)
	}
	if err != nil {
		return err
	}
	return c.out(map[string]any{"deleted": o.Name, "repositories": removed}, func(w io.Writer) {
		for _, r := range removed {
			fmt.Fprintf(w, "removed %s\n", r)
		}
		fmt.Fprintf(w, "removed organization %s\n", o.Name)
	})
}

// orgMember is org member add ORG USER ROLE | rm ORG USER | list ORG.
func orgMember(ctx context.Context, c *cli, a []string) error {
	switch sub, n := subcommand(a); {
	case sub == "add" && n == 3:
		role, err := gatehouse.ParseOrgRole(a[3])
		if err != nil {
			return err
		}
		if err := c.b.SetOrgMember(ctx, a[1], a[2], role); err != nil {
			return err
		}
		return c.out(gatehouse.OrgMember{User: a[2], Role: role}, func(w io.Writer) {
			fmt.Fprintf(w, "%s is %s of %s\n", a[2], article(role), a[1])
		})
	case sub == "rm" && n == 2:
		if err := c.b.RemoveOrgMember(ctx, a[1], a[2]); err != nil {
			return err
		}
		return c.out(map[string]string{"removed": a[2]}, func(w io.Writer) {
			fmt.Fprintf(w, "removed %s from %s and its teams\n", a[2], a[1])
		})
	case sub == "list" && n == 1:
		ms, err := c.b.FindOrgMembers(ctx, a[1])
		if err != nil {
			return err
		}
		return c.out(ms, func(w io.Writer) {
			fmt.Fprintln(w, "USER\tROLE")
			for _, m := range ms {
				fmt.Fprintf(w, "%s\t%s\n", m.User, m.Role)
			}
		})
	}
	return usagef("org member add ORG USER member|admin | rm ORG USER | list ORG")
}

func teamCreate(ctx context.Context, c *cli, a []string) error {
	org, team, err := splitTeam(a[0])
	if err != nil {
		return err
	}
	t := &gatehouse.Team{Org: org, Name: team}
	if err := c.b.CreateTeam(ctx, t); err != nil {
		return err
	}
	return c.out(t, func(w io.Writer) { fmt.Fprintf(w, "created team %s\n", t.FullName()) })
}

func teamRemove(ctx context.Context, c *cli, a []string) error {
	org, team, err := splitTeam(a[0])
	if err != nil {
		return err
	}
	if err := c.b.DeleteTeam(ctx, org, team); err != nil {
		return err
	}
	return c.out(map[string]string{"deleted": org + "/" + team}, func(w io.Writer) {
		fmt.Fprintf(w, "removed team %s/%s\n", org, team)
	})
}

func teamList(ctx context.Context, c *cli, a []string) error {
	ts, err := c.b.FindTeams(ctx, a[0])
	if err != nil {
		return err
	}
	return c.out(ts, func(w io.Writer) {
		fmt.Fprintln(w, "TEAM\tCREATED")
		for _, t := range ts {
			fmt.Fprintf(w, "%s\t%s\n", t.FullName(), t.CreatedAt.Format(time.DateOnly))
		}
	})
}

// teamMember is team member add ORG/TEAM USER | rm ORG/TEAM USER | list
// ORG/TEAM.
func teamMember(ctx context.Context, c *cli, a []string) error {
	sub, n := subcommand(a)
	if !(sub == "add" && n == 2 || sub == "rm" && n == 2 || sub == "list" && n == 1) {
		return usagef("team member add ORG/TEAM USER | rm ORG/TEAM USER | list ORG/TEAM")
	}
	org, team, err := splitTeam(a[1])
	if err != nil {
		return err
	}
	full := org + "/" + team
	switch sub {
	case "add":
		if err := c.b.AddTeamMember(ctx, org, team, a[2]); err != nil {
			return err
		}
		return c.out(map[string]string{"team": full, "added": a[2]}, func(w io.Writer) {
			fmt.Fprintf(w, "added %s to team %s\n", a[2], full)
		})
	case "rm":
		if err := c.b.RemoveTeamMember(ctx, org, team, a[2]); err != nil {
			return err
		}
		return c.out(map[string]string{"team": full, "removed": a[2]}, func(w io.Writer) {
			fmt.Fprintf(w, "removed %s from team %s\n", a[2], full)
		})
	}
	ms, err := c.b.FindTeamMembers(ctx, org, team)
	if err != nil {
		return err
	}
	return c.out(ms, func(w io.Writer) {
		fmt.Fprintln(w, "USER")
		for _, m := range ms {
			fmt.Fprintln(w, m)
		}
	})
}

// defaultLevel reads --default-level: read or none.
func (c *cli) defaultLevel() (gatehouse.AccessLevel, error) {
	v := c.flagString("default-level")
	lvl, err := gatehouse.ParseAccessLevel(v)
	if err != nil || lvl > gatehouse.AccessRead {
		return 0, usagef("--default-level %q must be read or none", v)
	}
	return lvl, nil
}

// subcommand splits "add X Y" into "add" and the count of the rest.
func subcommand(a []string) (string, int) {
	if len(a) == 0 {
		return "", 0
	}
	return a[0], len(a) - 1
}

// splitTeam reads ORG/TEAM (an "@" in front is accepted too).
func splitTeam(s string) (string, string, error) {
	org, team, _, err := gatehouse.ParseTeamRef(strings.TrimPrefix(s, "@"), false)
	return org, team, err
}

func article(r gatehouse.OrgRole) string {
	if r == gatehouse.RoleAdmin {
		return "an admin"
	}
	return "a member"
}
