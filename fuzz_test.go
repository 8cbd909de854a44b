package gatehouse_test

import (
	"strings"
	"testing"

	"gatehouse"
)

// FuzzParseRepoPath: whatever a client sends, an accepted path names a
// valid owner and name, and nothing that could leave the repositories
// root.
func FuzzParseRepoPath(f *testing.F) {
	for _, s := range []string{"alice/repo", "/alice/repo.git", "~alice/repo", "alice/repo/", "../etc/passwd",
		"alice/../x", "a/b/c", "alice/re\x00po", "", "/", "alice/.git", "alice/repo.git.git", "ALICE/Repo"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		owner, name, err := gatehouse.ParseRepoPath(p)
		if err != nil {
			return
		}
		if gatehouse.ValidateName(owner) != nil || gatehouse.ValidateName(name) != nil {
			t.Fatalf("ParseRepoPath(%q) = %q, %q: invalid names accepted", p, owner, name)
		}
		for _, part := range []string{owner, name} {
			if part == "." || part == ".." || strings.ContainsAny(part, "/\\\x00") {
				t.Fatalf("ParseRepoPath(%q) = %q, %q", p, owner, name)
			}
		}
		if o2, n2, err := gatehouse.ParseRepoPath(owner + "/" + name); err != nil || o2 != owner || n2 != name {
			t.Fatalf("ParseRepoPath(%q) = %q, %q, but the canonical form parses as %q, %q, %v", p, owner, name, o2, n2, err)
		}
	})
}

// FuzzNormalizeBranchPattern: an accepted pattern is stable and can be
// matched without panicking.
func FuzzNormalizeBranchPattern(f *testing.F) {
	for _, s := range []string{"main", "refs/heads/release/*", "v[0-9]*", "[", "a..b", "", "x/**/y"} {
		f.Add(s, "main")
	}
	f.Fuzz(func(t *testing.T, p, branch string) {
		n, err := gatehouse.NormalizeBranchPattern(p)
		if err != nil {
			return
		}
		if n2, err := gatehouse.NormalizeBranchPattern(n); err != nil || n2 != n {
			t.Fatalf("NormalizeBranchPattern(%q) = %q, which normalizes to %q, %v", p, n, n2, err)
		}
		gatehouse.MatchBranch(n, branch)
	})
}
