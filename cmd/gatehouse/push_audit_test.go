package main_test

import (
	"encoding/json"
	"strings"
	"testing"

	"gatehouse"
)

// TestPushAudit: a push that updates several refs leaves one audit row
// per ref, in the push's order, naming the pusher, the repository, the
// client's address and each ref's old and new id, forced updates marked.
func TestPushAudit(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	s.MustCLI("repo", "create", "alice/r")
	work := Work(t, "main", 2)
	head := run(t, work, "git", "rev-parse", "HEAD")
	parent := run(t, work, "git", "rev-parse", "HEAD~1")
	zero := strings.Repeat("0", 40)

	s.MustGit(alice, work, "push", s.URL("alice/r"), "main", "main~1:refs/heads/b", "main:refs/tags/v1")
	s.MustGit(alice, work, "push", "--force", s.URL("alice/r"), "main~1:refs/heads/main")

	var events []*gatehouse.AuditEvent
	if err := json.Unmarshal([]byte(s.MustCLI("audit", "--repo", "alice/r", "--json")), &events); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		if e.Action != gatehouse.AuditPush {
			continue
		}
		if e.Actor != "alice" || e.Repo != "alice/r" || !strings.HasPrefix(e.Address, "127.0.0.1:") || e.ID == 0 || e.Time.IsZero() {
			t.Errorf("push event %+v", e)
		}
		got = append(got, e.Detail)
	}
	want := []string{
		"refs/heads/main " + zero + " " + head,
		"refs/heads/b " + zero + " " + parent,
		"refs/tags/v1 " + zero + " " + head,
		"refs/heads/main " + head + " " + parent + " forced",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("push events:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
