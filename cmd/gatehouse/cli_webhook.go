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

// Webhooks: per repository, organization or site, and their deliveries.

// hookTarget reads OWNER/NAME, ORG or --site into a scope and target.
func hookTarget(c *cli, args []string) (gatehouse.WebhookScope, string, error) {
	switch {
	case c.flagBool("site") && len(args) == 0:
		return gatehouse.HookSite, "", nil
	case c.flagBool("site"):
		return "", "", usagef("--site takes no OWNER/NAME or ORG")
	case len(args) != 1:
		return "", "", usagef("name OWNER/NAME, ORG or --site")
	case strings.Contains(args[0], "/"):
		owner, name, err := splitRepo(args[0])
		return gatehouse.HookRepo, owner + "/" + name, err
	}
	return gatehouse.HookOrg, args[0], gatehouse.ValidateName(args[0])
}

func webhookAdd(ctx context.Context, c *cli, a []string) error {
	if len(a) == 0 {
		return usagef("webhook add takes [OWNER/NAME|ORG] URL")
	}
	scope, target, err := hookTarget(c, a[:len(a)-1])
	if err != nil {
		return err
	}
	h := &gatehouse.Webhook{Scope: scope, Target: target, URL: a[len(a)-1], Secret: c.flagString("secret"),
		InsecureSkipVerify: c.flagBool("insecure-skip-verify")}
	if ev := c.flagString("events"); ev != "" {
		for _, e := range strings.Split(ev, ",") {
			h.Events = append(h.Events, strings.TrimSpace(e))
		}
	}
	if err := c.b.CreateWebhook(ctx, h); err != nil {
		return err
	}
	return c.out(h, func(w io.Writer) {
		fmt.Fprintf(w, "webhook %d: %s %s -> %s (%s)\n", h.ID, h.Scope, h.Target, h.URL, strings.Join(h.Events, ","))
	})
}

func webhookList(ctx context.Context, c *cli, a []string) error {
	var f gatehouse.WebhookFilter
	if len(a) > 0 || c.flagBool("site") {
		var err error
		if f.Scope, f.Target, err = hookTarget(c, a); err != nil {
			return err
		}
	}
	hs, err := c.b.FindWebhooks(ctx, f)
	if err != nil {
		return err
	}
	return c.out(nonNilList(hs), func(w io.Writer) {
		fmt.Fprintln(w, "ID\tSCOPE\tTARGET\tURL\tEVENTS\tSECRET\tTLS")
		for _, h := range hs {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", h.ID, h.Scope, h.Target, h.URL, strings.Join(h.Events, ","),
				yesNo(h.HasSecret, "set"), yesNo(h.InsecureSkipVerify, "unverified"))
		}
	})
}

func parseHookID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("webhook ID %q must be a positive number: %w", s, gatehouse.ErrInvalid)
	}
	return id, nil
}

func webhookRemove(ctx context.Context, c *cli, a []string) error {
	id, err := parseHookID(a[0])
	if err != nil {
		return err
	}
	if err := c.b.DeleteWebhook(ctx, id); err != nil {
		return err
	}
	return c.out(map[string]int64{"deleted": id}, func(w io.Writer) { fmt.Fprintf(w, "removed webhook %d\n", id) })
}

func webhookDeliveries(ctx context.Context, c *cli, a []string) error {
	id, err := parseHookID(a[0])
	if err != nil {
		return err
	}
	ds, err := c.b.FindDeliveries(ctx, id, c.flagInt("limit"))
	if err != nil {
		return err
	}
	return c.out(nonNilList(ds), func(w io.Writer) {
		fmt.Fprintln(w, "DELIVERY\tEVENT\tSTATUS\tATTEMPTS\tLAST\tCREATED")
		for _, d := range ds {
			last := ""
			if n := len(d.Log); n > 0 {
				l := d.Log[n-1]
				last = l.Error
				if l.StatusCode != 0 {
					last = strings.TrimSpace(fmt.Sprintf("%d %s", l.StatusCode, l.Error))
				}
			}
			event := d.Event
			if d.Action != "" {
				event += "." + d.Action
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, event, d.Status, d.Attempts, last, d.CreatedAt.Format(time.RFC3339))
		}
	})
}

func webhookRedeliver(ctx context.Context, c *cli, a []string) error {
	d, err := c.b.Redeliver(ctx, a[0])
	if err != nil {
		return err
	}
	return c.out(d, func(w io.Writer) { fmt.Fprintf(w, "queued again as %s\n", d.ID) })
}
