package main_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// orgClient runs clones and pushes as one key, each a new connection, so
// that a change made with the CLI shows on the very next one.
type orgClient struct {
	s    *Server
	t    *testing.T
	work string
}

func newOrgClient(t *testing.T, s *Server) *orgClient {
	return &orgClient{s: s, t: t, work: Work(t, "main", 1)}
}

// read reports whether k may clone repo; a refusal must be the
// not-found answer, never a hint that the repository exists.
func (c *orgClient) read(k *Key, repo string) bool {
	c.t.Helper()
	out, err := c.s.Git(k, "", "clone", "-q", c.s.URL(repo), filepath.Join(c.t.TempDir(), "c"))
	if err != nil && !strings.Contains(out, notFound) {
		c.t.Fatalf("clone %s refused oddly: %v", repo, err)
	}
	return err == nil
}

// push reports whether k may push a new commit to branch of repo.
func (c *orgClient) push(k *Key, repo, branch string) bool {
	c.t.Helper()
	Commits(c.t, c.work, "o", 1)
	_, err := c.s.Git(k, c.work, "push", c.s.URL(repo), "HEAD:refs/heads/"+branch)
	return err == nil
}

// Each path to access on an organization's repository grants it, and
// taking it away revokes it on the next connection.
func TestOrgAccessPaths(t *testing.T) {
	s := MustRunMain(t)
	ada := s.User("ada")   // organization admin
	mel := s.User("mel")   // organization member
	tess := s.User("tess") // team member
	dan := s.User("dan")   // direct collaborator
	out := s.User("out")   // no relation
	c := newOrgClient(t, s)

	s.MustCLI("org", "create", "acme")
	s.MustCLI("org", "member", "add", "acme", "ada", "admin")
	s.MustCLI("repo", "create", "acme/api")
	s.MustCLI("repo", "create", "acme/www", "--public")
	if !c.push(ada, "acme/api", "main") || !c.push(ada, "acme/www", "main") {
		t.Fatal("org admin cannot push")
	}

	check := func(name string, k *Key, repo string, read, write bool) {
		t.Helper()
		if got := c.read(k, repo); got != read {
			t.Errorf("%s: read %s = %v, want %v", name, repo, got, read)
		}
		if got := c.push(k, repo, "b-"+strings.ReplaceAll(name, " ", "-")); got != write {
			t.Errorf("%s: push %s = %v, want %v", name, repo, got, write)
		}
	}

	t.Run("org admin", func(t *testing.T) {
		check("admin", ada, "acme/api", true, true)
		s.MustCLI("org", "member", "add", "acme", "ada", "member")
		check("admin demoted", ada, "acme/api", true, false)
		s.MustCLI("org", "member", "rm", "acme", "ada")
		check("admin removed", ada, "acme/api", false, false)
	})

	t.Run("org member, default read", func(t *testing.T) {
		check("outsider", mel, "acme/api", false, false)
		s.MustCLI("org", "member", "add", "acme", "mel", "member")
		check("member", mel, "acme/api", true, false)
		s.MustCLI("org", "set", "acme", "--default-level", "none")
		check("member, default none", mel, "acme/api", false, false)
		s.MustCLI("org", "set", "acme", "--default-level", "read")
		check("member, default read again", mel, "acme/api", true, false)
		s.MustCLI("org", "member", "rm", "acme", "mel")
		check("member removed", mel, "acme/api", false, false)
	})

	t.Run("team read, write, admin", func(t *testing.T) {
		// Default none: the team is the only path in.
		s.MustCLI("org", "set", "acme", "--default-level", "none")
		s.MustCLI("org", "member", "add", "acme", "tess", "member")
		s.MustCLI("team", "create", "acme/devs")
		s.MustCLI("team", "member", "add", "acme/devs", "tess")
		check("team without grant", tess, "acme/api", false, false)
		s.MustCLI("collab", "add", "acme/api", "@acme/devs", "read")
		check("team read", tess, "acme/api", true, false)
		s.MustCLI("collab", "add", "acme/api", "@acme/devs", "write")
		check("team write", tess, "acme/api", true, true)

		// Admin is what an admin-only protected branch needs.
		s.MustCLI("protect", "add", "acme/api", "prod", "--admin-only")
		if c.push(tess, "acme/api", "prod") {
			t.Error("team write pushed to an admin-only branch")
		}
		s.MustCLI("collab", "add", "acme/api", "@acme/devs", "admin")
		if !c.push(tess, "acme/api", "prod") {
			t.Error("team admin cannot push to an admin-only branch")
		}
		if out := s.MustCLI("collab", "list", "acme/api"); !strings.Contains(out, "@acme/devs") || !strings.Contains(out, "admin") {
			t.Errorf("collab list does not show the team:\n%s", out)
		}

		s.MustCLI("team", "member", "rm", "acme/devs", "tess")
		check("removed from team", tess, "acme/api", false, false)
		s.MustCLI("team", "member", "add", "acme/devs", "tess")
		check("back in team", tess, "acme/api", true, true)
		s.MustCLI("collab", "rm", "acme/api", "@acme/devs")
		check("team grant removed", tess, "acme/api", false, false)
		s.MustCLI("collab", "add", "acme/api", "@acme/devs", "write")
		check("team grant again", tess, "acme/api", true, true)
		s.MustCLI("org", "member", "rm", "acme", "tess")
		check("removed from the org", tess, "acme/api", false, false)
		if out := s.MustCLI("team", "member", "list", "acme/devs"); strings.Contains(out, "tess") {
			t.Errorf("removed from the org but still in its team:\n%s", out)
		}
		s.MustCLI("org", "member", "add", "acme", "tess", "member")
		s.MustCLI("team", "member", "add", "acme/devs", "tess")
		check("in the team again", tess, "acme/api", true, true)
		s.MustCLI("team", "rm", "acme/devs")
		check("team removed", tess, "acme/api", false, false)
	})

	t.Run("direct grant", func(t *testing.T) {
		s.MustCLI("collab", "add", "acme/api", "dan", "write")
		check("collaborator", dan, "acme/api", true, true)
		s.MustCLI("collab", "rm", "acme/api", "dan")
		check("collaborator removed", dan, "acme/api", false, false)
	})

	t.Run("public", func(t *testing.T) {
		check("public", out, "acme/www", true, false)
		check("private beside it", out, "acme/api", false, false)
	})

	t.Run("repo list", func(t *testing.T) {
		// mel is back as a member with the default at none, then read.
		s.MustCLI("org", "member", "add", "acme", "mel", "member")
		list := func(k *Key) string {
			t.Helper()
			stdout, stderr, code := s.SSH(k, nil, "repo list")
			if code != 0 {
				t.Fatalf("repo list: %d %s", code, stderr)
			}
			return stdout
		}
		if l := list(mel); strings.Contains(l, "acme/api") || !strings.Contains(l, "acme/www") {
			t.Errorf("default none, repo list:\n%s", l)
		}
		s.MustCLI("org", "set", "acme", "--default-level", "read")
		if l := list(mel); !strings.Contains(l, "acme/api") {
			t.Errorf("default read, repo list:\n%s", l)
		}
		if l := list(out); strings.Contains(l, "acme/api") || !strings.Contains(l, "acme/www") {
			t.Errorf("outsider, repo list:\n%s", l)
		}
	})

	t.Run("audit", func(t *testing.T) {
		var events []struct{ Action, Repo, Detail string }
		if err := json.Unmarshal([]byte(s.MustCLI("audit", "--json", "--limit", "1000")), &events); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range events {
			seen[e.Action] = true
		}
		for _, a := range []string{"org.create", "org.update", "org.member.set", "org.member.remove",
			"team.create", "team.delete", "team.member.add", "team.member.remove", "team.grant.set", "team.grant.remove"} {
			if !seen[a] {
				t.Errorf("no %s in the audit log", a)
			}
		}
	})

	s.Fsck("acme/api")
	s.Fsck("acme/www")
}

// Pushing into nothing under an organization creates the repository for
// its admins only.
func TestOrgCreateOnPush(t *testing.T) {
	s := MustRunMain(t)
	ada := s.User("ada")
	mel := s.User("mel")
	root := s.User("root", "--admin")
	c := newOrgClient(t, s)
	s.MustCLI("org", "create", "acme")
	s.MustCLI("org", "member", "add", "acme", "ada", "admin")
	s.MustCLI("org", "member", "add", "acme", "mel", "member")

	if c.push(mel, "acme/by-member", "main") {
		t.Error("a plain member created a repository by pushing")
	}
	if c.push(root, "acme/by-root", "main") {
		t.Error("a site admin who is no org admin created a repository by pushing")
	}
	if !c.push(ada, "acme/new", "main") {
		t.Fatal("the org admin cannot create by pushing")
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(s.MustCLI("repo", "show", "acme/new", "--json")), &r); err != nil {
		t.Fatal(err)
	}
	if r["private"] != true || r["owner"] != "acme" {
		t.Errorf("created %v", r)
	}
	// The member reads it by the org default, and may not push.
	if !c.read(mel, "acme/new") || c.push(mel, "acme/new", "x") {
		t.Error("member on the created repository: want read, not write")
	}
	if _, err := os.Stat(s.RepoDir("acme/by-member")); !os.IsNotExist(err) {
		t.Errorf("refused create left a directory: %v", err)
	}
	s.Fsck("acme/new")
}

// Names are one namespace; an organization that owns repositories is
// removed only when forced, and then its repositories leave the disk.
func TestOrgNamespaceAndRemoval(t *testing.T) {
	s := MustRunMain(t)
	ada := s.User("ada")
	s.MustCLI("org", "create", "acme", "--json")
	if out, err := s.CLI("user", "add", "acme"); err == nil || !strings.Contains(out, "taken by an organization") {
		t.Errorf("user named like an org: %v\n%s", err, out)
	}
	if out, err := s.CLI("org", "create", "ada"); err == nil || !strings.Contains(out, "taken by a user") {
		t.Errorf("org named like a user: %v\n%s", err, out)
	}
	if out, err := s.CLI("key", "add", "acme", NewKey(t).Public); err == nil {
		t.Errorf("key added to an organization:\n%s", out)
	}
	if out := s.MustCLI("user", "list"); strings.Contains(out, "acme") {
		t.Errorf("user list shows the org:\n%s", out)
	}
	if out := s.MustCLI("org", "list"); !strings.Contains(out, "acme") {
		t.Errorf("org list:\n%s", out)
	}
	for _, bad := range [][]string{
		{"org", "member", "add", "acme", "ada", "owner"},
		{"org", "member", "add", "acme", "nobody", "member"},
		{"team", "member", "add", "acme/nothing", "ada"},
		{"collab", "add", "acme/x", "@acme", "read"},
		{"org", "member", "frob"},
	} {
		if _, err := s.CLI(bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	s.MustCLI("team", "create", "acme/devs")
	if out, err := s.CLI("team", "member", "add", "acme/devs", "ada"); err == nil || !strings.Contains(out, "not a member") {
		t.Errorf("non-member into a team: %v\n%s", err, out)
	}

	s.MustCLI("org", "member", "add", "acme", "ada", "admin")
	c := newOrgClient(t, s)
	if !c.push(ada, "acme/api", "main") {
		t.Fatal("org admin cannot create")
	}
	if out, err := s.CLI("org", "rm", "acme"); err == nil || !strings.Contains(out, "still owns 1 repositories") {
		t.Errorf("org rm with repositories: %v\n%s", err, out)
	}
	var res struct {
		Deleted      string   `json:"deleted"`
		Repositories []string `json:"repositories"`
	}
	if err := json.Unmarshal([]byte(s.MustCLI("org", "rm", "acme", "--force", "--json")), &res); err != nil {
		t.Fatal(err)
	}
	if res.Deleted != "acme" || len(res.Repositories) != 1 || res.Repositories[0] != "acme/api" {
		t.Errorf("org rm --force = %+v", res)
	}
	if _, err := os.Stat(s.RepoDir("acme/api")); !os.IsNotExist(err) {
		t.Errorf("forced removal left the repository on disk: %v", err)
	}
	if c.read(ada, "acme/api") {
		t.Error("repository of a removed org still readable")
	}
	// The name is free again.
	s.MustCLI("user", "add", "acme")
}

// The API manages organizations with the same rules: site admins create
// them, org admins manage them, members see them, others get 404; team
// grants need admin on the repository. A grant made there opens the
// repository to git on the next connection.
func TestOrgAPI(t *testing.T) {
	s, base := MustRunWeb(t)
	s.User("root", "--admin")
	ada := s.User("ada")
	tess := s.User("tess")
	s.User("out")
	root := apiClient{t, base, s.Token("root")}
	adaAPI := apiClient{t, base, s.Token("ada")}
	outAPI := apiClient{t, base, s.Token("out")}

	type org struct {
		Name         string `json:"name"`
		DefaultLevel string `json:"default_level"`
	}
	var o org
	if st := adaAPI.do("POST", "/orgs", map[string]string{"name": "acme"}, nil); st != http.StatusForbidden {
		t.Errorf("non-admin creates an org: %d", st)
	}
	if st := root.do("POST", "/orgs", map[string]string{"name": "acme", "default_level": "none"}, &o); st != http.StatusCreated || o.DefaultLevel != "none" {
		t.Fatalf("create: %d %+v", st, o)
	}
	if st := root.do("POST", "/orgs", map[string]string{"name": "ada"}, nil); st != http.StatusConflict {
		t.Errorf("org named like a user: %d", st)
	}
	if st := root.do("PUT", "/orgs/acme/members/ada", map[string]string{"role": "admin"}, nil); st != http.StatusOK {
		t.Fatalf("member add: %d", st)
	}
	if st := outAPI.do("GET", "/orgs/acme", nil, nil); st != http.StatusNotFound {
		t.Errorf("outsider sees the org: %d", st)
	}
	var list []org
	if st := outAPI.do("GET", "/orgs", nil, &list); st != http.StatusOK || len(list) != 0 {
		t.Errorf("outsider's org list: %d %v", st, list)
	}
	if st := adaAPI.do("GET", "/orgs", nil, &list); st != http.StatusOK || len(list) != 1 {
		t.Errorf("org admin's org list: %d %v", st, list)
	}

	// The org admin runs the rest.
	steps := []struct {
		method, path string
		body         any
		want         int
	}{
		{"PUT", "/orgs/acme/members/tess", map[string]string{"role": "member"}, http.StatusOK},
		{"PUT", "/orgs/acme/members/tess", map[string]string{"role": "owner"}, http.StatusUnprocessableEntity},
		{"POST", "/orgs/acme/teams", map[string]string{"name": "devs"}, http.StatusCreated},
		{"PUT", "/orgs/acme/teams/devs/members/tess", nil, http.StatusOK},
		{"PUT", "/orgs/acme/teams/devs/members/out", nil, http.StatusUnprocessableEntity},
		{"POST", "/repos", map[string]any{"owner": "acme", "name": "api"}, http.StatusCreated},
		{"PUT", "/repos/acme/api/teams/acme/devs", map[string]string{"level": "write"}, http.StatusOK},
		{"PATCH", "/orgs/acme", map[string]string{"default_level": "write"}, http.StatusUnprocessableEntity},
	}
	for _, st := range steps {
		if got := adaAPI.do(st.method, st.path, st.body, nil); got != st.want {
			t.Errorf("%s %s: %d, want %d", st.method, st.path, got, st.want)
		}
	}
	var grants []struct{ Team, Level string }
	if st := adaAPI.do("GET", "/repos/acme/api/teams", nil, &grants); st != http.StatusOK || len(grants) != 1 || grants[0].Team != "acme/devs" || grants[0].Level != "write" {
		t.Errorf("team grants: %d %v", st, grants)
	}
	// A member may look, not change.
	tessAPI := apiClient{t, base, s.Token("tess")}
	if st := tessAPI.do("GET", "/orgs/acme/teams", nil, nil); st != http.StatusOK {
		t.Errorf("member lists teams: %d", st)
	}
	if st := tessAPI.do("DELETE", "/orgs/acme/teams/devs", nil, nil); st != http.StatusForbidden {
		t.Errorf("member deletes a team: %d", st)
	}
	if st := outAPI.do("PUT", "/repos/acme/api/teams/acme/devs", map[string]string{"level": "admin"}, nil); st != http.StatusNotFound {
		t.Errorf("outsider grants a team: %d", st)
	}

	c := newOrgClient(t, s)
	if !c.push(ada, "acme/api", "main") || !c.push(tess, "acme/api", "t") {
		t.Fatal("org admin or team writer cannot push")
	}
	if st := adaAPI.do("DELETE", "/orgs/acme/teams/devs/members/tess", nil, nil); st != http.StatusNoContent {
		t.Errorf("team member rm: %d", st)
	}
	if c.read(tess, "acme/api") {
		t.Error("removed from the team through the API, still reads")
	}
	if st := adaAPI.do("DELETE", "/orgs/acme", nil, nil); st != http.StatusConflict {
		t.Errorf("delete an org with repositories: %d", st)
	}
	s.Fsck("acme/api")
}

// The panel's organization page: a site admin creates the org, its admin
// manages members and teams, a member only looks, an outsider gets 404.
func TestOrgPanel(t *testing.T) {
	s, base := MustRunWeb(t)
	s.User("root", "--admin")
	tess := s.User("tess")
	s.User("ada")
	s.User("out")
	root := newPanelClient(t, base)
	root.login(s.LoginLink("root", base))
	if code, _ := root.postCSRF("/orgs", url.Values{"name": {"acme"}, "default_level": {"none"}}); code != http.StatusSeeOther {
		t.Fatalf("create org: %d", code)
	}
	if code, _ := root.postCSRF("/orgs/acme/members", url.Values{"user": {"ada"}, "role": {"admin"}}); code != http.StatusSeeOther {
		t.Fatalf("add org admin: %d", code)
	}

	ada := newPanelClient(t, base)
	ada.login(s.LoginLink("ada", base))
	for _, f := range []struct {
		path string
		form url.Values
	}{
		{"/orgs/acme/members", url.Values{"user": {"tess"}, "role": {"member"}}},
		{"/orgs/acme/teams", url.Values{"name": {"devs"}}},
		{"/orgs/acme/teams/members", url.Values{"team": {"devs"}, "user": {"tess"}}},
		{"/orgs/acme/settings", url.Values{"default_level": {"read"}}},
	} {
		if code, body := ada.postCSRF(f.path, f.form); code != http.StatusSeeOther {
			t.Fatalf("%s: %d\n%s", f.path, code, body)
		}
	}
	code, body := ada.get("/orgs/acme")
	if code != http.StatusOK || !strings.Contains(body, "acme/devs") || !strings.Contains(body, "tess") || !strings.Contains(body, "Create team") {
		t.Errorf("org page for its admin: %d\n%s", code, body)
	}
	if code, body := ada.postCSRF("/orgs/acme/teams/members", url.Values{"team": {"devs"}, "user": {"out"}}); code != http.StatusUnprocessableEntity || !strings.Contains(body, "not a member") {
		t.Errorf("non-member into a team: %d", code)
	}

	member := newPanelClient(t, base)
	member.login(s.LoginLink("tess", base))
	if code, body := member.get("/orgs/acme"); code != http.StatusOK || strings.Contains(body, "Create team") {
		t.Errorf("org page for a member: %d (forms shown: %v)", code, strings.Contains(body, "Create team"))
	}
	if code, _ := member.postCSRF("/orgs/acme/teams", url.Values{"name": {"x"}}); code != http.StatusForbidden {
		t.Errorf("member creates a team: %d", code)
	}
	outsider := newPanelClient(t, base)
	outsider.login(s.LoginLink("out", base))
	if code, _ := outsider.get("/orgs/acme"); code != http.StatusNotFound {
		t.Errorf("org page for an outsider: %d", code)
	}

	// Removing tess in the panel cuts her off on the next connection.
	s.MustCLI("repo", "create", "acme/api")
	c := newOrgClient(t, s)
	if !c.read(tess, "acme/api") {
		t.Fatal("member cannot read with default read")
	}
	if code, _ := ada.postCSRF("/orgs/acme/members/remove", url.Values{"user": {"tess"}}); code != http.StatusSeeOther {
		t.Fatalf("remove member: %d", code)
	}
	if c.read(tess, "acme/api") {
		t.Error("removed in the panel, still reads")
	}
}
