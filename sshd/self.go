package sshd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"gatehouse"
)

// SelfService is the use-case layer (package backend) behind the
// self-service commands: keys, repositories and tokens of the user behind
// the key. Each method takes the actor from the context and checks what
// they may do; sshd only parses and prints.
type SelfService interface {
	FindKeys(ctx context.Context, user string) ([]*gatehouse.PublicKey, error)
	AddKey(ctx context.Context, user, text string) (*gatehouse.PublicKey, error)
	RemoveOwnKey(ctx context.Context, fingerprint string) error

	CreateRepo(ctx context.Context, r *gatehouse.Repo) error
	RepoAccess(ctx context.Context, owner, name string) (*gatehouse.Repo, gatehouse.AccessLevel, error)
	UpdateRepo(ctx context.Context, owner, name string, upd gatehouse.RepoUpdate) (*gatehouse.Repo, error)
	DeleteRepo(ctx context.Context, owner, name string) error
	FindCollaborators(ctx context.Context, owner, name string) ([]*gatehouse.Collaborator, error)
	SetCollaborator(ctx context.Context, owner, name, user string, level gatehouse.AccessLevel) error
	RemoveCollaborator(ctx context.Context, owner, name, user string) error
	FindRefs(ctx context.Context, owner, name, prefix string, max int) ([]gatehouse.Ref, bool, error)

	FindTokens(ctx context.Context, user string) ([]*gatehouse.Token, error)
	CreateToken(ctx context.Context, user, name string, scope gatehouse.TokenScope, expiresAt *time.Time) (*gatehouse.Token, string, error)
	RevokeToken(ctx context.Context, user string, id int64) error
}

// Bounds on what a self-service command reads or lists.
const (
	// maxKeyInput bounds the public key `keys add` reads from stdin; the
	// largest (RSA 16384) is under 3 KiB.
	maxKeyInput = 16 << 10
	// maxRefsListed bounds `repo branches` and `repo tags`.
	maxRefsListed = 10000
	// defaultTokenLife and maxTokenLife bound the tokens made over SSH:
	// every one expires.
	defaultTokenLife = 30 * 24 * time.Hour
	maxTokenLife     = 366 * 24 * time.Hour
)

// selfCommand is one self-service command: its positional arguments, the
// flags it takes (a name ending in "=" takes a value), and what it does.
// Every one also takes --json.
type selfCommand struct {
	usage string
	help  string
	args  int
	flags []string
	run   func(s *Server, ctx context.Context, c *selfCall) error
}

// selfCommands is every self-service command, by its first two words, in
// the order help lists them.
var selfCommands = []struct {
	name string
	selfCommand
}{
	{"keys list", selfCommand{usage: "keys list", help: "your SSH keys", run: (*Server).keysList}},
	{"keys add", selfCommand{usage: "keys add < KEY.pub", help: "add a key (read from stdin)", run: (*Server).keysAdd}},
	{"keys rm", selfCommand{usage: "keys rm FINGERPRINT", help: "remove one of your keys (not the last)", args: 1, run: (*Server).keysRemove}},
	{"repo create", selfCommand{usage: "repo create NAME [--private|--public] [--description T]", help: "a new repository (private by default)", args: 1,
		flags: []string{"private", "public", "description="}, run: (*Server).repoCreate}},
	{"repo info", selfCommand{usage: "repo info OWNER/NAME", help: "a repository and your access to it", args: 1, run: (*Server).repoInfo}},
	{"repo set", selfCommand{usage: "repo set OWNER/NAME [--description T] [--private|--public] [--default-branch B]", help: "change a repository you administer", args: 1,
		flags: []string{"private", "public", "description=", "default-branch="}, run: (*Server).repoSet}},
	{"repo collab", selfCommand{usage: "repo collab list OWNER/NAME | add OWNER/NAME USER read|write|admin | rm OWNER/NAME USER", help: "collaborators of a repository you administer", args: -1, run: (*Server).repoCollab}},
	{"repo branches", selfCommand{usage: "repo branches OWNER/NAME", help: "its branches", args: 1, run: (*Server).repoBranches}},
	{"repo tags", selfCommand{usage: "repo tags OWNER/NAME", help: "its tags", args: 1, run: (*Server).repoTags}},
	{"repo rm", selfCommand{usage: "repo rm OWNER/NAME --yes", help: "delete a repository you administer", args: 1, flags: []string{"yes"}, run: (*Server).repoRemove}},
	{"token create", selfCommand{usage: "token create [--name N] [--scope read|write|admin] [--expires 720h]", help: "an API token (read, 30 days by default)",
		flags: []string{"name=", "scope=", "expires="}, run: (*Server).tokenCreate}},
	{"token list", selfCommand{usage: "token list", help: "your API tokens", run: (*Server).tokenList}},
	{"token rm", selfCommand{usage: "token rm ID", help: "revoke one of your tokens", args: 1, run: (*Server).tokenRemove}},
}

// findSelfCommand returns the self-service command called name.
func findSelfCommand(name string) (selfCommand, bool) {
	for _, c := range selfCommands {
		if c.name == name {
			return c.selfCommand, true
		}
	}
	return selfCommand{}, false
}

// selfUsage is the usage line of the commands starting with word.
func selfUsage(word string) string {
	var us []string
	if word == "repo" {
		us = append(us, "repo list")
	}
	for _, c := range selfCommands {
		if strings.HasPrefix(c.name, word+" ") {
			us = append(us, strings.TrimPrefix(c.name, word+" "))
		}
	}
	return word + " " + strings.Join(us, "|") + " ..."
}

// selfCall is one run of a self-service command: its arguments and flags
// as parsed, and the session it answers.
type selfCall struct {
	se    *session
	args  []string
	flags map[string]string
	json  bool
}

func (c *selfCall) has(flag string) bool { _, ok := c.flags[flag]; return ok }

// parseSelfArgs splits words into positional arguments and the flags cmd
// takes (--name value or --name=value), refusing others.
func parseSelfArgs(name string, cmd selfCommand, words []string) (args []string, flags map[string]string, err error) {
	flags = map[string]string{}
	for i := 0; i < len(words); i++ {
		w := words[i]
		if !strings.HasPrefix(w, "--") {
			args = append(args, w)
			continue
		}
		f, val, hasVal := strings.Cut(w[2:], "=")
		switch {
		case f == "json" && !hasVal:
		case slices.Contains(cmd.flags, f) && !hasVal:
		case slices.Contains(cmd.flags, f+"="):
			if !hasVal {
				if i+1 >= len(words) {
					return nil, nil, fmt.Errorf("--%s needs a value; usage: %s", f, cmd.usage)
				}
				i++
				val = words[i]
			}
		default:
			return nil, nil, fmt.Errorf("%s takes no flag --%s; usage: %s", name, truncate(f, 64), cmd.usage)
		}
		if _, dup := flags[f]; dup {
			return nil, nil, fmt.Errorf("--%s given twice", f)
		}
		flags[f] = val
	}
	if cmd.args >= 0 && len(args) != cmd.args {
		return nil, nil, fmt.Errorf("usage: %s", cmd.usage)
	}
	return args, flags, nil
}

// mayRunSelf reports whether the actor may run self-service commands:
// a user's key, not a deploy key nor an anonymous visitor.
func mayRunSelf(a gatehouse.Actor) bool { return a.User != nil && a.DeployKey == nil }

// selfService answers one self-service command.
func (s *Server) selfService(ctx context.Context, se *session) int {
	if s.Self == nil {
		fmt.Fprintf(se.Stderr(), "ERROR: %s is not enabled on this server\n", se.cmd.Name)
		return exitError
	}
	if !mayRunSelf(se.actor) {
		se.log.Info("self-service refused: no user behind the key")
		s.audit(ctx, &gatehouse.AuditEvent{Actor: se.name(), Action: gatehouse.AuditRefused, Detail: se.cmd.Name + ": no user behind the key", Address: se.RemoteAddr().String()})
		fmt.Fprintf(se.Stderr(), "ERROR: %s needs a user's key\n", se.cmd.Name)
		return exitError
	}
	if !s.requireSelfStepUp(ctx, se) {
		return exitError
	}
	cmd, _ := findSelfCommand(se.cmd.Name)
	args, flags, err := parseSelfArgs(se.cmd.Name, cmd, se.cmd.Args)
	if err != nil {
		fmt.Fprintf(se.Stderr(), "ERROR: %v\n", err)
		return exitError
	}
	c := &selfCall{se: se, args: args, flags: flags}
	_, c.json = flags["json"]
	if err := cmd.run(s, ctx, c); err != nil {
		s.selfFailed(ctx, c, err)
		return exitError
	}
	return exitOK
}

// usageError is a mistake in a command's arguments, shown as it is.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// notFoundRepo is what a command on a repository answers when it is
// missing or the actor may not read it: the same words for both.
type notFoundRepo struct{ repo string }

func (e notFoundRepo) Error() string {
	return "repository " + e.repo + " not found or access denied"
}

// selfFailed tells the client why a command failed, the way the rest of
// sshd does: what the client may know as it is, anything else as an
// internal error, logged.
func (s *Server) selfFailed(ctx context.Context, c *selfCall, err error) {
	var ue usageError
	var nf notFoundRepo
	msg := err.Error()
	switch {
	case errors.As(err, &ue), errors.As(err, &nf):
	case errors.Is(err, gatehouse.ErrNotFound), errors.Is(err, gatehouse.ErrForbidden),
		errors.Is(err, gatehouse.ErrInvalid), errors.Is(err, gatehouse.ErrConflict), errors.Is(err, gatehouse.ErrLimit):
		c.se.log.Info("command refused", logErr, err)
	default:
		logFailure(ctx, c.se.log, c.se.cmd.Name+" failed", err)
		msg = "internal error"
	}
	fmt.Fprintf(c.se.Stderr(), "ERROR: %s\n", msg)
}

// output writes v as JSON with --json, else the text text writes.
func (c *selfCall) output(v any, text func(w io.Writer)) error {
	if c.json {
		enc := json.NewEncoder(c.se)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(c.se)
	return nil
}

// plain makes text safe for one line of a terminal: control characters
// become spaces.
func plain(s string) string {
	return strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return ' '
		}
		return c
	}, s)
}

func (c *selfCall) user() string { return c.se.actor.User.Name }

func timeOrNever(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// --- keys

func (s *Server) keysList(ctx context.Context, c *selfCall) error {
	ks, err := s.Self.FindKeys(ctx, c.user())
	if err != nil {
		return err
	}
	return c.output(nonNil(ks), func(w io.Writer) {
		for _, k := range ks {
			this := ""
			if k.Fingerprint == c.se.actor.KeyFingerprint {
				this = "\t(this key)"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\texpires %s\tlast used %s%s\n", k.Fingerprint, k.Type, k.Kind, plain(k.Comment), timeOrNever(k.ExpiresAt), timeOrNever(k.LastUsedAt), this)
		}
	})
}

func (s *Server) keysAdd(ctx context.Context, c *selfCall) error {
	b, err := io.ReadAll(io.LimitReader(c.se, maxKeyInput+1))
	if err != nil {
		return fmt.Errorf("reading the key: %w", err)
	}
	if len(b) > maxKeyInput {
		return usagef("the key is longer than %d bytes; send one public key line", maxKeyInput)
	}
	text := strings.TrimSpace(string(b))
	if text == "" {
		return usagef("send the public key on stdin: ssh git@HOST keys add < KEY.pub")
	}
	k, err := s.Self.AddKey(ctx, c.user(), text)
	if err != nil {
		return err
	}
	c.se.log.Info("key added", "added", k.Fingerprint)
	return c.output(k, func(w io.Writer) { fmt.Fprintf(w, "added %s\n", k.Fingerprint) })
}

func (s *Server) keysRemove(ctx context.Context, c *selfCall) error {
	if err := s.Self.RemoveOwnKey(ctx, c.args[0]); err != nil {
		return err
	}
	return c.output(map[string]string{"removed": c.args[0]}, func(w io.Writer) { fmt.Fprintf(w, "removed %s\n", c.args[0]) })
}

// --- repositories

// repoArg parses an OWNER/NAME argument; a bad one is answered like a
// missing repository.
func repoArg(s string) (owner, name string, err error) {
	owner, name, err = gatehouse.ParseRepoPath(s)
	if err != nil {
		return "", "", usagef("invalid repository path: use OWNER/NAME")
	}
	return owner, name, nil
}

// repoErr turns "not found" about owner/name into the one answer for
// missing and unreadable repositories, and says what a refused reader
// lacks.
func repoErr(owner, name string, err error) error {
	var kpe *gatehouse.KeyPolicyError
	switch {
	case errors.Is(err, gatehouse.ErrNotFound):
		return notFoundRepo{owner + "/" + name}
	case errors.As(err, &kpe):
		// Named as it is: the organization's key policy refused the key.
		return err
	case errors.Is(err, gatehouse.ErrForbidden):
		return usagef("you may read %s/%s but this needs admin on it", owner, name)
	}
	return err
}

// visibility reads --private/--public into a *bool (nil: neither).
func visibility(c *selfCall) (*bool, error) {
	switch priv, pub := c.has("private"), c.has("public"); {
	case priv && pub:
		return nil, usagef("--private and --public exclude each other")
	case priv || pub:
		return &priv, nil
	}
	return nil, nil
}

// repoView is how the repository commands show a repository.
type repoView struct {
	*gatehouse.Repo
	Access gatehouse.AccessLevel `json:"access"`
}

func (v repoView) text(w io.Writer) {
	fmt.Fprintf(w, "%s\t%s\tdefault branch %s\tyour access %s\n", v.FullName(), v.Visibility(), v.DefaultBranch, v.Access)
	if v.Description != "" {
		fmt.Fprintf(w, "%s\n", plain(v.Description))
	}
}

func (s *Server) repoCreate(ctx context.Context, c *selfCall) error {
	owner, name := c.user(), c.args[0]
	if strings.Contains(name, "/") {
		var err error
		if owner, name, err = repoArg(name); err != nil {
			return err
		}
	}
	priv, err := visibility(c)
	if err != nil {
		return err
	}
	r := &gatehouse.Repo{Owner: owner, Name: name, Private: priv == nil || *priv, Description: c.flags["description"]}
	if err := s.Self.CreateRepo(ctx, r); err != nil {
		return err
	}
	return c.output(repoView{r, gatehouse.AccessAdmin}, func(w io.Writer) {
		fmt.Fprintf(w, "created %s (%s)\n", r.FullName(), r.Visibility())
	})
}

func (s *Server) repoInfo(ctx context.Context, c *selfCall) error {
	owner, name, err := repoArg(c.args[0])
	if err != nil {
		return err
	}
	r, lvl, err := s.Self.RepoAccess(ctx, owner, name)
	if err != nil {
		return repoErr(owner, name, err)
	}
	v := repoView{r, lvl}
	return c.output(v, v.text)
}

func (s *Server) repoSet(ctx context.Context, c *selfCall) error {
	owner, name, err := repoArg(c.args[0])
	if err != nil {
		return err
	}
	var upd gatehouse.RepoUpdate
	if upd.Private, err = visibility(c); err != nil {
		return err
	}
	if d, ok := c.flags["description"]; ok {
		upd.Description = &d
	}
	if b, ok := c.flags["default-branch"]; ok {
		upd.DefaultBranch = &b
	}
	if upd == (gatehouse.RepoUpdate{}) {
		return usagef("nothing to change; usage: repo set OWNER/NAME [--description T] [--private|--public] [--default-branch B]")
	}
	r, err := s.Self.UpdateRepo(ctx, owner, name, upd)
	if err != nil {
		return repoErr(owner, name, err)
	}
	return c.output(r, func(w io.Writer) { fmt.Fprintf(w, "updated %s\n", r.FullName()) })
}

func (s *Server) repoRemove(ctx context.Context, c *selfCall) error {
	owner, name, err := repoArg(c.args[0])
	if err != nil {
		return err
	}
	if !c.has("yes") {
		return usagef("repo rm deletes %s/%s and all its history; run it again with --yes to confirm", owner, name)
	}
	if err := s.Self.DeleteRepo(ctx, owner, name); err != nil {
		return repoErr(owner, name, err)
	}
	return c.output(map[string]string{"removed": owner + "/" + name}, func(w io.Writer) { fmt.Fprintf(w, "removed %s/%s\n", owner, name) })
}

func (s *Server) repoCollab(ctx context.Context, c *selfCall) error {
	const usage = "usage: repo collab list OWNER/NAME | add OWNER/NAME USER read|write|admin | rm OWNER/NAME USER"
	want := map[string]int{"list": 2, "add": 4, "rm": 3}
	if len(c.args) == 0 || want[c.args[0]] != len(c.args) {
		return usagef("%s", usage)
	}
	owner, name, err := repoArg(c.args[1])
	if err != nil {
		return err
	}
	switch c.args[0] {
	case "list":
		cs, err := s.Self.FindCollaborators(ctx, owner, name)
		if err != nil {
			return repoErr(owner, name, err)
		}
		return c.output(nonNil(cs), func(w io.Writer) {
			for _, co := range cs {
				fmt.Fprintf(w, "%s\t%s\n", co.User, co.Level)
			}
		})
	case "add":
		lvl, err := gatehouse.ParseGrantLevel(c.args[3])
		if err != nil {
			return usagef("level %q must be read, write or admin", truncate(c.args[3], 32))
		}
		if err := s.Self.SetCollaborator(ctx, owner, name, c.args[2], lvl); err != nil {
			return s.collabErr(ctx, owner, name, err)
		}
		co := gatehouse.Collaborator{User: c.args[2], Level: lvl}
		return c.output(co, func(w io.Writer) { fmt.Fprintf(w, "%s has %s on %s/%s\n", co.User, lvl, owner, name) })
	default:
		if err := s.Self.RemoveCollaborator(ctx, owner, name, c.args[2]); err != nil {
			return s.collabErr(ctx, owner, name, err)
		}
		return c.output(map[string]string{"removed": c.args[2]}, func(w io.Writer) {
			fmt.Fprintf(w, "%s removed from %s/%s\n", c.args[2], owner, name)
		})
	}
}

// collabErr is repoErr for a change of collaborators, where "not found"
// may be about the user named: that is said as it is to whoever may read
// the repository.
func (s *Server) collabErr(ctx context.Context, owner, name string, err error) error {
	if errors.Is(err, gatehouse.ErrNotFound) {
		if _, _, rerr := s.Self.RepoAccess(ctx, owner, name); rerr == nil {
			return err
		}
	}
	return repoErr(owner, name, err)
}

func (s *Server) repoBranches(ctx context.Context, c *selfCall) error {
	return s.repoRefs(ctx, c, "refs/heads/")
}

func (s *Server) repoTags(ctx context.Context, c *selfCall) error {
	return s.repoRefs(ctx, c, "refs/tags/")
}

// repoRefs lists the refs under prefix, up to maxRefsListed; the text
// says when more were left out, the JSON has "more".
func (s *Server) repoRefs(ctx context.Context, c *selfCall, prefix string) error {
	owner, name, err := repoArg(c.args[0])
	if err != nil {
		return err
	}
	refs, more, err := s.Self.FindRefs(ctx, owner, name, prefix, maxRefsListed)
	if err != nil {
		return repoErr(owner, name, err)
	}
	v := struct {
		Refs []gatehouse.Ref `json:"refs"`
		More bool            `json:"more"`
	}{nonNil(refs), more}
	return c.output(v, func(w io.Writer) {
		for _, r := range refs {
			fmt.Fprintf(w, "%s\t%s\n", r.ID, plain(r.Name))
		}
		if more {
			fmt.Fprintf(w, "(only the first %d are listed)\n", maxRefsListed)
		}
	})
}

// --- tokens

func (s *Server) tokenCreate(ctx context.Context, c *selfCall) error {
	scope := gatehouse.ScopeRead
	if v, ok := c.flags["scope"]; ok {
		var err error
		if scope, err = gatehouse.ParseTokenScope(v); err != nil {
			return usagef("--scope %q must be read, write or admin", truncate(v, 32))
		}
	}
	life := defaultTokenLife
	if v, ok := c.flags["expires"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > maxTokenLife {
			return usagef("--expires %q must be a positive duration such as 720h, at most %s", truncate(v, 32), maxTokenLife)
		}
		life = d
	}
	exp := time.Now().Add(life)
	t, secret, err := s.Self.CreateToken(ctx, c.user(), c.flags["name"], scope, &exp)
	if err != nil {
		return err
	}
	v := struct {
		*gatehouse.Token
		Secret string `json:"token"`
	}{t, secret}
	return c.output(v, func(w io.Writer) {
		// The secret alone on the first line, for $(...) in scripts.
		fmt.Fprintln(w, secret)
		fmt.Fprintf(w, "%s token #%d expires %s; it is not shown again\n", t.Scope, t.ID, timeOrNever(t.ExpiresAt))
	})
}

func (s *Server) tokenList(ctx context.Context, c *selfCall) error {
	ts, err := s.Self.FindTokens(ctx, c.user())
	if err != nil {
		return err
	}
	return c.output(nonNil(ts), func(w io.Writer) {
		for _, t := range ts {
			fmt.Fprintf(w, "%d\t%s\t%s\texpires %s\tlast used %s\n", t.ID, plain(t.Name), t.Scope, timeOrNever(t.ExpiresAt), timeOrNever(t.LastUsedAt))
		}
	})
}

func (s *Server) tokenRemove(ctx context.Context, c *selfCall) error {
	id, err := strconv.ParseInt(c.args[0], 10, 64)
	if err != nil || id <= 0 {
		return usagef("token rm takes a token ID (see token list)")
	}
	if err := s.Self.RevokeToken(ctx, c.user(), id); err != nil {
		return err
	}
	return c.output(map[string]int64{"revoked": id}, func(w io.Writer) { fmt.Fprintf(w, "revoked token #%d\n", id) })
}

// nonNil makes an empty list print as [] in JSON.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
