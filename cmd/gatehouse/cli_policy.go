package main

import (
	"context"
	"fmt"
	"io"

	"gatehouse"
)

// policyKeys shows or sets a key policy: the site's, or with --org or
// --user an organization's or a user's.
func policyKeys(ctx context.Context, c *cli, a []string) error {
	scope := gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeSite}
	org, user := c.flagString("org"), c.flagString("user")
	switch {
	case org != "" && user != "":
		return usagef("policy keys: --org and --user exclude each other")
	case org != "":
		scope = gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeOrg, Name: org}
	case user != "":
		scope = gatehouse.KeyPolicyScope{Kind: gatehouse.ScopeUser, Name: user}
	}
	if len(a) > 1 {
		return usagef("policy keys takes at most one policy: any, sk-only, sk-touch or sk-verify")
	}
	if len(a) == 1 {
		p, err := gatehouse.ParseKeyPolicy(a[0])
		if err != nil {
			return usagef("policy keys: %q must be any, sk-only, sk-touch or sk-verify", a[0])
		}
		if err := c.b.SetKeyPolicy(ctx, scope, p); err != nil {
			return err
		}
	}
	p, err := c.b.FindKeyPolicy(ctx, scope)
	if err != nil {
		return err
	}
	rule := gatehouse.KeyPolicyRule{Policy: p, Scope: scope}
	return c.out(rule, func(w io.Writer) { fmt.Fprintf(w, "key policy of %s: %s\n", scope, p) })
}
