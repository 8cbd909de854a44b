package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"gatehouse"
)

// Users, their keys and API tokens, panel login links, and the audit log.

func userAdd(ctx context.Context, c *cli, a []string) error {
	u := &gatehouse.User{Name: a[0], Admin: c.flagBool("admin")}
	if err := c.b.CreateUser(ctx, u); err != nil {
		return err
	}
	return c.out(u, func(w io.Writer) { fmt.Fprintf(w, "created user %s%s\n", u.Name, yesNo(u.Admin, " (admin)")) })
}

func userList(ctx context.Context, c *cli, a []string) error {
	us, err := c.b.FindUsers(ctx)
	if err != nil {
		return err
	}
	return c.out(us, func(w io.Writer) {
		fmt.Fprintln(w, "NAME\tADMIN\tDISABLED\tCREATED")
		for _, u := range us {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.Name, yesNo(u.Admin, "admin"), yesNo(u.Disabled, "disabled"), u.CreatedAt.Format(time.DateOnly))
		}
	})
}

func userShow(ctx context.Context, c *cli, a []string) error {
	u, err := c.b.FindUserByName(ctx, a[0])
	if err != nil {
		return err
	}
	ks, err := c.b.FindKeys(ctx, u.Name)
	if err != nil {
		return err
	}
	v := struct {
		*gatehouse.User
		Keys []*gatehouse.PublicKey `json:"keys"`
	}{u, ks}
	return c.out(v, func(w io.Writer) {
		fmt.Fprintf(w, "name:\t%s\nadmin:\t%v\ndisabled:\t%v\ncreated:\t%s\nkeys:\t%d\n", u.Name, u.Admin, u.Disabled, u.CreatedAt.Format(time.RFC3339), len(ks))
		for _, k := range ks {
			fmt.Fprintf(w, "\t%s %s %s\n", k.Fingerprint, k.Type, k.Comment)
		}
	})
}

func (c *cli) setDisabled(ctx context.Context, name string, disabled bool) error {
	u, err := c.b.UpdateUser(ctx, name, gatehouse.UserUpdate{Disabled: &disabled})
	if err != nil {
		return err
	}
	return c.out(u, func(w io.Writer) {
		fmt.Fprintf(w, "%s %s\n", map[bool]string{true: "disabled", false: "enabled"}[disabled], name)
	})
}

func userRemove(ctx context.Context, c *cli, a []string) error {
	if err := c.b.DeleteUser(ctx, a[0]); err != nil {
		return err
	}
	return c.out(map[string]string{"deleted": a[0]}, func(w io.Writer) { fmt.Fprintf(w, "removed user %s\n", a[0]) })
}

func keyAdd(ctx context.Context, c *cli, a []string) error {
	var at *time.Time
	if v := c.flagString("expires"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			t := time.Now().Add(d)
			at = &t
		} else if t, err := time.Parse(time.RFC3339, v); err == nil {
			at = &t
		} else {
			return usagef("--expires %q is neither a duration nor a time (RFC 3339)", v)
		}
	}
	text, err := readKeyArg(a[1], c.stdin)
	if err != nil {
		return err
	}
	k, err := c.b.AddExpiringKey(ctx, a[0], text, at)
	if err != nil {
		return err
	}
	return c.out(k, func(w io.Writer) {
		if k.ExpiresAt == nil {
			fmt.Fprintf(w, "added %s (%s %d) to %s\n", k.Fingerprint, k.Type, k.Bits, a[0])
			return
		}
		fmt.Fprintf(w, "added %s (%s %d) to %s, expires %s\n", k.Fingerprint, k.Type, k.Bits, a[0], k.ExpiresAt.Format(time.RFC3339))
	})
}

func keyList(ctx context.Context, c *cli, a []string) error {
	ks, err := c.b.FindKeys(ctx, a[0])
	if err != nil {
		return err
	}
	return c.out(ks, func(w io.Writer) {
		fmt.Fprintln(w, "FINGERPRINT\tTYPE\tBITS\tKIND\tCOMMENT\tLAST USED")
		for _, k := range ks {
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", k.Fingerprint, k.Type, k.Bits, k.Kind, k.Comment, timeOrNever(k.LastUsedAt))
		}
	})
}

func keyRemove(ctx context.Context, c *cli, a []string) error {
	if err := c.b.RemoveKey(ctx, a[0], a[1]); err != nil {
		return err
	}
	return c.out(map[string]string{"removed": a[1]}, func(w io.Writer) { fmt.Fprintf(w, "removed key %s from %s\n", a[1], a[0]) })
}

func tokenCreate(ctx context.Context, c *cli, a []string) error {
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
	t, secret, err := c.b.CreateToken(ctx, a[0], c.flagString("name"), scope, exp)
	if err != nil {
		return err
	}
	v := struct {
		*gatehouse.Token
		Secret string `json:"token"`
	}{t, secret}
	return c.out(v, func(w io.Writer) {
		// The secret alone on stdout's first line, for $(...) in scripts.
		fmt.Fprintln(w, secret)
		fmt.Fprintf(w, "%s token #%d for %s; it is not shown again\n", t.Scope, t.ID, t.User)
	})
}

func tokenList(ctx context.Context, c *cli, a []string) error {
	ts, err := c.b.FindTokens(ctx, a[0])
	if err != nil {
		return err
	}
	return c.out(nonNilList(ts), func(w io.Writer) {
		fmt.Fprintln(w, "ID\tNAME\tSCOPE\tCREATED\tEXPIRES\tLAST USED")
		for _, t := range ts {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Scope, t.CreatedAt.Format(time.RFC3339), timeOrNever(t.ExpiresAt), timeOrNever(t.LastUsedAt))
		}
	})
}

func tokenRemove(ctx context.Context, c *cli, a []string) error {
	id, err := strconv.ParseInt(a[1], 10, 64)
	if err != nil {
		return usagef("token id %q must be a number (see token list)", a[1])
	}
	if err := c.b.RevokeToken(ctx, a[0], id); err != nil {
		return err
	}
	return c.out(map[string]int64{"revoked": id}, func(w io.Writer) { fmt.Fprintf(w, "revoked token #%d of %s\n", id, a[0]) })
}

func loginLink(ctx context.Context, c *cli, a []string) error {
	l, err := c.b.CreateLoginLink(ctx, a[0])
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
}

func auditList(ctx context.Context, c *cli, a []string) error {
	f := gatehouse.AuditFilter{Actor: c.flagString("user"), Repo: c.flagString("repo"), Limit: c.flagInt("limit")}
	if since := c.flagString("since"); since != "" {
		if d, err := time.ParseDuration(since); err == nil {
			f.Since = time.Now().Add(-d)
		} else if t, err := time.Parse(time.RFC3339, since); err == nil {
			f.Since = t
		} else {
			return usagef("--since %q is neither a time (RFC 3339) nor a duration", since)
		}
	}
	es, err := c.b.FindAuditEvents(ctx, f)
	if err != nil {
		return err
	}
	return c.out(es, func(w io.Writer) {
		fmt.Fprintln(w, "TIME\tACTOR\tACTION\tREPOSITORY\tADDRESS\tDETAIL")
		for _, e := range es {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), e.Actor, e.Action, e.Repo, e.Address, e.Detail)
		}
	})
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
