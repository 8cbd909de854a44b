package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"gatehouse"
	"gatehouse/keys"
)

// Organizations and teams (SPEC 3 and 5). Every change is audited with
// the organization (or the repository, for team grants) in the entry.
func init() {
	defaultLevelFlag := func(fs *flag.FlagSet) {
		fs.String("default-level", "read", "what members have on the organization's repositories: read or none")
	}
	commands["org create"] = command{args: 1, flags: defaultLevelFlag,
		run: func(ctx context.Context, c *cli, a []string) error {
			lvl, err := c.defaultLevel()
			if err != nil {
				return err
			}
			o := &gatehouse.Organization{Name: a[0], DefaultLevel: lvl}
			if err := c.orgs().CreateOrg(ctx, o); err != nil {
				return err
			}
			c.record(ctx, gatehouse.AuditOrgCreate, "", o.Name+" default="+o.DefaultLevel.String())
			return c.out(o, func(w io.Writer) {
				fmt.Fprintf(w, "created organization %s (members: %s)\n", o.Name, o.DefaultLevel)
			})
		}}
	commands["org set"] = command{args: 1, flags: defaultLevelFlag,
		run: func(ctx context.Context, c *cli, a []string) error {
			lvl, err := c.defaultLevel()
			if err != nil {
				return err
			}
			o, err := c.orgs().UpdateOrg(ctx, a[0], gatehouse.OrgUpdate{DefaultLevel: &lvl})
			if err != nil {
				return err
			}
			c.record(ctx, gatehouse.AuditOrgUpdate, "", o.Name+" default="+o.DefaultLevel.String())
			return c.out(o, func(w io.Writer) {
				fmt.Fprintf(w, "members of %s have %s on its repositories\n", o.Name, o.DefaultLevel)
			})
		}}
	commands["org list"] = command{args: 0, run: func(ctx context.Context, c *cli, a []string) error {
		list, err := c.orgs().FindOrgs(ctx, gatehouse.OrgFilter{})
		if err != nil {
			return err
		}
		return c.out(list, func(w io.Writer) {
			fmt.Fprintln(w, "NAME\tMEMBERS HAVE\tCREATED")
			for _, o := range list {
				fmt.Fprintf(w, "%s\t%s\t%s\n", o.Name, o.DefaultLevel, o.CreatedAt.Format(time.DateOnly))
			}
		})
	}}
	commands["org rm"] = command{args: 1,
		flags: func(fs *flag.FlagSet) { fs.Bool("force", false, "also remove the organization's repositories") },
		run: func(ctx context.Context, c *cli, a []string) error {
			o, err := c.orgs().FindOrgByName(ctx, a[0])
			if err != nil {
				return err
			}
			var removed []string
			if c.flagBool("force") {
				// Through the repository service, so that the disk is
				// cleaned with the metadata, one repository at a time.
				rs, err := c.repos.FindRepos(ctx, gatehouse.RepoFilter{Owner: o.Name})
				if err != nil {
					return err
				}
				for _, r := range rs {
					if err := c.repos.DeleteRepo(ctx, r.Owner, r.Name); err != nil {
						return err
					}
					c.record(ctx, gatehouse.AuditRepoDelete, r.FullName(), "org rm --force")
					removed = append(removed, r.FullName())
				}
			}
			if err := c.orgs().DeleteOrg(ctx, o.Name); err != nil {
				return err
			}
			c.record(ctx, gatehouse.AuditOrgDelete, "", o.Name)
			return c.out(map[string]any{"deleted": o.Name, "repositories": removed}, func(w io.Writer) {
				for _, r := range removed {
					fmt.Fprintf(w, "removed %s\n", r)
				}
				fmt.Fprintf(w, "removed organization %s\n", o.Name)
			})
		}}
	// Three-word commands: the table holds two, the third is an argument.
	commands["org member"] = command{args: -1, run: func(ctx context.Context, c *cli, a []string) error {
		switch sub, n := subcommand(a); {
		case sub == "add" && n == 3:
			role, err := gatehouse.ParseOrgRole(a[3])
			if err != nil {
				return err
			}
			if err := c.orgs().SetOrgMember(ctx, a[1], a[2], role); err != nil {
				return err
			}
			c.record(ctx, gatehouse.AuditOrgMemberSet, "", a[1]+" "+a[2]+" "+string(role))
			return c.out(gatehouse.OrgMember{User: a[2], Role: role}, func(w io.Writer) {
				fmt.Fprintf(w, "%s is %s of %s\n", a[2], article(role), a[1])
			})
		case sub == "rm" && n == 2:
			if err := c.orgs().RemoveOrgMember(ctx, a[1], a[2]); err != nil {
				return err
			}
			c.record(ctx, gatehouse.AuditOrgMemberRemove, "", a[1]+" "+a[2])
			return c.out(map[string]string{"removed": a[2]}, func(w io.Writer) {
				fmt.Fprintf(w, "removed %s from %s and its teams\n", a[2], a[1])
			})
		case sub == "list" && n == 1:
			ms, err := c.orgs().FindOrgMembers(ctx, a[1])
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
	}}

	commands["team create"] = command{args: 1, run: func(ctx context.Context, c *cli, a []string) error {
		org, team, err := splitTeam(a[0])
		if err != nil {
			return err
		}
		t := &gatehouse.Team{Org: org, Name: team}
		if err := c.orgs().CreateTeam(ctx, t); err != nil {
			return err
		}
		c.record(ctx, gatehouse.AuditTeamCreate, "", t.FullName())
		return c.out(t, func(w io.Writer) { fmt.Fprintf(w, "created team %s\n", t.FullName()) })
	}}
	commands["team rm"] = command{args: 1, run: func(ctx context.Context, c *cli, a []string) error {
		org, team, err := splitTeam(a[0])
		if err != nil {
			return err
		}
		if err := c.orgs().DeleteTeam(ctx, org, team); err != nil {
			return err
		}
		c.record(ctx, gatehouse.AuditTeamDelete, "", org+"/"+team)
		return c.out(map[string]string{"deleted": org + "/" + team}, func(w io.Writer) {
			fmt.Fprintf(w, "removed team %s/%s\n", org, team)
		})
	}}
	commands["team list"] = command{args: 1, run: func(ctx context.Context, c *cli, a []string) error {
		ts, err := c.orgs().FindTeams(ctx, a[0])
		if err != nil {
			return err
		}
		return c.out(ts, func(w io.Writer) {
			fmt.Fprintln(w, "TEAM\tCREATED")
			for _, t := range ts {
				fmt.Fprintf(w, "%s\t%s\n", t.FullName(), t.CreatedAt.Format(time.DateOnly))
			}
		})
	}}
	commands["team member"] = command{args: -1, run: func(ctx context.Context, c *cli, a []string) error {
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
			if err := c.orgs().AddTeamMember(ctx, org, team, a[2]); err != nil {
				return err
			}
			c.record(ctx, gatehouse.AuditTeamMemberAdd, "", full+" "+a[2])
			return c.out(map[string]string{"team": full, "added": a[2]}, func(w io.Writer) {
				fmt.Fprintf(w, "added %s to team %s\n", a[2], full)
			})
		case "rm":
			if err := c.orgs().RemoveTeamMember(ctx, org, team, a[2]); err != nil {
				return err
			}
			c.record(ctx, gatehouse.AuditTeamMemberRemove, "", full+" "+a[2])
			return c.out(map[string]string{"team": full, "removed": a[2]}, func(w io.Writer) {
				fmt.Fprintf(w, "removed %s from team %s\n", a[2], full)
			})
		}
		ms, err := c.orgs().FindTeamMembers(ctx, org, team)
		if err != nil {
			return err
		}
		return c.out(ms, func(w io.Writer) {
			fmt.Fprintln(w, "USER")
			for _, m := range ms {
				fmt.Fprintln(w, m)
			}
		})
	}}

	// collab add/rm/list also take and show teams, written @ORG/TEAM.
	ca := commands["collab add"]
	caRun := ca.run
	ca.run = func(ctx context.Context, c *cli, a []string) error {
		org, team, ok, err := gatehouse.ParseTeamRef(a[1], true)
		if !ok {
			return caRun(ctx, c, a)
		}
		if err != nil {
			return err
		}
		owner, name, err := splitRepo(a[0])
		if err != nil {
			return err
		}
		lvl, err := gatehouse.ParseAccessLevel(a[2])
		if err != nil || lvl == gatehouse.AccessNone {
			return fmt.Errorf("level %q must be read, write or admin: %w", a[2], gatehouse.ErrInvalid)
		}
		if err := c.orgs().SetTeamGrant(ctx, owner, name, org, team, lvl); err != nil {
			return err
		}
		c.record(ctx, gatehouse.AuditTeamGrantSet, owner+"/"+name, "@"+org+"/"+team+" "+lvl.String())
		return c.out(gatehouse.Collaborator{User: a[1], Level: lvl}, func(w io.Writer) {
			fmt.Fprintf(w, "team %s has %s on %s/%s\n", a[1], lvl, owner, name)
		})
	}
	commands["collab add"] = ca

	cr := commands["collab rm"]
	crRun := cr.run
	cr.run = func(ctx context.Context, c *cli, a []string) error {
		org, team, ok, err := gatehouse.ParseTeamRef(a[1], true)
		if !ok {
			return crRun(ctx, c, a)
		}
		if err != nil {
			return err
		}
		owner, name, err := splitRepo(a[0])
		if err != nil {
			return err
		}
		if err := c.orgs().RemoveTeamGrant(ctx, owner, name, org, team); err != nil {
			return err
		}
		c.record(ctx, gatehouse.AuditTeamGrantRemove, owner+"/"+name, a[1])
		return c.out(map[string]string{"removed": a[1]}, func(w io.Writer) {
			fmt.Fprintf(w, "removed team %s from %s/%s\n", a[1], owner, name)
		})
	}
	commands["collab rm"] = cr

	// collab list: users, then teams as "@ORG/TEAM" in the same list, the
	// way collab add takes them.
	commands["collab list"] = command{args: 1, run: func(ctx context.Context, c *cli, a []string) error {
		owner, name, err := splitRepo(a[0])
		if err != nil {
			return err
		}
		cs, err := c.repos.FindCollaborators(ctx, owner, name)
		if err != nil {
			return err
		}
		gs, err := c.orgs().FindTeamGrants(ctx, owner, name)
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
	}}
}

func (c *cli) orgs() gatehouse.OrgService { return keys.NewOrgService(c.db) }

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
