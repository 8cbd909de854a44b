package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"gatehouse"
	"gatehouse/keys"
)

// The web panel's commands: API tokens and one-time login links.
func init() {
	commands["token create"] = command{args: 1, flags: func(fs *flag.FlagSet) {
		fs.String("name", "", "a label to recognise the token by")
		fs.String("expires", "", "lifetime, such as 720h; empty for none")
		fs.String("scope", "admin", "what the token may do: read, write or admin")
	}, run: func(ctx context.Context, c *cli, a []string) error {
		scope, err := gatehouse.ParseTokenScope(c.flagString("scope"))
		if err != nil {
			return usagef("--scope %q must be read, write or admin", c.flagString("scope"))
		}
		var exp *time.Time
		if s := c.flagString("expires"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return usagef("--expires %q must be a positive duration such as 720h", s)
			}
			t := time.Now().Add(d)
			exp = &t
		}
		t, secret, err := keys.NewTokenService(c.db).CreateToken(ctx, a[0], c.flagString("name"), scope, exp)
		if err != nil {
			return err
		}
		c.record(ctx, gatehouse.AuditTokenCreate, "", fmt.Sprintf("%s #%d %s %s", a[0], t.ID, t.Scope, t.Name))
		v := struct {
			*gatehouse.Token
			Secret string `json:"token"`
		}{t, secret}
		return c.out(v, func(w io.Writer) {
			// The secret alone on stdout's first line, for $(...) in scripts.
			fmt.Fprintln(w, secret)
			fmt.Fprintf(w, "%s token #%d for %s; it is not shown again\n", t.Scope, t.ID, t.User)
		})
	}}
	commands["token list"] = command{args: 1, run: func(ctx context.Context, c *cli, a []string) error {
		ts, err := keys.NewTokenService(c.db).FindTokens(ctx, a[0])
		if err != nil {
			return err
		}
		return c.out(nonNilList(ts), func(w io.Writer) {
			fmt.Fprintln(w, "ID\tNAME\tSCOPE\tCREATED\tEXPIRES\tLAST USED")
			for _, t := range ts {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Scope, t.CreatedAt.Format(time.RFC3339), timeOrNever(t.ExpiresAt), timeOrNever(t.LastUsedAt))
			}
		})
	}}
	commands["token rm"] = command{args: 2, run: func(ctx context.Context, c *cli, a []string) error {
		id, err := strconv.ParseInt(a[1], 10, 64)
		if err != nil {
			return usagef("token id %q must be a number (see token list)", a[1])
		}
		if err := keys.NewTokenService(c.db).RevokeToken(ctx, a[0], id); err != nil {
			return err
		}
		c.record(ctx, gatehouse.AuditTokenRevoke, "", fmt.Sprintf("%s #%d", a[0], id))
		return c.out(map[string]int64{"revoked": id}, func(w io.Writer) { fmt.Fprintf(w, "revoked token #%d of %s\n", id, a[0]) })
	}}
	commands["login-link"] = command{args: 1, flags: func(fs *flag.FlagSet) {
		fs.String("url", "http://127.0.0.1:8080", "the panel's base URL")
	}, run: func(ctx context.Context, c *cli, a []string) error {
		l, err := keys.NewLoginService(c.db).CreateLoginLink(ctx, a[0])
		if err != nil {
			return err
		}
		url := strings.TrimSuffix(c.flagString("url"), "/") + l.Path
		v := struct {
			*gatehouse.LoginLink
			URL string `json:"url"`
		}{l, url}
		return c.out(v, func(w io.Writer) {
			fmt.Fprintln(w, url)
			fmt.Fprintf(w, "logs %s in once, until %s\n", l.User, l.ExpiresAt.Format(time.RFC3339))
		})
	}}
}

func timeOrNever(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Format(time.RFC3339)
}

func nonNilList[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
