package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SSHIn is SSH with stdin.
func (s *Server) SSHIn(k *Key, stdin, command string) (stdout, stderr string, code int) {
	s.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append(s.SSHCommand(k)[1:], "git@127.0.0.1", command)
	cmd := exec.CommandContext(ctx, "ssh", args...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.tb.Fatalf("ssh: %v", err)
	}
	return o.String(), e.String(), code
}

// mustSSH runs command as k and fails the test unless it succeeds.
func mustSSH(t *testing.T, s *Server, k *Key, command string) string {
	t.Helper()
	out, errOut, code := s.SSH(k, nil, command)
	if code != 0 {
		t.Fatalf("%q: exit %d stdout %q stderr %q", command, code, out, errOut)
	}
	return out
}

// refusedSSH runs command as k and fails the test unless it is refused
// with an ERROR line containing want and nothing on stdout.
func refusedSSH(t *testing.T, s *Server, k *Key, command, want string) {
	t.Helper()
	out, errOut, code := s.SSH(k, nil, command)
	if code == 0 || out != "" || !strings.Contains(errOut, "ERROR: ") || !strings.Contains(errOut, want) {
		t.Fatalf("%q: exit %d stdout %q stderr %q, want an error with %q", command, code, out, errOut, want)
	}
}

func jsonOf[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	return v
}

func TestSelfServiceKeys(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	bob := s.User("bob")

	second := NewKey(t)
	out, errOut, code := s.SSHIn(alice, second.Public+"\n", "keys add --json")
	if code != 0 {
		t.Fatalf("keys add: exit %d %q", code, errOut)
	}
	added := jsonOf[struct{ Fingerprint string }](t, out)
	if !strings.HasPrefix(added.Fingerprint, "SHA256:") {
		t.Fatalf("keys add --json: %s", out)
	}
	// The new key logs in as alice.
	if who := mustSSH(t, s, second, "whoami"); who != "alice\n" {
		t.Fatalf("new key is %q", who)
	}
	keys := jsonOf[[]struct{ Fingerprint string }](t, mustSSH(t, s, alice, "keys list --json"))
	if len(keys) != 2 {
		t.Fatalf("keys list --json: %+v", keys)
	}
	if !strings.Contains(mustSSH(t, s, alice, "keys list"), added.Fingerprint) {
		t.Fatal("keys list does not show the added key")
	}
	// bob sees only his own.
	if l := mustSSH(t, s, bob, "keys list"); strings.Contains(l, added.Fingerprint) {
		t.Fatalf("bob's keys list shows alice's key: %s", l)
	}

	t.Run("a key registered elsewhere is refused", func(t *testing.T) {
		for _, k := range []string{second.Public, bob.Public} {
			_, errOut, code := s.SSHIn(alice, k, "keys add")
			if code == 0 || !strings.Contains(errOut, "ERROR: ") {
				t.Fatalf("exit %d stderr %q", code, errOut)
			}
		}
		if who := mustSSH(t, s, bob, "whoami"); who != "bob\n" {
			t.Fatalf("bob's key is now %q", who)
		}
	})
	t.Run("input is bounded", func(t *testing.T) {
		_, errOut, code := s.SSHIn(alice, strings.Repeat("A", 100<<10), "keys add")
		if code == 0 || !strings.Contains(errOut, "longer than") {
			t.Fatalf("exit %d stderr %q", code, errOut)
		}
		_, errOut, code = s.SSHIn(alice, "", "keys add")
		if code == 0 || !strings.Contains(errOut, "stdin") {
			t.Fatalf("empty: exit %d stderr %q", code, errOut)
		}
	})
	t.Run("others' keys cannot be removed", func(t *testing.T) {
		bobs := jsonOf[[]struct{ Fingerprint string }](t, mustSSH(t, s, bob, "keys list --json"))
		refusedSSH(t, s, alice, "keys rm "+bobs[0].Fingerprint, "not found")
		if who := mustSSH(t, s, bob, "whoami"); who != "bob\n" {
			t.Fatalf("bob's key is now %q", who)
		}
	})
	t.Run("remove, but not the last", func(t *testing.T) {
		if out := mustSSH(t, s, alice, "keys rm "+added.Fingerprint); !strings.Contains(out, "removed") {
			t.Fatalf("keys rm: %q", out)
		}
		if _, _, code := s.SSH(second, nil, "whoami"); code == 0 {
			t.Fatal("the removed key still logs in")
		}
		only := jsonOf[[]struct{ Fingerprint string }](t, mustSSH(t, s, alice, "keys list --json"))
		if len(only) != 1 {
			t.Fatalf("keys: %+v", only)
		}
		refusedSSH(t, s, alice, "keys rm "+only[0].Fingerprint, "last key")
		if who := mustSSH(t, s, alice, "whoami"); who != "alice\n" {
			t.Fatalf("alice's key is now %q", who)
		}
	})
	t.Run("audit", func(t *testing.T) {
		out := s.MustCLI("audit", "--user", "alice")
		if !strings.Contains(out, "key.add") && !strings.Contains(out, "key_add") && !strings.Contains(out, added.Fingerprint) {
			t.Fatalf("audit has no key added:\n%s", out)
		}
	})
}

func TestSelfServiceRepo(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	bob := s.User("bob")
	carol := s.User("carol")

	out := mustSSH(t, s, alice, "repo create proj --description 'my project' --json")
	created := jsonOf[struct {
		Owner, Name, Description string
		Private                  bool
		Access                   string
	}](t, out)
	if created.Owner != "alice" || created.Name != "proj" || !created.Private || created.Description != "my project" || created.Access != "admin" {
		t.Fatalf("repo create --json: %s", out)
	}
	mustSSH(t, s, alice, "repo create pub --public")
	refusedSSH(t, s, alice, "repo create bob/theirs", "only under your own name")
	refusedSSH(t, s, alice, "repo create proj", "")
	list := jsonOf[[]struct{ Owner, Name string }](t, mustSSH(t, s, alice, "repo list --json"))
	if len(list) != 2 {
		t.Fatalf("repo list --json: %+v", list)
	}

	// A private repository bob cannot read answers like a missing one.
	missing := "ERROR: repository alice/nope not found or access denied\n"
	for _, c := range []string{"info", "branches", "tags", "set --description x", "collab list", "rm --yes"} {
		words := strings.SplitN(c, " ", 2)
		cmd := func(repo string) string {
			if len(words) == 1 {
				return "repo " + words[0] + " " + repo
			}
			if words[0] == "collab" {
				return "repo collab " + words[1] + " " + repo
			}
			return "repo " + words[0] + " " + repo + " " + words[1]
		}
		_, e1, c1 := s.SSH(bob, nil, cmd("alice/proj"))
		_, e2, c2 := s.SSH(bob, nil, cmd("alice/nope"))
		if c1 == 0 || c2 == 0 || e2 != missing || e1 != strings.ReplaceAll(missing, "nope", "proj") {
			t.Errorf("%s: private %d %q, missing %d %q", c, c1, e1, c2, e2)
		}
	}

	// Content: branches and tags through the real git.
	work := Work(t, "main", 2)
	run(t, work, "git", "branch", "feature")
	run(t, work, "git", "tag", "-a", "v1", "-m", "one")
	s.MustGit(alice, work, "push", s.URL("alice/proj"), "main", "feature", "v1")
	head := strings.TrimSpace(run(t, work, "git", "rev-parse", "main"))
	br := mustSSH(t, s, alice, "repo branches alice/proj")
	if br != head+"\tfeature\n"+head+"\tmain\n" {
		t.Fatalf("repo branches:\n%s", br)
	}
	tags := jsonOf[struct {
		Refs []struct{ Name, ID string }
		More bool
	}](t, mustSSH(t, s, alice, "repo tags alice/proj --json"))
	if len(tags.Refs) != 1 || tags.Refs[0].Name != "v1" || tags.More {
		t.Fatalf("repo tags --json: %+v", tags)
	}

	t.Run("collaborators", func(t *testing.T) {
		mustSSH(t, s, alice, "repo collab add alice/proj bob read")
		mustSSH(t, s, alice, "repo collab add alice/proj carol write")
		cs := jsonOf[[]struct{ User, Level string }](t, mustSSH(t, s, alice, "repo collab list alice/proj --json"))
		if len(cs) != 2 {
			t.Fatalf("collab list: %+v", cs)
		}
		// bob now reads it.
		info := jsonOf[struct{ Access string }](t, mustSSH(t, s, bob, "repo info alice/proj --json"))
		if info.Access != "read" {
			t.Fatalf("bob's access: %+v", info)
		}
		if br := mustSSH(t, s, bob, "repo branches alice/proj"); !strings.Contains(br, "main") {
			t.Fatalf("bob's branches: %q", br)
		}
		// A read-only (and a write) collaborator may not change it.
		refusedSSH(t, s, bob, "repo set alice/proj --public", "needs admin")
		refusedSSH(t, s, carol, "repo set alice/proj --description hacked", "needs admin")
		refusedSSH(t, s, bob, "repo collab add alice/proj bob admin", "needs admin")
		refusedSSH(t, s, bob, "repo rm alice/proj --yes", "needs admin")
		if r := s.RepoJSON("alice/proj"); r["private"] != true || r["description"] != "my project" {
			t.Fatalf("changed by a collaborator: %v", r)
		}
		refusedSSH(t, s, alice, "repo collab add alice/proj bob owner", "read, write or admin")
		if _, errOut, code := s.SSH(alice, nil, "repo collab add alice/proj nobody read"); code == 0 || strings.Contains(errOut, "repository alice/proj not found") {
			t.Fatalf("unknown user: exit %d %q", code, errOut)
		}
		mustSSH(t, s, alice, "repo collab rm alice/proj carol")
		if l := mustSSH(t, s, alice, "repo collab list alice/proj"); l != "bob\tread\n" {
			t.Fatalf("collab list: %q", l)
		}
	})
	t.Run("set", func(t *testing.T) {
		out := mustSSH(t, s, alice, "repo set alice/proj --public --description 'new words' --default-branch feature --json")
		r := jsonOf[struct {
			Private       bool
			Description   string
			DefaultBranch string `json:"default_branch"`
		}](t, out)
		if r.Private || r.Description != "new words" || r.DefaultBranch != "feature" {
			t.Fatalf("repo set --json: %s", out)
		}
		refusedSSH(t, s, alice, "repo set alice/proj", "nothing to change")
		refusedSSH(t, s, alice, "repo set alice/proj --private --public", "exclude")
		refusedSSH(t, s, alice, "repo set alice/proj --owner bob", "no flag --owner")
		if l := mustSSH(t, s, carol, "repo info alice/proj"); !strings.Contains(l, "alice/proj\tpublic") || !strings.Contains(l, "new words") {
			t.Fatalf("carol's info: %q", l)
		}
	})
	t.Run("rm", func(t *testing.T) {
		refusedSSH(t, s, alice, "repo rm alice/pub", "--yes")
		mustSSH(t, s, alice, "repo info alice/pub")
		if out := mustSSH(t, s, alice, "repo rm alice/pub --yes --json"); jsonOf[map[string]string](t, out)["removed"] != "alice/pub" {
			t.Fatalf("repo rm --json: %s", out)
		}
		refusedSSH(t, s, alice, "repo info alice/pub", "repository alice/pub not found or access denied")
	})
}

func TestSelfServiceTokens(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	bob := s.User("bob")

	out := mustSSH(t, s, alice, "token create --name ci --scope write --expires 48h --json")
	tok := jsonOf[struct {
		ID        int64
		Scope     string
		Name      string
		Token     string
		ExpiresAt time.Time `json:"expires_at"`
	}](t, out)
	if tok.Scope != "write" || tok.Name != "ci" || tok.Token == "" || time.Until(tok.ExpiresAt) > 49*time.Hour || time.Until(tok.ExpiresAt) < 47*time.Hour {
		t.Fatalf("token create --json: %s", out)
	}
	// By default: read, expiring.
	out = mustSSH(t, s, alice, "token create")
	if lines := strings.Split(out, "\n"); len(lines) < 2 || !strings.Contains(lines[1], "read token") || strings.Contains(lines[1], "never") {
		t.Fatalf("token create: %q", out)
	}
	refusedSSH(t, s, alice, "token create --scope root", "read, write or admin")
	refusedSSH(t, s, alice, "token create --expires 100000h", "at most")

	ts := jsonOf[[]struct {
		ID    int64
		Scope string
	}](t, mustSSH(t, s, alice, "token list --json"))
	if len(ts) != 2 {
		t.Fatalf("token list: %+v", ts)
	}
	if l := mustSSH(t, s, bob, "token list --json"); l != "[]\n" {
		t.Fatalf("bob's token list: %q", l)
	}
	refusedSSH(t, s, bob, "token rm "+strconv.FormatInt(tok.ID, 10), "not found")
	mustSSH(t, s, alice, "token rm "+strconv.FormatInt(tok.ID, 10))
	if l := jsonOf[[]struct{ ID int64 }](t, mustSSH(t, s, alice, "token list --json")); len(l) != 1 || l[0].ID == tok.ID {
		t.Fatalf("after rm: %+v", l)
	}
	refusedSSH(t, s, alice, "token rm x", "token ID")
}

func TestSelfServiceDeployKeyAndHelp(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/r")
	deploy := NewKey(t)
	s.MustCLI("deploy-key", "add", "alice/r", deploy.Public, "--write")

	commands := []string{"keys list", "keys rm SHA256:x", "repo create x", "repo info alice/r", "repo set alice/r --public",
		"repo collab list alice/r", "repo branches alice/r", "repo tags alice/r", "repo rm alice/r --yes",
		"token create", "token list", "token rm 1", "keys list --json"}
	for _, c := range commands {
		refusedSSH(t, s, deploy, c, "needs a user's key")
	}
	_, errOut, code := s.SSHIn(deploy, NewKey(t).Public, "keys add")
	if code == 0 || !strings.Contains(errOut, "needs a user's key") {
		t.Fatalf("deploy keys add: %d %q", code, errOut)
	}
	if r := s.RepoJSON("alice/r"); r["private"] != true {
		t.Fatalf("changed by a deploy key: %v", r)
	}

	userHelp := mustSSH(t, s, alice, "help")
	deployHelp := mustSSH(t, s, deploy, "help")
	for _, c := range []string{"keys list", "keys add", "keys rm", "repo create", "repo info", "repo set", "repo collab",
		"repo branches", "repo tags", "repo rm", "token create", "token list", "token rm", "login"} {
		if !strings.Contains(userHelp, "  "+c) {
			t.Errorf("user help lacks %q", c)
		}
		if strings.Contains(deployHelp, "  "+c) {
			t.Errorf("deploy key help lists %q", c)
		}
	}
	if !strings.Contains(deployHelp, "whoami") {
		t.Errorf("deploy help: %q", deployHelp)
	}
}
