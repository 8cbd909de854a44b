package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"gatehouse"
	"gatehouse/keys"
	"gatehouse/repos"
	"gatehouse/sshd"
)

const usage = `usage: gatehouse COMMAND [ARGS] [--data DIR] [--json]

  serve                                   run the server (the default)
  user add NAME [--admin] | list | show NAME | disable NAME | enable NAME | rm NAME
  key add USER KEY|FILE|- | list USER | rm USER FINGERPRINT
  repo create OWNER/NAME [--private|--public] [--description TEXT]
  repo list | show OWNER/NAME | rm OWNER/NAME | rename OWNER/NAME OWNER/NEW | gc OWNER/NAME
  collab add OWNER/NAME USER|@ORG/TEAM read|write|admin | rm OWNER/NAME USER|@ORG/TEAM | list OWNER/NAME
  org create ORG [--default-level read|none] | set ORG --default-level read|none | list | rm ORG [--force]
  org member add ORG USER member|admin | rm ORG USER | list ORG
  team create ORG/TEAM | rm ORG/TEAM | list ORG
  team member add ORG/TEAM USER | rm ORG/TEAM USER | list ORG/TEAM
  deploy-key add OWNER/NAME KEY|FILE|- [--write] | list OWNER/NAME | rm OWNER/NAME FINGERPRINT
  protect add OWNER/NAME PATTERN [--admin-only] | list OWNER/NAME | rm OWNER/NAME PATTERN
  audit [--user U] [--repo OWNER/NAME] [--since TIME|DURATION] [--limit N]
  token create USER [--name N] [--expires 720h] [--scope read|write|admin] | list USER | rm USER ID
  login-link USER [--url BASE]            a one-time web panel login link
  check [--repair]                           unregistered or missing repositories, leftovers of killed pushes
  hostkeys                                print the host key fingerprints
  version
`

// Run runs one command line and returns its exit status: 0 on success,
// 1 with a one-line error on stderr otherwise, 2 for a usage error.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return serve(ctx, args, stdout, stderr)
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "gatehouse %s\n", Version)
		return 0
	case "help", "-h", "--help":
		io.WriteString(stdout, usage)
		return 0
	}
	c := &cli{stdin: stdin, stdout: stdout}
	err := c.run(ctx, args)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "gatehouse: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "gatehouse: %v\n", err)
		return 1
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg + " (see gatehouse help)" }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// cli is one admin command against the data folder. It opens the database
// itself, so it works beside a running server.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	json   bool
	data   string

	fs *flag.FlagSet // the subcommand's parsed flags

	db    *keys.DB
	users gatehouse.UserService
	keys  gatehouse.KeyService
	repos *repos.Service
	audit gatehouse.AuditService
}

// command is a subcommand: its flags, how many arguments, and what it does.
// Commands live in the commands table; files other than this one add theirs
// from an init function.
type command struct {
	args  int // exact number of positional arguments; -1 for any
	flags func(fs *flag.FlagSet)
	run   func(ctx context.Context, c *cli, args []string) error
}

// flagString, flagBool and flagInt read the subcommand's parsed flags.
func (c *cli) flagString(name string) string { return c.fs.Lookup(name).Value.String() }
func (c *cli) flagBool(name string) bool {
	return c.fs.Lookup(name).Value.(flag.Getter).Get().(bool)
}
func (c *cli) flagInt(name string) int { return c.fs.Lookup(name).Value.(flag.Getter).Get().(int) }

func (c *cli) run(ctx context.Context, args []string) error {
	name := args[0]
	if len(args) > 1 {
		if _, ok := commands[name+" "+args[1]]; ok {
			name += " " + args[1]
		}
	}
	cmd, ok := commands[name]
	if !ok {
		return usagef("unknown command %q", strings.Join(args[:min(2, len(args))], " "))
	}
	fs := newFlagSet(name)
	fs.StringVar(&c.data, "data", "./data", "data folder")
	fs.BoolVar(&c.json, "json", false, "print JSON")
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	c.fs = fs
	pos, err := parseInterspersed(fs, args[len(strings.Fields(name)):])
	if err != nil {
		return usagef("%s: %v", name, err)
	}
	if cmd.args >= 0 && len(pos) != cmd.args {
		return usagef("%s takes %d argument(s), got %d", name, cmd.args, len(pos))
	}
	if _, err := os.Stat(c.data); err != nil {
		return fmt.Errorf("data folder %s not found (start the server once, or pass --data)", c.data)
	}
	if name != "hostkeys" {
		if err := c.open(); err != nil {
			return err
		}
		defer c.db.Close()
	}
	return cmd.run(ctx, c, pos)
}

func (c *cli) open() error {
	db, err := keys.Open(filepath.Join(c.data, "gatehouse.db"))
	if err != nil {
		return err
	}
	c.db = db
	c.users, c.keys, c.audit = keys.NewUserService(db), keys.NewKeyService(db), keys.NewAuditService(db)
	c.repos = repos.NewService(keys.NewRepoStore(db), filepath.Join(c.data, "repos"))
	c.repos.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return nil
}

// record writes an admin change to the audit log; the change has
// happened, so a failure here is logged, not returned.
func record(ctx context.Context, a gatehouse.AuditService, log *slog.Logger, actor, action, repo, detail string) {
	if err := a.RecordEvent(ctx, &gatehouse.AuditEvent{Actor: actor, Action: action, Repo: repo, Detail: detail}); err != nil {
		log.Error("audit write failed", "err", err)
	}
}

func (c *cli) record(ctx context.Context, action, repo, detail string) {
	record(ctx, c.audit, slog.New(slog.NewTextHandler(os.Stderr, nil)), "cli", action, repo, detail)
}

// out prints v as JSON with --json, or calls text otherwise.
func (c *cli) out(v any, text func(w io.Writer)) error {
	if c.json {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	text(tw)
	return tw.Flush()
}

func splitRepo(s string) (string, string, error) {
	owner, name, ok := strings.Cut(strings.TrimSuffix(s, ".git"), "/")
	if !ok || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("repository %q must be OWNER/NAME: %w", s, gatehouse.ErrInvalid)
	}
	for _, n := range []string{owner, name} {
		if err := gatehouse.ValidateName(n); err != nil {
			return "", "", err
		}
	}
	return owner, name, nil
}

// readKeyArg reads a key given as text, as a file path, or as "-" (stdin).
func readKeyArg(arg string, stdin io.Reader) (string, error) {
	if arg == "-" {
		if stdin == nil {
			return "", fmt.Errorf("no standard input")
		}
		b, err := io.ReadAll(io.LimitReader(stdin, 64<<10))
		return string(b), err
	}
	if strings.ContainsAny(arg, " \t") || strings.HasPrefix(arg, "ssh-") || strings.HasPrefix(arg, "ecdsa-") || strings.HasPrefix(arg, "sk-") {
		return arg, nil
	}
	f, err := os.Open(arg)
	if err != nil {
		return "", fmt.Errorf("key %q is neither a key nor a readable file: %w", arg, gatehouse.ErrInvalid)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	return string(b), err
}

func yesNo(b bool, yes string) string {
	if b {
		return yes
	}
	return ""
}

var commands = map[string]command{
	"user add": {args: 1, flags: func(fs *flag.FlagSet) { fs.Bool("admin", false, "site admin") },
		run: func(ctx context.Context, c *cli, a []string) error {
			u := &gatehouse.User{Name: a[0], Admin: c.flagBool("admin")}
			if err := c.users.CreateUser(ctx, u); err != nil {
				return err
			}
			c.record(ctx, gatehouse.AuditUserCreate, "", u.Name+yesNo(u.Admin, " (admin)"))
			return c.out(u, func(w io.Writer) { fmt.Fprintf(w, "created user %s%s\n", u.Name, yesNo(u.Admin, " (admin)")) })
		}},
	"user list": {args: 0, run: func(ctx context.Context, c *cli, a []string) error {
		us, err := c.users.FindUsers(ctx)
		if err != nil {
			return err
		}
		return c.out(us, func(w io.Writer) {
			fmt.Fprintln(w, "NAME\tADMIN\tDISABLED\tCREATED")
			for _, u := range us {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.Name, yesNo(u.Admin, "admin"), yesNo(u.Disabled, "disabled"), u.CreatedAt.Format(time.DateOnly))
			}
		})
	}},
	"user show": {args: 1, run: func(ctx context.Context, c *cli, a []string) error {
		u, err := c.users.FindUserByName(ctx, a[0])
		if err != nil {
			return err
		}
		ks, err := c.keys.FindKeys(ctx, u.Name)
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
	}},
	"user disable": {args: 1, run: func(ctx context.Context, c *cli, a []string) error { return c.setDisabled(ctx, a[0], true) }},
	"user enable":  {args: 1, run: func(ctx context.Context, c *cli, a []string) error { return c.setDisabled(ctx, a[0], false) }},
	"user rm": {args: 1, run: func(ctx context.Context, c *cli, a []string) error {
		if err := c.users.DeleteUser(ctx, a[0]); err != nil {
			return err
		}
		c.record(ctx, gatehouse.AuditUserDelete, "", a[0])
		return c.out(map[string]string{"deleted": a[0]}, func(w io.Writer) { fmt.Fprintf(w, "removed user %s\n", a[0]) })
	}},
	"key add": {args: 2, run: func(ctx context.Context, c *cli, a []string) error {
		text, err := readKeyArg(a[1], c.stdin)
		if err != nil {
			return err
		}
		k, err := c.keys.AddKey(ctx, a[0], text)
		if err != nil {
			return err
		}
		c.record(ctx, gatehouse.AuditKeyAdd, "", a[0]+" "+k.Fingerprint)
		return c.out(k, func(w io.Writer) { fmt.Fprintf(w, "added %s (%s %d) to %s\n", k.Fingerprint, k.Type, k.Bits, a[0]) })
	}},
	"key list": {args: 1, run: func(ctx context.Context, c *cli, a []string) error {
		ks, err := c.keys.FindKeys(ctx, a[0])
		if err != nil {
			return err
		}
		return c.out(ks, func(w io.Writer) {
			fmt.Fprintln(w, "FINGERPRINT\tTYPE\tBITS\tCOMMENT\tLAST USED")
			for _, k := range ks {
				last := "never"
				if k.LastUsedAt != nil {
					last = k.LastUsedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\n", k.Fingerprint, k.Type, k.Bits, k.Comment, last)
			}
		})
	}},
	"key rm": {args: 2, run: func(ctx context.Context, c *cli, a []string) error {
		if err := c.keys.RemoveKey(ctx, a[0], a[1]); err != nil {
			return err
		}
		c.record(ctx, gatehouse.AuditKeyRemove, "", a[0]+" "+a[1])
		return c.out(map[string]string{"removed": a[1]}, func(w io.Writer) { fmt.Fprintf(w, "removed key %s from %s\n", a[1], a[0]) })
	}},
	"repo create": {args: 1, flags: func(fs *flag.FlagSet) {
		fs.Bool("private", false, "private (the default)")
		fs.Bool("public", false, "readable by every known user")
		fs.String("description", "", "description")
	}, run: func(ctx context.Context, c *cli, a []string) error {
		owner, name, err := splitRepo(a[0])
		if err != nil {
			return err
		}
		if c.flagBool("private") && c.flagBool("public") {
			return usagef("--private and --public exclude each other")
		}
		r := &gatehouse.Repo{Owner: owner, Name: name, Private: !c.flagBool("public"), Description: c.flagString("description")}
		if err := c.repos.CreateRepo(ctx, r); err != nil {
			return err
		}
		c.record(ctx, gatehouse.AuditRepoCreate, r.FullName(), visibility(r))
		return c.out(r, func(w io.Writer) { fmt.Fprintf(w, "created %s (%s)\n", r.FullName(), visibility(r)) })
	}},
	"repo list": {args: 0, run: func(ctx context.Context, c *cli, a []string) error {
		rs, err := c.repos.FindRepos(ctx, gatehouse.RepoFilter{})
		if err != nil {
			return err
		}
		return c.out(rs, func(w io.Writer) {
			fmt.Fprintln(w, "REPOSITORY\tVISIBILITY\tDEFAULT BRANCH\tDESCRIPTION")
			for _, r := range rs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.FullName(), visibility(r), r.DefaultBranch, r.Description)
			}
		})
	}},
	"repo show": {args: 1, run: func(ctx context.Context, c *cli, a []string) error {
		owner, name, err := splitRepo(a[0])
		if err != nil {
			return err
		}
		r, err := c.repos.FindRepo(ctx, owner, name)
		if err != nil {
			return err
		}
		dir, _ := c.repos.Dir(owner, name)
		return c.out(r, func(w io.Writer) {
			fmt.Fprintf(w, "repository:\t%s\nvisibility:\t%s\ndefault branch:\t%s\ndescription:\t%s\ncreated:\t%s\npath:\t%s\n",
				r.FullName(), visibility(r), r.DefaultBranch, r.Description, r.CreatedAt.Format(time.RFC3339), dir)
		})
	}},
	"repo rm": {args: 1, run: func(ctx context.Context, c *cli, a []string) error {
		owner, name, err := splitRepo(a[0])
		if err != nil {
			return err
		}
		if err := c.repos.DeleteRepo(ctx, owner, name); err != nil {
			return err
		}
		c.record(ctx, gatehouse.AuditRepoDelete, owner+"/"+name, "")
		return c.out(map[string]string{"deleted": owner + "/" + name}, func(w io.Writer) { fmt.Fprintf(w, "removed %s/%s\n", owner, name) })
	}},
	"repo rename": {args: 2, run: func(ctx context.Context, c *cli, a []string) error {
		owner, name, err := splitRepo(a[0])
		if err != nil {
			return err
		}
		nowner, nname, err := splitRepo(a[1])
		if err != nil {
			return err
		}
		r, err := c.repos.RenameRepo(ctx, owner, name, nowner, nname)
		if err != nil {
			return err
		}
		c.record(ctx, gatehouse.AuditRepoRename, r.FullName(), "from "+owner+"/"+name)
		return c.out(r, func(w io.Writer) { fmt.Fprintf(w, "renamed %s/%s to %s\n", owner, name, r.FullName()) })
	}},
	"collab add": {args: 3, run: func(ctx context.Context, c *cli, a []string) error {
		owner, name, err := splitRepo(a[0])
		if err != nil {
			return err
		}
		lvl, err := gatehouse.ParseAccessLevel(a[2])
		if err != nil || lvl == gatehouse.AccessNone {
			return fmt.Errorf("level %q must be read, write or admin: %w", a[2], gatehouse.ErrInvalid)
		}
		if err := c.repos.SetCollaborator(ctx, owner, name, a[1], lvl); err != nil {
			return err
		}
		c.record(ctx, gatehouse.AuditCollabSet, owner+"/"+name, a[1]+" "+lvl.String())
		return c.out(gatehouse.Collaborator{User: a[1], Level: lvl}, func(w io.Writer) {
			fmt.Fprintf(w, "%s has %s on %s/%s\n", a[1], lvl, owner, name)
		})
	}},
	"collab rm": {args: 2, run: func(ctx context.Context, c *cli, a []string) error {
		owner, name, err := splitRepo(a[0])
		if err != nil {
			return err
		}
		if err := c.repos.RemoveCollaborator(ctx, owner, name, a[1]); err != nil {
			return err
		}
		c.record(ctx, gatehouse.AuditCollabRemove, owner+"/"+name, a[1])
		return c.out(map[string]string{"removed": a[1]}, func(w io.Writer) { fmt.Fprintf(w, "removed %s from %s/%s\n", a[1], owner, name) })
	}},
	"collab list": {args: 1, run: func(ctx context.Context, c *cli, a []string) error {
		owner, name, err := splitRepo(a[0])
		if err != nil {
			return err
		}
		cs, err := c.repos.FindCollaborators(ctx, owner, name)
		if err != nil {
			return err
		}
		return c.out(cs, func(w io.Writer) {
			fmt.Fprintln(w, "USER\tLEVEL")
			for _, cb := range cs {
				fmt.Fprintf(w, "%s\t%s\n", cb.User, cb.Level)
			}
		})
	}},
	"audit": {args: 0, flags: func(fs *flag.FlagSet) {
		fs.String("user", "", "only this actor")
		fs.String("repo", "", "only this repository")
		fs.String("since", "", "only since this time (RFC 3339) or duration ago (24h)")
		fs.Int("limit", 100, "at most this many (the newest)")
	}, run: func(ctx context.Context, c *cli, a []string) error {
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
		es, err := c.audit.FindAuditEvents(ctx, f)
		if err != nil {
			return err
		}
		return c.out(es, func(w io.Writer) {
			fmt.Fprintln(w, "TIME\tACTOR\tACTION\tREPOSITORY\tADDRESS\tDETAIL")
			for _, e := range es {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), e.Actor, e.Action, e.Repo, e.Address, e.Detail)
			}
		})
	}},
	"hostkeys": {args: 0, run: func(ctx context.Context, c *cli, a []string) error {
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
	}},
}

func (c *cli) setDisabled(ctx context.Context, name string, disabled bool) error {
	u, err := c.users.UpdateUser(ctx, name, gatehouse.UserUpdate{Disabled: &disabled})
	if err != nil {
		return err
	}
	c.record(ctx, gatehouse.AuditUserUpdate, "", fmt.Sprintf("%s disabled=%v", name, disabled))
	return c.out(u, func(w io.Writer) {
		fmt.Fprintf(w, "%s %s\n", map[bool]string{true: "disabled", false: "enabled"}[disabled], name)
	})
}

func visibility(r *gatehouse.Repo) string {
	if r.Private {
		return "private"
	}
	return "public"
}
