package main_test

import (
	"net/http"
	"os"
	"testing"
)

// DELETE /api/v1/orgs/ORG?force=true removes the organization with its
// repositories, as org rm --force does, for its admins only.
func TestOrgAPIForceDelete(t *testing.T) {
	s, base := MustRunWeb(t)
	s.User("ada")
	s.User("mel")
	s.MustCLI("org", "create", "acme")
	s.MustCLI("org", "member", "add", "acme", "ada", "admin")
	s.MustCLI("org", "member", "add", "acme", "mel", "member")
	s.MustCLI("repo", "create", "acme/api")
	ada := apiClient{t, base, s.Token("ada")}
	mel := apiClient{t, base, s.Token("mel")}

	if st := ada.do("DELETE", "/orgs/acme", nil, nil); st != http.StatusConflict {
		t.Errorf("delete with a repository, no force: %d, want 409", st)
	}
	if st := mel.do("DELETE", "/orgs/acme?force=true", nil, nil); st != http.StatusForbidden {
		t.Errorf("member forces delete: %d, want 403", st)
	}
	var res struct {
		Deleted      string   `json:"deleted"`
		Repositories []string `json:"repositories"`
	}
	if st := ada.do("DELETE", "/orgs/acme?force=true", nil, &res); st != http.StatusOK || res.Deleted != "acme" || len(res.Repositories) != 1 || res.Repositories[0] != "acme/api" {
		t.Fatalf("forced delete: %d %+v", st, res)
	}
	if _, err := os.Stat(s.RepoDir("acme/api")); !os.IsNotExist(err) {
		t.Errorf("forced removal left the repository on disk: %v", err)
	}
	if st := ada.do("GET", "/orgs/acme", nil, nil); st != http.StatusNotFound {
		t.Errorf("removed org: %d, want 404", st)
	}
}
