package main_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	main "gatehouse/cmd/gatehouse"
	"gatehouse/gittest"
)

// deployKey registers a fresh key as a deploy key on repo.
func (s *Server) deployKey(repo string, extra ...string) *Key {
	s.tb.Helper()
	k := NewKey(s.tb)
	s.MustCLI(append([]string{"deploy-key", "add", repo, k.Public}, extra...)...)
	return k
}

// serverRef is the object a ref of repo points to on the server, or "".
func (s *Server) serverRef(repo, ref string) string {
	out, _, err := gittest.Cmd{Dir: s.RepoDir(repo)}.Exec(s.tb, "rev-parse", "--verify", "-q", ref)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

func TestDeployKeys(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	work := Work(t, "main", 1)
	for _, r := range []string{"alice/r", "alice/other"} {
		s.MustCLI("repo", "create", r)
		s.MustGit(alice, work, "push", s.URL(r), "main")
	}
	ro := s.deployKey("alice/r")
	rw := s.deployKey("alice/r", "--write")

	t.Run("read-only clones its repository", func(t *testing.T) {
		s.MustGit(ro, "", "clone", s.URL("alice/r"), filepath.Join(t.TempDir(), "c"))
	})
	t.Run("read-only may not push", func(t *testing.T) {
		out, err := s.Git(ro, work, "push", s.URL("alice/r"), "main:refs/heads/ro")
		if err == nil || !strings.Contains(out, "you may read alice/r but not push to it") {
			t.Fatalf("push: %v\n%s", err, out)
		}
	})
	t.Run("other repository does not exist for it", func(t *testing.T) {
		for _, k := range []*Key{ro, rw} {
			out, err := s.Git(k, "", "clone", s.URL("alice/other"), filepath.Join(t.TempDir(), "c"))
			if err == nil || !strings.Contains(out, "repository alice/other "+notFound) {
				t.Fatalf("clone other: %v\n%s", err, out)
			}
		}
	})
	t.Run("no create on push", func(t *testing.T) {
		out, err := s.Git(rw, work, "push", s.URL("alice/fresh"), "main")
		if err == nil || !strings.Contains(out, notFound) {
			t.Fatalf("push into nothing: %v\n%s", err, out)
		}
	})
	t.Run("write key pushes", func(t *testing.T) {
		Commits(t, work, "dk", 1)
		s.MustGit(rw, work, "push", s.URL("alice/r"), "main")
		if s.serverRef("alice/r", "refs/heads/main") != run(t, work, "git", "rev-parse", "main") {
			t.Fatal("main not moved")
		}
	})
	t.Run("whoami and last use", func(t *testing.T) {
		out, _, code := s.SSH(rw, nil, "whoami")
		if code != 0 || !strings.HasPrefix(out, "deploy-key:SHA256:") {
			t.Fatalf("whoami: %d %q", code, out)
		}
		var ks []map[string]any
		if err := json.Unmarshal([]byte(s.MustCLI("deploy-key", "list", "alice/r", "--json")), &ks); err != nil {
			t.Fatal(err)
		}
		if len(ks) != 2 || ks[0]["last_used_at"] == nil || ks[1]["write"] != true {
			t.Fatalf("deploy-key list: %v", ks)
		}
	})
	t.Run("one fingerprint, one identity", func(t *testing.T) {
		if out, err := s.CLI("key", "add", "alice", ro.Public); err == nil || !strings.Contains(out, "already exists") {
			t.Fatalf("deploy key added as user key: %v\n%s", err, out)
		}
		if out, err := s.CLI("deploy-key", "add", "alice/other", alice.Public); err == nil || !strings.Contains(out, "already exists") {
			t.Fatalf("user key added as deploy key: %v\n%s", err, out)
		}
	})
	t.Run("removed key is refused", func(t *testing.T) {
		var ks []map[string]any
		if err := json.Unmarshal([]byte(s.MustCLI("deploy-key", "list", "alice/r", "--json")), &ks); err != nil || len(ks) != 2 {
			t.Fatalf("deploy-key list: %v %v", ks, err)
		}
		s.MustCLI("deploy-key", "rm", "alice/r", ks[0]["fingerprint"].(string))
		out, err := s.Git(ro, "", "clone", s.URL("alice/r"), filepath.Join(t.TempDir(), "c"))
		if err == nil || !strings.Contains(out, "Permission denied") {
			t.Fatalf("clone with removed key: %v\n%s", err, out)
		}
	})
	audit := s.MustCLI("audit", "--repo", "alice/r")
	for _, want := range []string{"deploy-key.add", "deploy-key.remove", "deploy-key:SHA256:"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %q:\n%s", want, audit)
		}
	}
}

func TestProtectedBranches(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	carol := s.User("carol")
	repo := "alice/r"
	s.MustCLI("repo", "create", repo)
	s.MustCLI("collab", "add", repo, "carol", "write")
	work := Work(t, "main", 2)
	run(t, work, "git", "branch", "release/1")
	run(t, work, "git", "branch", "prod")
	run(t, work, "git", "branch", "topic")
	s.MustGit(alice, work, "push", s.URL(repo), "main", "release/1", "prod", "topic")
	s.MustCLI("protect", "add", repo, "main")
	s.MustCLI("protect", "add", repo, "release/*")
	s.MustCLI("protect", "add", repo, "prod", "--admin-only")
	if out := s.MustCLI("protect", "list", repo); !strings.Contains(out, "release/*") || !strings.Contains(out, "admin-only") {
		t.Fatalf("protect list:\n%s", out)
	}
	rw := s.deployKey(repo, "--write")

	// Rewrite history: main~1 plus a new commit, so every push of it is forced.
	rewrite := func(t *testing.T, branch string) {
		run(t, work, "git", "checkout", "-q", branch)
		run(t, work, "git", "reset", "-q", "--hard", "HEAD~1")
		Commits(t, work, "rewrite-"+strings.ReplaceAll(branch, "/", "-"), 1)
	}
	rejected := func(t *testing.T, out, ref, reason string) {
		t.Helper()
		if want := "! [remote rejected] " + ref + " -> " + ref + " (" + reason + ")"; !strings.Contains(out, want) {
			t.Fatalf("want %q in:\n%s", want, out)
		}
	}

	t.Run("force-push refused, other refs of the push go through", func(t *testing.T) {
		before := s.serverRef(repo, "refs/heads/main")
		rewrite(t, "main")
		for _, k := range []*Key{alice, rw} {
			rewrite(t, "topic")
			out, err := s.Git(k, work, "push", "--force", s.URL(repo), "main", "topic")
			if err == nil {
				t.Fatalf("forced push succeeded:\n%s", out)
			}
			rejected(t, out, "main", "protected branch: force-push not allowed")
			if !strings.Contains(out, "topic -> topic (forced update)") {
				t.Fatalf("topic not pushed:\n%s", out)
			}
		}
		if s.serverRef(repo, "refs/heads/main") != before {
			t.Fatal("protected main moved")
		}
		if s.serverRef(repo, "refs/heads/topic") != run(t, work, "git", "rev-parse", "topic") {
			t.Fatal("unprotected topic not force-pushed")
		}
	})
	t.Run("glob pattern", func(t *testing.T) {
		rewrite(t, "release/1")
		out, err := s.Git(carol, work, "push", "--force", s.URL(repo), "release/1")
		if err == nil {
			t.Fatalf("forced push succeeded:\n%s", out)
		}
		rejected(t, out, "release/1", "protected branch: force-push not allowed")
	})
	t.Run("deletion refused", func(t *testing.T) {
		out, err := s.Git(alice, work, "push", s.URL(repo), ":main")
		if err == nil {
			t.Fatalf("deletion succeeded:\n%s", out)
		}
		if !strings.Contains(out, "! [remote rejected] main (protected branch: deletion not allowed)") {
			t.Fatalf("deletion said:\n%s", out)
		}
		if s.serverRef(repo, "refs/heads/main") == "" {
			t.Fatal("main deleted")
		}
	})
	t.Run("fast-forward allowed", func(t *testing.T) {
		run(t, work, "git", "checkout", "-q", "main")
		run(t, work, "git", "reset", "-q", "--hard", s.serverRef(repo, "refs/heads/main"))
		Commits(t, work, "ff", 1)
		s.MustGit(carol, work, "push", s.URL(repo), "main")
	})
	t.Run("admin-only", func(t *testing.T) {
		run(t, work, "git", "checkout", "-q", "prod")
		Commits(t, work, "prod", 1)
		for _, k := range []*Key{carol, rw} {
			out, err := s.Git(k, work, "push", s.URL(repo), "prod")
			if err == nil {
				t.Fatalf("push to admin-only succeeded:\n%s", out)
			}
			rejected(t, out, "prod", "protected branch: only repository admins may push")
		}
		s.MustGit(alice, work, "push", s.URL(repo), "prod")
	})
	t.Run("unprotected after rm", func(t *testing.T) {
		s.MustCLI("protect", "rm", repo, "main")
		rewrite(t, "main")
		s.MustGit(alice, work, "push", "--force", s.URL(repo), "main")
	})
	audit := s.MustCLI("audit", "--repo", repo)
	for _, want := range []string{"protect.add", "protect.remove", "refs/heads/main", "force-push not allowed", "deletion not allowed"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %q:\n%s", want, audit)
		}
	}
	s.Fsck(repo)
}

func TestLimitReposPerUser(t *testing.T) {
	s := MustRunMain(t, func(c *main.Config) { c.MaxReposPerUser = 2 })
	alice := s.User("alice")
	work := Work(t, "main", 1)
	s.MustCLI("repo", "create", "alice/one")
	s.MustGit(alice, work, "push", s.URL("alice/two"), "main")
	out, err := s.Git(alice, work, "push", s.URL("alice/three"), "main")
	if err == nil || !strings.Contains(out, "alice already has 2 repositories, the most allowed") {
		t.Fatalf("third repository by push: %v\n%s", err, out)
	}
	if out, err := s.CLI("repo", "create", "alice/four", "--max-repos-per-user", "2"); err == nil || !strings.Contains(out, "the most allowed") {
		t.Fatalf("third repository by CLI: %v\n%s", err, out)
	}
	if audit := s.MustCLI("audit"); !strings.Contains(audit, "limit: alice already has 2 repositories") {
		t.Fatalf("audit:\n%s", audit)
	}
}
