package sshd_test

import (
	"strings"
	"testing"

	"gatehouse/sshd"
)

// FuzzParseCommand: any exec request either parses to one of the known
// commands, with a path free of NUL and newlines for the Git ones, or is
// refused; it never panics.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"git-upload-pack 'alice/repo.git'", "git receive-pack alice/repo", `git-upload-pack 'it'\''s/x'`,
		`git-upload-pack "a/b"`, "git-upload-archive 'a/b'", "whoami", "help", "repo list", "sh -c id",
		"git-upload-pack 'a/b", "git-upload-pack a/b\nrm -rf /", "git-upload-pack\x00 a/b", "  repo   list  "} {
		f.Add(s)
	}
	known := map[string]bool{sshd.CmdUploadPack: true, sshd.CmdReceivePack: true, sshd.CmdUploadArchive: true,
		"whoami": true, "help": true, "login": true, "repo list": true,
		"keys list": true, "keys add": true, "keys rm": true, "repo create": true, "repo info": true, "repo set": true,
		"repo collab": true, "repo branches": true, "repo tags": true, "repo rm": true,
		"token create": true, "token list": true, "token rm": true}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := sshd.ParseCommand(raw)
		if err != nil {
			return
		}
		if !known[c.Name] {
			t.Fatalf("ParseCommand(%q) = unknown command %q", raw, c.Name)
		}
		if strings.HasPrefix(c.Name, "git-") {
			if c.Path == "" || strings.ContainsAny(c.Path, "\x00\n\r") {
				t.Fatalf("ParseCommand(%q) = path %q", raw, c.Path)
			}
		} else if c.Path != "" {
			t.Fatalf("ParseCommand(%q) = %q with a path %q", raw, c.Name, c.Path)
		}
	})
}
