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
	"strings"
	"text/tabwriter"

	"gatehouse"
	"gatehouse/backend"
	"gatehouse/keys"
	"gatehouse/repos"
)

const usage = `usage: gatehouse COMMAND [ARGS] [--data DIR] [--db URL | --config FILE] [--json]

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
  webhook add OWNER/NAME|ORG|--site URL [--secret S] [--events push,create,delete,repository,member] [--insecure-skip-verify]
  webhook list [OWNER/NAME|ORG|--site] | rm ID | deliveries ID | redeliver DELIVERY_ID
  audit [--user U] [--repo OWNER/NAME] [--since TIME|DURATION] [--limit N]
  token create USER [--name N] [--expires 720h] [--scope read|write|admin] | list USER | rm USER ID
  login-link USER [--url BASE]            a one-time web panel login link
  2fa policy [--org ORG] [off|write|all] [--protected-only] | reset USER | status USER
  check [--repair]                        repositories vs metadata, refs and history, leftovers of killed operations
  backup DEST [--archive FILE.tar.zst] [--progress] | backup verify SRC
  restore SRC --data DIR [--progress]     a new data folder from a backup
  migrate-db --from sqlite:PATH --to postgres://...   copy the metadata into a new PostgreSQL database
  hostkeys                                print the host key fingerprints
  policy keys [--org O | --user U] [any|sk-only|sk-touch|sk-verify]   show or set a key policy
  version
`

// command is a subcommand: its flags, how many arguments, and what it does.
type command struct {
	args  int // exact number of positional arguments; -1 for any
	flags func(fs *flag.FlagSet)
	run   func(ctx context.Context, c *cli, args []string) error
	// noData: the command opens no data folder (--data may not exist).
	noData bool
}

// commands is every admin command, by name. Three-word commands ("org
// member add") are listed by their first two words; the third is an
// argument. The handlers live in cli_*.go by subject; each calls the
// backend as the local operator.
var commands = map[string]command{
	"user add":     {args: 1, flags: boolFlag("admin", "site admin"), run: userAdd},
	"user list":    {args: 0, run: userList},
	"user show":    {args: 1, run: userShow},
	"user disable": {args: 1, run: func(ctx context.Context, c *cli, a []string) error { return c.setDisabled(ctx, a[0], true) }},
	"user enable":  {args: 1, run: func(ctx context.Context, c *cli, a []string) error { return c.setDisabled(ctx, a[0], false) }},
	"user rm":      {args: 1, run: userRemove},

	"key add": {args: 2, flags: func(fs *flag.FlagSet) {
		fs.String("expires", "", "the key stops working after this duration (720h) or at this time (RFC 3339)")
	}, run: keyAdd},
	"key list": {args: 1, run: keyList},
	"key rm":   {args: 2, run: keyRemove},

	"repo create": {args: 1, flags: func(fs *flag.FlagSet) {
		fs.Bool("private", false, "private (the default)")
		fs.Bool("public", false, "readable by every known user")
		fs.String("description", "", "description")
		// The same repository count limit as create on push;
		// GATEHOUSE_MAX_REPOS_PER_USER sets both.
		fs.Int("max-repos-per-user", DefaultMaxReposPerUser, "repositories one owner may have; negative for no limit")
	}, run: repoCreate},
	"repo list":   {args: 0, run: repoList},
	"repo show":   {args: 1, run: repoShow},
	"repo rm":     {args: 1, run: repoRemove},
	"repo rename": {args: 2, run: repoRename},
	"repo gc":     {args: 1, run: repoGC},

	"collab add":  {args: 3, run: collabAdd},
	"collab rm":   {args: 2, run: collabRemove},
	"collab list": {args: 1, run: collabList},

	"org create": {args: 1, flags: defaultLevelFlag, run: orgCreate},
	"org set":    {args: 1, flags: defaultLevelFlag, run: orgSet},
	"org list":   {args: 0, run: orgList},
	"org rm":     {args: 1, flags: boolFlag("force", "also remove the organization's repositories"), run: orgRemove},
	"org member": {args: -1, run: orgMember},

	"team create": {args: 1, run: teamCreate},
	"team rm":     {args: 1, run: teamRemove},
	"team list":   {args: 1, run: teamList},
	"team member": {args: -1, run: teamMember},

	"deploy-key add":  {args: 2, flags: boolFlag("write", "the key may push, not only fetch"), run: deployKeyAdd},
	"deploy-key list": {args: 1, run: deployKeyList},
	"deploy-key rm":   {args: 2, run: deployKeyRemove},

	"protect add":  {args: 2, flags: boolFlag("admin-only", "only repository admins may push to matching branches"), run: protectAdd},
	"protect list": {args: 1, run: protectList},
	"protect rm":   {args: 2, run: protectRemove},

	"webhook add": {args: -1, flags: func(fs *flag.FlagSet) {
		fs.Bool("site", false, "every repository's events (site admins)")
		fs.String("secret", "", "HMAC key for X-Hub-Signature-256; never shown again")
		fs.String("events", "", "comma-separated: push, create, delete, repository, member (default all)")
		fs.Bool("insecure-skip-verify", false, "accept any TLS certificate from the target")
	}, run: webhookAdd},
	"webhook list":       {args: -1, flags: boolFlag("site", "the site's webhooks"), run: webhookList},
	"webhook rm":         {args: 1, run: webhookRemove},
	"webhook deliveries": {args: 1, flags: func(fs *flag.FlagSet) { fs.Int("limit", 50, "at most this many (the newest)") }, run: webhookDeliveries},
	"webhook redeliver":  {args: 1, run: webhookRedeliver},

	"audit": {args: 0, flags: func(fs *flag.FlagSet) {
		fs.String("user", "", "only this actor")
		fs.String("repo", "", "only this repository")
		fs.String("since", "", "only since this time (RFC 3339) or duration ago (24h)")
		fs.Int("limit", 100, "at most this many (the newest)")
	}, run: auditList},

	"token create": {args: 1, flags: func(fs *flag.FlagSet) {
		fs.String("name", "", "a label to recognise the token by")
		fs.String("expires", "", "lifetime, such as 720h; empty for none")
		fs.String("scope", "admin", "what the token may do: read, write or admin")
	}, run: tokenCreate},
	"token list": {args: 1, run: tokenList},
	"token rm":   {args: 2, run: tokenRemove},
	"login-link": {args: 1, flags: func(fs *flag.FlagSet) {
		fs.String("url", "http://127.0.0.1:8080", "the panel's base URL")
	}, run: loginLink},

	"check": {args: 0, flags: boolFlag("repair", "remove what killed operations left (never what a live one uses) and move orphan folders to DATA/lost+found"), run: check},
	"backup": {args: 1, flags: func(fs *flag.FlagSet) {
		fs.String("archive", "", "also write the snapshot as this one .tar.zst file")
		fs.Bool("progress", false, "report each step on stderr")
	}, run: backupTake},
	"backup verify": {args: 1, flags: boolFlag("progress", "report each repository on stderr"), run: backupVerify, noData: true},
	"restore":       {args: 1, flags: boolFlag("progress", "report each repository on stderr"), run: restoreData, noData: true},
	"migrate-db": {args: 0, flags: func(fs *flag.FlagSet) {
		fs.String("from", "", "the SQLite database to copy, as sqlite:PATH")
		fs.String("to", "", "the new, empty PostgreSQL database, as postgres://...")
	}, run: migrateDB, noData: true},
	// hostkeys reads the data folder only; see cli.run.
	"hostkeys": {args: 0, run: hostKeys},

	"policy keys": {args: -1, flags: func(fs *flag.FlagSet) {
		fs.String("org", "", "the organization's policy")
		fs.String("user", "", "the user's policy")
	}, run: policyKeys},
	"2fa": {args: -1, flags: twoFAFlags, run: twoFA},
}

func boolFlag(name, help string) func(fs *flag.FlagSet) {
	return func(fs *flag.FlagSet) { fs.Bool(name, false, help) }
}

func defaultLevelFlag(fs *flag.FlagSet) {
	fs.String("default-level", "read", "what members have on the organization's repositories: read or none")
}

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
		printVersion(stdout)
		return 0
	case "help", "-h", "--help":
		io.WriteString(stdout, usage)
		return 0
	}
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr}
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

// cliConfigKeys are the settings of serve's configuration file an admin
// command takes (--config), when it has that flag.
var cliConfigKeys = []string{"data", "db", "max-repos-per-user"}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg + " (see gatehouse help)" }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// cli is one admin command against the data folder. It opens the database
// itself, so it works beside a running server, and acts as the local
// operator "cli".
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	json   bool
	data   string
	dbURL  string // --db, as serve's

	fs *flag.FlagSet // the subcommand's parsed flags

	db    *keys.DB
	b     *backend.Backend
	repos *repos.Service // for what is not a use case: paths, maintenance
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
	fs.StringVar(&c.dbURL, "db", "", "database, as serve's --db: empty for SQLite in the data folder")
	fs.BoolVar(&c.json, "json", false, "print JSON")
	config := fs.String("config", "", "serve's configuration file, for its data folder")
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	c.fs = fs
	pos, err := parseInterspersed(fs, args[len(strings.Fields(name)):])
	if err != nil {
		return usagef("%s: %v", name, err)
	}
	if *config != "" {
		if err := applyConfig(fs, *config, cliConfigKeys); err != nil {
			return err
		}
	}
	if cmd.args >= 0 && len(pos) != cmd.args {
		return usagef("%s takes %d argument(s), got %d", name, cmd.args, len(pos))
	}
	if cmd.noData {
		return cmd.run(gatehouse.NewContextWithActor(ctx, gatehouse.LocalActor("cli")), c, pos)
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
	return cmd.run(gatehouse.NewContextWithActor(ctx, gatehouse.LocalActor("cli")), c, pos)
}

// open opens the database and builds the services as serve does, with
// serve's defaults and the command's own limit flags.
func (c *cli) open() error {
	db, err := keys.OpenURL(c.data, c.dbURL)
	if err != nil {
		return err
	}
	cfg := NewMain().Config
	cfg.Data, cfg.DB = c.data, c.dbURL
	if c.fs.Lookup("max-repos-per-user") != nil {
		cfg.MaxReposPerUser = c.flagInt("max-repos-per-user")
	}
	svc, err := newServices(db, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		db.Close()
		return err
	}
	c.db, c.b, c.repos = db, svc.backend, svc.repos
	// Audit write failures are reported on stderr.
	c.b.Logger = slog.New(slog.NewTextHandler(c.stderr, nil))
	return nil
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
