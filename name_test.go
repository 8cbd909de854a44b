package gatehouse_test

import (
	"errors"
	"testing"

	"gatehouse"
)

func TestParseRepoPath(t *testing.T) {
	ok := map[string][2]string{
		"alice/repo":         {"alice", "repo"},
		"/alice/repo.git":    {"alice", "repo"},
		"~alice/repo":        {"alice", "repo"},
		"alice/repo.git/":    {"alice", "repo"},
		"a1/r_2-x.y":         {"a1", "r_2-x.y"},
		"/alice/my.repo.git": {"alice", "my.repo"},
		"alice/" + long(39):  {"alice", long(39)},
		"//alice/repo":       {"alice", "repo"},
		"///alice/repo.git":  {"alice", "repo"},
		"//~alice/repo":      {"alice", "repo"},
		"/etc/passwd":        {"etc", "passwd"},
	}
	for in, want := range ok {
		o, n, err := gatehouse.ParseRepoPath(in)
		if err != nil || o != want[0] || n != want[1] {
			t.Errorf("ParseRepoPath(%q) = %q, %q, %v; want %q", in, o, n, err, want)
		}
	}
	bad := []string{
		"", "/", "alice", "alice/", "/alice", "../alice/repo", "alice/../repo", "alice/..",
		"alice/repo/extra", "/etc/passwd/x", "//alice", "//alice//repo", "alice//repo", "alice/re\x00po",
		"Alice/repo", "alice/.hidden", "alice/repo.lock", "alice/re po", "alice/re\npo",
		"alice\\repo", "alice/" + long(40), "alice/-x", "alice/repo.git.git", "~/alice/repo",
		"alice/répo", "alice/.git", "alice/a..b",
	}
	for _, in := range bad {
		if o, n, err := gatehouse.ParseRepoPath(in); !errors.Is(err, gatehouse.ErrInvalid) {
			t.Errorf("ParseRepoPath(%q) = %q, %q, %v; want ErrInvalid", in, o, n, err)
		}
	}
}

func long(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}
