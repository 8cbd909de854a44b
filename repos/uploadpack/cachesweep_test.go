package uploadpack_test

import (
	"os"
	"path/filepath"
	"testing"

	"gatehouse/repos/uploadpack"
)

// TestSweepCache: a clone cache copy whose clone is gone (a server killed
// mid-clone) is swept, however young; one a live clone is writing is
// not, however old.
func TestSweepCache(t *testing.T) {
	gitDir := t.TempDir()
	live, drop := uploadpack.StartCacheCopy(gitDir)
	if live == "" {
		t.Fatal("no cache copy started")
	}
	defer drop()
	dead := filepath.Join(gitDir, "gatehouse-cache", "tmp-1234.pack")
	if err := os.WriteFile(dead, []byte("PACK half written"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(gitDir, "gatehouse-cache", "clone-kept.pack")
	if err := os.WriteFile(old, []byte("a cached pack"), 0o644); err != nil {
		t.Fatal(err)
	}

	found, err := uploadpack.SweepCache(gitDir, false)
	if err != nil || len(found) != 1 || found[0].Path != dead {
		t.Fatalf("SweepCache listed %+v, %v; want only %s", found, err, dead)
	}
	if _, err := os.Stat(dead); err != nil {
		t.Fatalf("listing removed the dead copy: %v", err)
	}
	if found, err = uploadpack.SweepCache(gitDir, true); err != nil || len(found) != 1 {
		t.Fatalf("SweepCache removed %+v, %v", found, err)
	}
	for path, want := range map[string]bool{dead: false, live: true, old: true} {
		if _, err := os.Stat(path); (err == nil) != want {
			t.Errorf("%s: there %v, want %v", filepath.Base(path), err == nil, want)
		}
	}
	drop()
	if _, err := os.Stat(live); err == nil {
		t.Errorf("a dropped copy stays")
	}
}
