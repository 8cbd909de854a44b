package keys_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"gatehouse"
	"gatehouse/keys"
)

// A snapshot taken while another connection keeps writing is one commit's
// state: every repository it holds has its owner, it opens as a database
// of its own, and it has no -wal file beside it.
func testSnapshotWhileWriting(t *testing.T) {
	db := MustOpenDB(t)
	MustCreateUser(t, db, "alice")
	repos := keys.NewRepoStore(db)
	ctx := context.Background()
	const before = 20
	for i := range before {
		MustCreateRepo(t, db, "alice", fmt.Sprintf("before%d", i), i%2 == 0)
	}

	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			repos.CreateRepo(ctx, &gatehouse.Repo{Owner: "alice", Name: fmt.Sprintf("r%d", i), DefaultBranch: "main"})
		}
	}()
	path := filepath.Join(t.TempDir(), "copy.db")
	err := db.Snapshot(ctx, path)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a -wal file beside the snapshot: %v", err)
	}
	cp := MustOpenDBPath(t, path)
	got, err := keys.NewRepoStore(cp).FindRepos(ctx, gatehouse.RepoFilter{Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	all, err := repos.FindRepos(ctx, gatehouse.RepoFilter{Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < before || len(got) > len(all) {
		t.Fatalf("snapshot has %d repositories, the database %d, %d before the snapshot", len(got), len(all), before)
	}
	if err := db.Snapshot(ctx, path); err == nil {
		t.Fatal("a snapshot over an existing file succeeded")
	}
}

func TestSnapshotWhileWriting(t *testing.T) { eachDB(t, testSnapshotWhileWriting) }
