package repos_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"gatehouse"
	"gatehouse/keys"
	"gatehouse/repos"
)

// mustService returns a Service over a real SQLite store in a temp folder,
// with users alice, bob and the admin root.
func mustService(tb testing.TB) (*repos.Service, map[string]*gatehouse.User) {
	tb.Helper()
	dir := tb.TempDir()
	db, err := keys.Open(filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	users := map[string]*gatehouse.User{}
	for _, u := range []*gatehouse.User{{Name: "alice"}, {Name: "bob"}, {Name: "root", Admin: true}} {
		if err := keys.NewUserService(db).CreateUser(context.Background(), u); err != nil {
			tb.Fatal(err)
		}
		users[u.Name] = u
	}
	return repos.NewService(keys.NewRepoStore(db), filepath.Join(dir, "repos")), users
}

func TestDirStaysInsideRoot(t *testing.T) {
	s, _ := mustService(t)
	dir, err := s.Dir("alice", "r")
	if err != nil || filepath.Base(dir) != "r.git" || filepath.Base(filepath.Dir(dir)) != "alice" {
		t.Fatalf("Dir = %q, %v", dir, err)
	}
	for _, p := range [][2]string{{"..", "x"}, {"alice", ".."}, {"alice", "a/b"}, {"/etc", "x"}, {"", "x"}, {"alice", "x\x00"}} {
		if d, err := s.Dir(p[0], p[1]); !errors.Is(err, gatehouse.ErrInvalid) {
			t.Errorf("Dir(%q, %q) = %q, %v", p[0], p[1], d, err)
		}
	}
}

func TestCreateRepoIsWholeOrNothing(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	r := &gatehouse.Repo{Owner: "alice", Name: "r"}
	if err := s.CreateRepo(ctx, r); err != nil {
		t.Fatal(err)
	}
	dir, _ := s.Dir("alice", "r")
	head, err := os.ReadFile(filepath.Join(dir, "HEAD"))
	if err != nil || string(head) != "ref: refs/heads/main\n" {
		t.Fatalf("HEAD = %q, %v", head, err)
	}
	// A directory in the way: the metadata row must not stay behind.
	blocked, _ := s.Dir("alice", "blocked")
	os.MkdirAll(blocked, 0o755)
	if err := s.CreateRepo(ctx, &gatehouse.Repo{Owner: "alice", Name: "blocked"}); err == nil {
		t.Fatal("created over an existing directory")
	}
	if _, err := s.FindRepo(ctx, "alice", "blocked"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("metadata left behind: %v", err)
	}
	// No temporary directories either.
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 2 {
		t.Fatalf("alice's folder holds %d entries", len(entries))
	}
	if err := s.CreateRepo(ctx, &gatehouse.Repo{Owner: "alice", Name: "x", DefaultBranch: "a..b"}); !errors.Is(err, gatehouse.ErrInvalid) {
		t.Fatalf("bad default branch: %v", err)
	}
}

func TestAuthorize(t *testing.T) {
	ctx := context.Background()
	s, u := mustService(t)
	s.CreateRepo(ctx, &gatehouse.Repo{Owner: "alice", Name: "private", Private: true})
	s.CreateRepo(ctx, &gatehouse.Repo{Owner: "alice", Name: "public"})
	as := func(name string) gatehouse.Actor { return gatehouse.Actor{User: u[name]} }
	tests := []struct {
		name  string
		actor gatehouse.Actor
		repo  string
		op    gatehouse.Operation
		want  error
	}{
		{"owner writes", as("alice"), "private", gatehouse.OpWrite, nil},
		{"stranger reads private", as("bob"), "private", gatehouse.OpRead, gatehouse.ErrNotFound},
		{"stranger writes private", as("bob"), "private", gatehouse.OpWrite, gatehouse.ErrNotFound},
		{"stranger writes public", as("bob"), "public", gatehouse.OpWrite, gatehouse.ErrForbidden},
		{"missing", as("bob"), "nothing", gatehouse.OpRead, gatehouse.ErrNotFound},
		{"anonymous without anon-read", gatehouse.Actor{}, "public", gatehouse.OpRead, gatehouse.ErrNotFound},
		{"bad name", as("alice"), "../x", gatehouse.OpRead, gatehouse.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.Authorize(ctx, tt.actor, "alice", tt.repo, tt.op)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Authorize = %v, want %v", err, tt.want)
			}
		})
	}
	// A push into nothing in one's own namespace creates a private
	// repository, and says so once.
	var created []string
	s.Created = func(_ context.Context, a gatehouse.Actor, r *gatehouse.Repo) {
		created = append(created, a.Name()+" "+r.FullName())
	}
	r, lvl, err := s.Authorize(ctx, as("bob"), "bob", "new", gatehouse.OpWrite)
	if err != nil || r == nil || !r.Private || lvl != gatehouse.AccessAdmin {
		t.Fatalf("create on push = %+v, %v, %v", r, lvl, err)
	}
	if _, _, err := s.Authorize(ctx, as("bob"), "bob", "new", gatehouse.OpWrite); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(created) != "[bob bob/new]" {
		t.Fatalf("told of creations %q", created)
	}
	if dir, _ := s.Dir("bob", "new"); !exists(dir) {
		t.Fatal("created repository has no directory")
	}
	// Elsewhere it creates nothing, even for a site admin.
	if _, _, err := s.Authorize(ctx, as("root"), "alice", "made-by-root", gatehouse.OpWrite); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("root created in alice's namespace: %v", err)
	}
}

func TestDiskUsage(t *testing.T) {
	ctx := context.Background()
	s, _ := mustService(t)
	s.CreateRepo(ctx, &gatehouse.Repo{Owner: "alice", Name: "r"})
	before, err := s.DiskUsage(ctx, "alice", "r")
	if err != nil || before <= 0 {
		t.Fatalf("DiskUsage = %d, %v", before, err)
	}
	dir, _ := s.Dir("alice", "r")
	os.WriteFile(filepath.Join(dir, "objects", "pack", "x.pack"), make([]byte, 10000), 0o644)
	if after, _ := s.DiskUsage(ctx, "alice", "r"); after != before+10000 {
		t.Fatalf("DiskUsage after adding 10000 bytes = %d, want %d", after, before+10000)
	}
	if _, err := s.DiskUsage(ctx, "alice", "missing"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("missing repository: %v", err)
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
