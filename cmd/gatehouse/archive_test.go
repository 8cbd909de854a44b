package main_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gatehouse/gittest"
)

// archiveFiles reads a tar, tar.gz or zip archive into "name mode" lines
// with each file's content, so two archives can be compared whatever
// their headers' details.
func archiveFiles(t *testing.T, format string, b []byte) string {
	t.Helper()
	var lines []string
	switch format {
	case "zip":
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("zip: %v", err)
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			c, _ := io.ReadAll(rc)
			rc.Close()
			lines = append(lines, fmt.Sprintf("%s %q", f.Name, c))
		}
	default:
		var r io.Reader = bytes.NewReader(b)
		if format == "tar.gz" {
			gz, err := gzip.NewReader(r)
			if err != nil {
				t.Fatalf("gzip: %v", err)
			}
			r = gz
		}
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("tar: %v", err)
			}
			if h.Typeflag == tar.TypeXGlobalHeader {
				lines = append(lines, "comment "+h.PAXRecords["comment"])
				continue
			}
			c, _ := io.ReadAll(tr)
			lines = append(lines, fmt.Sprintf("%s %c %o %q %s", h.Name, h.Typeflag, h.Mode, c, h.Linkname))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// remoteArchive runs git archive --remote and returns its output.
func (s *Server) remoteArchive(k *Key, args ...string) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = s.tb.TempDir()
	cmd.Env = s.gitEnv(k)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		s.tb.Fatalf("git %s hung", strings.Join(args, " "))
	}
	return out.Bytes(), errb.String(), err
}

func TestArchiveRemote(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	work := Work(t, "main", 2)
	os.MkdirAll(filepath.Join(work, "dir", "sub"), 0o755)
	os.WriteFile(filepath.Join(work, "dir", "sub", "deep.txt"), []byte("deep\n"), 0o644)
	os.WriteFile(filepath.Join(work, "dir", "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755)
	os.Symlink("run.sh", filepath.Join(work, "dir", "link"))
	run(t, work, "git", "add", ".")
	run(t, work, "git", "commit", "-q", "-m", "tree")
	run(t, work, "git", "tag", "-a", "-m", "v1", "v1")
	s.MustGit(alice, work, "push", "-q", s.URL("alice/arch"), "main", "v1")

	for _, tc := range []struct {
		name   string
		format string
		args   []string
	}{
		{"tar HEAD", "tar", []string{"HEAD"}},
		{"tar.gz with prefix", "tar.gz", []string{"--prefix=proj-1/", "v1"}},
		{"zip paths", "zip", []string{"main", "dir/sub", "file-0.txt"}},
		{"tar subtree", "tar", []string{"main:dir"}},
		{"tgz level", "tar.gz", []string{"-9", "refs/heads/main"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"archive", "--remote=" + s.URL("alice/arch"), "--format=" + tc.format}, tc.args...)
			got, stderr, err := s.remoteArchive(alice, args...)
			if err != nil {
				t.Fatalf("git archive --remote: %v\n%s", err, stderr)
			}
			// git's own archive of the same repository is the reference.
			local := append([]string{"archive", "--format=" + tc.format}, tc.args...)
			want, _ := gittest.Cmd{Dir: s.RepoDir("alice/arch")}.Output(t, local...)
			if g, w := archiveFiles(t, tc.format, got), archiveFiles(t, tc.format, []byte(want)); g != w {
				t.Errorf("archive:\n%s\ngit's own:\n%s", g, w)
			}
		})
	}

	// Refusals end in a readable line, and never hang.
	bob := s.User("bob")
	for _, tc := range []struct {
		name string
		key  *Key
		args []string
		want string
	}{
		{"no such ref", alice, []string{"nosuch"}, "no such ref: nosuch"},
		{"object id", alice, []string{run(t, work, "git", "rev-parse", "HEAD")}, "no such ref"},
		{"bad path", alice, []string{"HEAD", "missing.txt"}, "pathspec 'missing.txt' did not match any files"},
		{"bad format", alice, []string{"--format=rar", "HEAD"}, "unknown archive format"},
		{"no read access", bob, []string{"HEAD"}, "repository alice/arch not found or access denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"archive", "--remote=" + s.URL("alice/arch")}, tc.args...)
			_, stderr, err := s.remoteArchive(tc.key, args...)
			if err == nil || !strings.Contains(stderr, tc.want) {
				t.Errorf("git archive %v: %v\n%s\nwant %q", tc.args, err, stderr, tc.want)
			}
		})
	}
	s.Fsck("alice/arch")
}
