package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"gatehouse"
)

// Two-factor step-up (README "Two-factor step-up"): the policies, and a
// user's state and its reset. One table entry ("2fa") dispatches on its
// first argument.

func twoFAFlags(fs *flag.FlagSet) {
	fs.String("org", "", "policy: this organization's, instead of the site's")
	fs.Bool("protected-only", false, "policy write or all: only pushes to protected branches need a window")
}

func twoFA(ctx context.Context, c *cli, a []string) error {
	if len(a) == 0 {
		return usagef("2fa policy [--org ORG] [off|write|all] [--protected-only] | reset USER | status USER")
	}
	switch sub, rest := a[0], a[1:]; {
	case sub == "policy" && len(rest) <= 1:
		return twoFAPolicy(ctx, c, rest)
	case sub == "reset" && len(rest) == 1:
		if err := c.b.ResetStepUp(ctx, rest[0]); err != nil {
			return err
		}
		return c.out(map[string]string{"user": rest[0], "reset": "ok"}, func(w io.Writer) {
			fmt.Fprintf(w, "removed the second factor, recovery codes and windows of %s; they can enrol again in the panel\n", rest[0])
		})
	case sub == "status" && len(rest) == 1:
		st, err := c.b.FindStepUpStatus(ctx, rest[0])
		if err != nil {
			return err
		}
		return c.out(st, func(w io.Writer) {
			state := "not enrolled"
			switch {
			case st.Enrolled:
				state = "enrolled " + st.EnrolledAt.UTC().Format(time.RFC3339)
			case st.Pending:
				state = "enrolment waiting for its first code"
			}
			fmt.Fprintf(w, "%s: %s, %d recovery codes left\n", st.User, state, st.RecoveryCodesLeft)
			for _, win := range st.Windows {
				fmt.Fprintf(w, "window\t%s\tuntil %s\n", win.Address, win.ExpiresAt.UTC().Format(time.RFC3339))
			}
		})
	}
	return usagef("2fa policy [--org ORG] [off|write|all] [--protected-only] | reset USER | status USER")
}

// twoFAPolicy shows the policy, or sets it when a level is given.
func twoFAPolicy(ctx context.Context, c *cli, a []string) error {
	org := c.flagString("org")
	scope := "site"
	if org != "" {
		scope = "organization " + org
	}
	if len(a) == 1 {
		lvl, err := gatehouse.ParseStepUpLevel(a[0])
		if err != nil {
			return err
		}
		p := gatehouse.StepUpPolicy{Level: lvl, ProtectedOnly: c.flagBool("protected-only")}
		if p.ProtectedOnly && lvl == gatehouse.StepUpOff {
			return usagef("--protected-only narrows a write or all policy")
		}
		if err := c.b.SetStepUpPolicy(ctx, org, p); err != nil {
			return err
		}
	} else if c.flagBool("protected-only") {
		return usagef("--protected-only goes with a level: 2fa policy write --protected-only")
	}
	p, err := c.b.FindStepUpPolicy(ctx, org)
	if err != nil {
		return err
	}
	return c.out(p, func(w io.Writer) {
		fmt.Fprintf(w, "step-up policy of the %s: %s\n", scope, p)
	})
}
