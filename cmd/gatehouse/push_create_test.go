package main_test

import (
	"encoding/json"
	"slices"
	"testing"
)

// A repository created by a first push, or by the LFS upload that comes
// before a first push, is announced like one created through the API: a
// site webhook and the owning organization's webhook each get one
// repository "created" delivery naming the pusher, and the audit log has
// one repo.create entry by them.
func TestPushCreateAnnounced(t *testing.T) {
	s := MustRunMain(t, allowLoopback)
	site := newHookReceiver(t, "127.0.0.1:0", nil)
	org := newHookReceiver(t, "127.0.0.1:0", nil)
	aliceKey := s.User("alice")
	alice := newLFSClient(t, s, aliceKey)
	s.MustCLI("org", "create", "acme")
	s.MustCLI("org", "member", "add", "acme", "alice", "admin")
	s.MustCLI("webhook", "add", "--site", site.URL, "--events", "repository")
	s.MustCLI("webhook", "add", "acme", org.URL, "--events", "repository")

	// A plain push into nothing.
	s.MustGit(aliceKey, Work(t, "main", 2), "push", s.URL("alice/fresh"), "main")
	// git-lfs uploads first: the upload creates acme/assets, the push
	// that follows finds it.
	work := t.TempDir()
	run(t, work, "git", "init", "-q", "-b", "main")
	alice.must(t, work, "lfs", "track", "*.bin")
	randomFile(t, work, "a.bin", 100<<10)
	alice.must(t, work, "add", ".")
	alice.must(t, work, "commit", "-q", "-m", "assets")
	alice.must(t, work, "push", s.URL("acme/assets"), "main")
	// The upload created it: its creation comes before the upload.
	first := map[string]float64{}
	for _, e := range auditActions(t, s, "acme/assets") {
		a, id := e["action"].(string), e["id"].(float64)
		if old, ok := first[a]; !ok || id < old {
			first[a] = id
		}
	}
	if c, u, p := first["repo.create"], first["lfs.upload"], first["push"]; c == 0 || u == 0 || p == 0 || c > u || u > p {
		t.Errorf("acme/assets audit ids: create %v, lfs upload %v, push %v", c, u, p)
	}

	heard := func(rs []hookRequest) []string {
		var got []string
		for _, r := range rs {
			var p struct {
				Action string `json:"action"`
				Repo   struct {
					FullName string `json:"full_name"`
					Private  bool   `json:"private"`
				} `json:"repository"`
				Sender struct{ Login string } `json:"sender"`
			}
			if err := json.Unmarshal(r.Body, &p); err != nil {
				t.Fatal(err)
			}
			line := r.Event() + " " + p.Action + " " + p.Repo.FullName + " by " + p.Sender.Login
			if !p.Repo.Private {
				line += " (public)"
			}
			got = append(got, line)
		}
		slices.Sort(got)
		return got
	}
	want := []string{"repository created acme/assets by alice", "repository created alice/fresh by alice"}
	if got := heard(site.wait(t, 2)); !slices.Equal(got, want) {
		t.Errorf("site hook heard %q, want %q", got, want)
	}
	if got := heard(org.wait(t, 1)); !slices.Equal(got, want[:1]) {
		t.Errorf("organization hook heard %q, want %q", got, want[:1])
	}

	for _, repo := range []string{"alice/fresh", "acme/assets"} {
		var creates []string
		for _, e := range auditActions(t, s, repo) {
			if e["action"] == "repo.create" {
				creates = append(creates, e["actor"].(string)+" "+e["detail"].(string))
			}
		}
		if !slices.Equal(creates, []string{"alice private"}) {
			t.Errorf("%s: repo.create audit entries %q, want one by alice", repo, creates)
		}
	}
	// Nothing more was queued than what arrived: one creation each.
	for id, n := range map[string]int{"1": 2, "2": 1} {
		var ds []map[string]any
		if err := json.Unmarshal([]byte(s.MustCLI("webhook", "deliveries", id, "--json")), &ds); err != nil {
			t.Fatal(err)
		}
		if len(ds) != n {
			t.Errorf("webhook %s has %d deliveries, want %d", id, len(ds), n)
		}
	}
	// A second push to an existing repository creates nothing.
	w := Work(t, "main", 3)
	s.MustGit(aliceKey, w, "push", "-f", s.URL("alice/fresh"), "main")
	if ev := auditActions(t, s, "alice/fresh"); countAudit(ev, "repo.create", "") != 1 {
		t.Errorf("audit after a second push: %v", ev)
	}
}
