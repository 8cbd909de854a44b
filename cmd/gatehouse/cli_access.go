package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"gatehouse"
	"gatehouse/keys"
)

// Deploy keys and protected branches (SPEC 5), and the repository count
// limit on repo create.
func init() {
	commands["deploy-key add"] = command{args: 2,
		flags: func(fs *flag.FlagSet) { fs.Bool("write", false, "the key may push, not only fetch") },
		run: func(ctx context.Context, c *cli, a []string) error {
			owner, name, err := splitRepo(a[0])
			if err != nil {
				return err
			}
			text, err := readKeyArg(a[1], c.stdin)
			if err != nil {
				return err
			}
			k, err := keys.NewDeployKeyService(c.db).AddDeployKey(ctx, owner, name, text, c.flagBool("write"))
			if err != nil {
				return err
			}
			c.record(ctx, gatehouse.AuditDeployKeyAdd, k.Repo, k.Fingerprint+yesNo(k.Write, " write"))
			return c.out(k, func(w io.Writer) {
				fmt.Fprintf(w, "added deploy key %s (%s, %s) to %s\n", k.Fingerprint, k.Type, readWrite(k.Write), k.Repo)
			})
		}}
	commands["deploy-key list"] = command{args: 1, run: func(ctx context.Context, c *cli, a []string) error {
		owner, name, err := splitRepo(a[0])
		if err != nil {
			return err
		}
		ks, err := keys.NewDeployKeyService(c.db).FindDeployKeys(ctx, owner, name)
		if err != nil {
			return err
		}
		return c.out(ks, func(w io.Writer) {
			fmt.Fprintln(w, "FINGERPRINT\tTYPE\tACCESS\tTITLE\tLAST USED")
			for _, k := range ks {
				last := "never"
				if k.LastUsedAt != nil {
					last = k.LastUsedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.Fingerprint, k.Type, readWrite(k.Write), k.Title, last)
			}
		})
	}}
	commands["deploy-key rm"] = command{args: 2, run: func(ctx context.Context, c *cli, a []string) error {
		owner, name, err := splitRepo(a[0])
		if err != nil {
			return err
		}
		if err := keys.NewDeployKeyService(c.db).RemoveDeployKey(ctx, owner, name, a[1]); err != nil {
			return err
		}
		c.record(ctx, gatehouse.AuditDeployKeyRemove, owner+"/"+name, a[1])
		return c.out(map[string]string{"removed": a[1]}, func(w io.Writer) {
			fmt.Fprintf(w, "removed deploy key %s from %s/%s\n", a[1], owner, name)
		})
	}}

	commands["protect add"] = command{args: 2,
		flags: func(fs *flag.FlagSet) {
			fs.Bool("admin-only", false, "only repository admins may push to matching branches")
		},
		run: func(ctx context.Context, c *cli, a []string) error {
			owner, name, err := splitRepo(a[0])
			if err != nil {
				return err
			}
			pb, err := keys.NewProtectionService(c.db).AddProtectedBranch(ctx, owner, name, a[1], c.flagBool("admin-only"))
			if err != nil {
				return err
			}
			c.record(ctx, gatehouse.AuditProtectAdd, owner+"/"+name, pb.Pattern+yesNo(pb.AdminOnly, " admin-only"))
			return c.out(pb, func(w io.Writer) {
				fmt.Fprintf(w, "protected %s on %s/%s%s\n", pb.Pattern, owner, name, yesNo(pb.AdminOnly, " (admin-only)"))
			})
		}}
	commands["protect rm"] = command{args: 2, run: func(ctx context.Context, c *cli, a []string) error {
		owner, name, err := splitRepo(a[0])
		if err != nil {
			return err
		}
		if err := keys.NewProtectionService(c.db).RemoveProtectedBranch(ctx, owner, name, a[1]); err != nil {
			return err
		}
		c.record(ctx, gatehouse.AuditProtectRemove, owner+"/"+name, a[1])
		return c.out(map[string]string{"removed": a[1]}, func(w io.Writer) {
			fmt.Fprintf(w, "unprotected %s on %s/%s\n", a[1], owner, name)
		})
	}}
	commands["protect list"] = command{args: 1, run: func(ctx context.Context, c *cli, a []string) error {
		owner, name, err := splitRepo(a[0])
		if err != nil {
			return err
		}
		pbs, err := keys.NewProtectionService(c.db).FindProtectedBranches(ctx, owner, name)
		if err != nil {
			return err
		}
		return c.out(pbs, func(w io.Writer) {
			fmt.Fprintln(w, "PATTERN\tADMIN ONLY")
			for _, pb := range pbs {
				fmt.Fprintf(w, "%s\t%s\n", pb.Pattern, yesNo(pb.AdminOnly, "admin-only"))
			}
		})
	}}

	// repo create obeys the same repository count limit as create on
	// push; GATEHOUSE_MAX_REPOS_PER_USER sets both.
	rc := commands["repo create"]
	flags, run := rc.flags, rc.run
	rc.flags = func(fs *flag.FlagSet) {
		if flags != nil {
			flags(fs)
		}
		fs.Int("max-repos-per-user", DefaultMaxReposPerUser, "repositories one owner may have; negative for no limit")
	}
	rc.run = func(ctx context.Context, c *cli, a []string) error {
		c.repos.MaxReposPerUser = c.flagInt("max-repos-per-user")
		return run(ctx, c, a)
	}
	commands["repo create"] = rc

	// key add --expires: the same command, with an expiry.
	ka := commands["key add"]
	kaFlags, kaRun := ka.flags, ka.run
	ka.flags = func(fs *flag.FlagSet) {
		if kaFlags != nil {
			kaFlags(fs)
		}
		fs.String("expires", "", "the key stops working after this duration (720h) or at this time (RFC 3339)")
	}
	ka.run = func(ctx context.Context, c *cli, a []string) error {
		v := c.flagString("expires")
		if v == "" {
			return kaRun(ctx, c, a)
		}
		var at time.Time
		if d, err := time.ParseDuration(v); err == nil {
			at = time.Now().Add(d)
		} else if t, err := time.Parse(time.RFC3339, v); err == nil {
			at = t
		} else {
			return usagef("--expires %q is neither a duration nor a time (RFC 3339)", v)
		}
		text, err := readKeyArg(a[1], c.stdin)
		if err != nil {
			return err
		}
		k, err := keys.NewKeyService(c.db).AddExpiringKey(ctx, a[0], text, &at)
		if err != nil {
			return err
		}
		c.record(ctx, gatehouse.AuditKeyAdd, "", a[0]+" "+k.Fingerprint+" expires "+k.ExpiresAt.Format(time.RFC3339))
		return c.out(k, func(w io.Writer) {
			fmt.Fprintf(w, "added %s (%s %d) to %s, expires %s\n", k.Fingerprint, k.Type, k.Bits, a[0], k.ExpiresAt.Format(time.RFC3339))
		})
	}
	commands["key add"] = ka
}

func readWrite(write bool) string {
	if write {
		return "read-write"
	}
	return "read-only"
}
