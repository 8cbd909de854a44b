package backup_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"gatehouse"
	"gatehouse/backup"
	"gatehouse/gittest"
	"gatehouse/keys"
	"gatehouse/repos"
	"gatehouse/repos/maintain"
)

// dataFolder is a data folder with its database and repository service.
type dataFolder struct {
	dir   string
	db    *keys.DB
	repos *repos.Service
}

func newData(tb testing.TB, owner string) *dataFolder {
	tb.Helper()
	dir := tb.TempDir()
	db, err := keys.Open(filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := keys.NewUserService(db).CreateUser(context.Background(), &gatehouse.User{Name: owner}); err != nil {
		tb.Fatal(err)
	}
	return &dataFolder{dir: dir, db: db, repos: repos.NewService(keys.NewRepoStore(db), filepath.Join(dir, "repos"))}
}

// repo creates owner/name with packs packs of commits on main, each
// written by one fast-import, as a push would.
func (d *dataFolder) repo(tb testing.TB, full string, packs int) string {
	tb.Helper()
	owner, name, _ := strings.Cut(full, "/")
	if err := d.repos.CreateRepo(context.Background(), &gatehouse.Repo{Owner: owner, Name: name}); err != nil {
		tb.Fatal(err)
	}
	dir, _ := d.repos.Dir(owner, name)
	for p := range packs {
		addCommits(tb, dir, "main", p > 0, p*10, 10)
	}
	return dir
}

func addCommits(tb testing.TB, dir, branch string, onMain bool, from, n int) {
	tb.Helper()
	var s strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&s, "commit refs/heads/%s\ncommitter A <a@x> %d +0000\ndata 2\nc\n", branch, 1700000000+i)
		if i == from && onMain {
			s.WriteString("from refs/heads/main^0\n")
		}
		fmt.Fprintf(&s, "M 644 inline f%d\ndata <<EOF\nline %d\nEOF\n", i%7, i)
	}
	gittest.Cmd{Dir: dir, Stdin: s.String()}.Run(tb, "-c", "fastimport.unpackLimit=1", "fast-import", "--quiet")
}

func (d *dataFolder) take(tb testing.TB, dest string) *backup.Manifest {
	tb.Helper()
	m, _, err := backup.Take(context.Background(), backup.Options{Data: d.dir, DB: d.db, Repos: d.repos, Dest: dest})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// A repack that supersedes every pack and, its grace period over, would
// delete them, while the backup copies them, deletes nothing: the backup
// is whole, and holds the refs as read (not what came after). Once the
// backup is done, the next repack deletes them.
func TestRepackDuringBackup(t *testing.T) {
	old := maintain.GracePeriod
	maintain.GracePeriod = 0
	defer func() { maintain.GracePeriod = old }()
	d := newData(t, "alice")
	dir := d.repo(t, "alice/r", 4)
	mainTip := gittest.Run(t, dir, "rev-parse", "main")

	var removed []int
	defer backup.SetHookRefsRead(func(gitDir string) {
		addCommits(t, gitDir, "later", true, 100, 5)
		for range 2 {
			st, err := maintain.Repack(context.Background(), gitDir)
			if err != nil {
				t.Error(err)
			}
			removed = append(removed, st.Removed)
		}
	})()
	dest := filepath.Join(t.TempDir(), "dest")
	m := d.take(t, dest)
	if !slices.Equal(removed, []int{0, 0}) {
		t.Fatalf("repacks during the backup removed %v packs", removed)
	}
	if len(m.Repos) != 1 || len(m.Repos[0].Refs) != 1 || m.Repos[0].Refs["refs/heads/main"] != mainTip {
		t.Fatalf("manifest repos %+v", m.Repos)
	}
	if _, err := backup.Verify(context.Background(), dest, nil); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(t.TempDir(), "data")
	if _, _, err := backup.Restore(context.Background(), dest, restored, nil); err != nil {
		t.Fatal(err)
	}
	gittest.Run(t, filepath.Join(restored, "repos", "alice", "r.git"), "fsck", "--full", "--strict")

	st, err := maintain.Repack(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Removed == 0 {
		t.Fatal("after the backup a repack still removed nothing")
	}
}

// A repository removed during the backup is left out, row and folder,
// even when it goes while it is being copied; one renamed is copied from
// its new folder under the name the database copy has. The restored rows
// and folders agree.
func TestRemovedAndRenamedDuringBackup(t *testing.T) {
	d := newData(t, "alice")
	for _, r := range []string{"alice/a", "alice/b", "alice/c", "alice/d"} {
		d.repo(t, r, 1)
	}
	ctx := context.Background()
	var once sync.Once
	dDir, _ := d.repos.Dir("alice", "d")
	defer backup.SetHookRefsRead(func(gitDir string) {
		if gitDir == dDir {
			if err := d.repos.DeleteRepo(ctx, "alice", "d"); err != nil {
				t.Error(err)
			}
		}
		once.Do(func() {
			if err := d.repos.DeleteRepo(ctx, "alice", "b"); err != nil {
				t.Error(err)
			}
			if _, err := d.repos.RenameRepo(ctx, "alice", "c", "alice", "c2"); err != nil {
				t.Error(err)
			}
		})
	})()
	dest := filepath.Join(t.TempDir(), "dest")
	m := d.take(t, dest)
	var names []string
	for _, r := range m.Repos {
		names = append(names, r.Name+">"+r.RenamedTo)
	}
	if fmt.Sprint(names) != "[alice/a> alice/c>alice/c2]" || fmt.Sprint(m.LeftOut) != "[alice/b alice/d]" {
		t.Fatalf("repos %v, left out %v", names, m.LeftOut)
	}

	restored := filepath.Join(t.TempDir(), "data")
	if _, _, err := backup.Restore(ctx, dest, restored, nil); err != nil {
		t.Fatal(err)
	}
	db, err := keys.Open(filepath.Join(restored, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := repos.NewService(keys.NewRepoStore(db), filepath.Join(restored, "repos"))
	rep, err := svc.Check(ctx, repos.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Problems() {
		t.Fatalf("restored folder: %+v", rep)
	}
	rows, err := svc.FindRepos(ctx, gatehouse.RepoFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("restored rows: %d", len(rows))
	}
	if _, err := os.Stat(filepath.Join(restored, "repos", "alice", "c.git", "objects", "pack")); err != nil {
		t.Fatal(err)
	}
}

// A second backup into the same folder replaces the first as latest,
// removes it, and a backup into a folder another backup is writing is
// refused.
func TestBackupFolder(t *testing.T) {
	d := newData(t, "alice")
	dir := d.repo(t, "alice/a", 2)
	dest := filepath.Join(t.TempDir(), "dest")
	m1 := d.take(t, dest)
	first, _ := os.Readlink(filepath.Join(dest, backup.LatestName))
	m2 := d.take(t, dest)
	second, _ := os.Readlink(filepath.Join(dest, backup.LatestName))
	// Unchanged, the count is the previous one; after a push, walked again.
	addCommits(t, dir, "main", true, 50, 3)
	m3 := d.take(t, dest)
	if m1.Repos[0].Objects != 60 || m2.Repos[0].Objects != 60 || m3.Repos[0].Objects != 60+3*3 {
		t.Fatalf("objects %d, %d, %d", m1.Repos[0].Objects, m2.Repos[0].Objects, m3.Repos[0].Objects)
	}
	if _, err := backup.Verify(context.Background(), dest, nil); err != nil {
		t.Fatal(err)
	}
	third, _ := os.Readlink(filepath.Join(dest, backup.LatestName))
	ents, _ := os.ReadDir(dest)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if first == second || second == third || fmt.Sprint(names) != fmt.Sprint([]string{backup.LatestName, third}) {
		t.Fatalf("snapshots %s, %s, %s; folder holds %v", first, second, third, names)
	}
	if _, _, err := backup.Take(context.Background(), backup.Options{Data: d.dir, DB: d.db, Repos: d.repos, Dest: filepath.Join(d.dir, "b")}); err == nil {
		t.Fatal("a backup inside the data folder was taken")
	}
}

// writeFile writes data to path, making its folder.
func writeFile(tb testing.TB, path, data string, perm os.FileMode) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), perm); err != nil {
		tb.Fatal(err)
	}
}

func sha256Hex(data string) string {
	h := sha256.Sum256([]byte(data))
	return hex.EncodeToString(h[:])
}

// lfsPath is where repository dir keeps LFS object oid.
func lfsPath(dir, oid string) string {
	return filepath.Join(dir, "lfs", "objects", oid[0:2], oid[2:4], oid)
}

// A repository's LFS objects are backed up, not the uploads being
// written nor one whose content is not its name; the next backup links
// the object from the previous one. The repository's hooks and the
// server's, one of them a symbolic link, come back executable. Verify
// checks an LFS object against its name: a file replaced together with
// its manifest entry is found.
func TestLFSObjectsAndHooks(t *testing.T) {
	d := newData(t, "alice")
	dir := d.repo(t, "alice/a", 1)
	good, bad := "an LFS object\n", "damaged on disk\n"
	goodOID, badOID := sha256Hex(good), sha256Hex("what was uploaded\n")
	writeFile(t, lfsPath(dir, goodOID), good, 0o644)
	writeFile(t, lfsPath(dir, badOID), bad, 0o644)
	writeFile(t, filepath.Join(dir, "lfs", "incoming", goodOID[:16]+"-123"), "half an upl", 0o600)
	writeFile(t, filepath.Join(dir, "lfs", "objects", "README"), "not an object", 0o644)
	writeFile(t, filepath.Join(dir, "hooks", "pre-receive"), "#!/bin/sh\nexit 0\n", 0o755)
	target := filepath.Join(t.TempDir(), "policy.sh")
	writeFile(t, target, "#!/bin/sh\necho policy\n", 0o755)
	if err := os.MkdirAll(filepath.Join(d.dir, "hooks", "update.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(d.dir, "hooks", "update.d", "10-policy")); err != nil {
		t.Fatal(err)
	}

	dest := filepath.Join(t.TempDir(), "dest")
	var progress strings.Builder
	m, _, err := backup.Take(context.Background(), backup.Options{Data: d.dir, DB: d.db, Repos: d.repos, Dest: dest, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]backup.File{}
	for _, f := range m.Files {
		files[f.Path] = f
	}
	rel := "repos/alice/a.git/"
	goodRel := rel + "lfs/objects/" + goodOID[0:2] + "/" + goodOID[2:4] + "/" + goodOID
	for p, mode := range map[string]os.FileMode{goodRel: 0o644, rel + "hooks/pre-receive": 0o755, "hooks/update.d/10-policy": 0o755} {
		if f, ok := files[p]; !ok || f.Mode != mode {
			t.Errorf("%s: in the manifest %v, mode %v, want %v", p, ok, f.Mode, mode)
		}
	}
	for p := range files {
		if strings.Contains(p, "incoming") || strings.Contains(p, badOID) || strings.HasSuffix(p, "README") {
			t.Errorf("%s was backed up", p)
		}
	}
	if !strings.Contains(progress.String(), badOID+" is damaged") {
		t.Errorf("the damaged object was not reported:\n%s", progress.String())
	}
	before, err := os.Stat(filepath.Join(dest, "latest", filepath.FromSlash(goodRel)))
	if err != nil {
		t.Fatal(err)
	}
	_, st, err := backup.Take(context.Background(), backup.Options{Data: d.dir, DB: d.db, Repos: d.repos, Dest: dest})
	if err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(filepath.Join(dest, "latest", filepath.FromSlash(goodRel)))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || st.Linked != 0 || st.Reused < int64(len(good)) {
		t.Errorf("the second backup wrote the LFS object again: %+v", st)
	}

	restored := filepath.Join(t.TempDir(), "data")
	if _, _, err := backup.Restore(context.Background(), dest, restored, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(lfsPath(filepath.Join(restored, "repos", "alice", "a.git"), goodOID)); err != nil || string(got) != good {
		t.Errorf("restored object: %q, %v", got, err)
	}
	for _, p := range []string{"repos/alice/a.git/hooks/pre-receive", "hooks/update.d/10-policy"} {
		fi, err := os.Lstat(filepath.Join(restored, filepath.FromSlash(p)))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o100 == 0 {
			t.Errorf("restored %s: %v, %v", p, fi, err)
		}
	}

	// Another content under the object's name, the manifest made to
	// agree: the name gives it away.
	snap, _ := filepath.EvalSymlinks(filepath.Join(dest, "latest"))
	forged := "not what the name says\n"
	os.Remove(filepath.Join(snap, filepath.FromSlash(goodRel)))
	writeFile(t, filepath.Join(snap, filepath.FromSlash(goodRel)), forged, 0o644)
	data, err := os.ReadFile(filepath.Join(snap, backup.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), `"sha256": "`+goodOID+`"`, `"sha256": "`+sha256Hex(forged)+`"`, 1))
	data = []byte(strings.Replace(string(data), fmt.Sprintf(`"size": %d,`, len(good)), fmt.Sprintf(`"size": %d,`, len(forged)), 1))
	if err := os.WriteFile(filepath.Join(snap, backup.ManifestName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Verify(context.Background(), dest, nil); !errors.Is(err, backup.ErrDamaged) || !strings.Contains(err.Error(), goodOID) {
		t.Fatalf("verify of a forged LFS object: %v", err)
	}
	if _, _, err := backup.Restore(context.Background(), dest, filepath.Join(t.TempDir(), "again"), nil); !errors.Is(err, backup.ErrDamaged) {
		t.Fatalf("restore of a forged LFS object: %v", err)
	}
}
