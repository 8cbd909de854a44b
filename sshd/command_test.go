package sshd_test

import (
	"reflect"
	"testing"

	"gatehouse/sshd"
)

func TestParseCommand(t *testing.T) {
	ok := []struct {
		raw  string
		want sshd.Command
	}{
		{"git-upload-pack 'alice/repo.git'", sshd.Command{Name: sshd.CmdUploadPack, Path: "alice/repo.git"}},
		{"git-upload-pack '/alice/repo.git'", sshd.Command{Name: sshd.CmdUploadPack, Path: "/alice/repo.git"}},
		{"git-receive-pack 'alice/repo'", sshd.Command{Name: sshd.CmdReceivePack, Path: "alice/repo"}},
		{"git upload-pack 'alice/repo'", sshd.Command{Name: sshd.CmdUploadPack, Path: "alice/repo"}},
		{"git receive-pack alice/repo", sshd.Command{Name: sshd.CmdReceivePack, Path: "alice/repo"}},
		{"git-upload-archive 'alice/repo'", sshd.Command{Name: sshd.CmdUploadArchive, Path: "alice/repo"}},
		{`git-upload-pack "alice/repo"`, sshd.Command{Name: sshd.CmdUploadPack, Path: "alice/repo"}},
		{`git-upload-pack 'it'\''s/x'`, sshd.Command{Name: sshd.CmdUploadPack, Path: "it's/x"}},
		{"  git-upload-pack\t'a/b'  ", sshd.Command{Name: sshd.CmdUploadPack, Path: "a/b"}},
		{"git-lfs-transfer /alice/repo.git upload", sshd.Command{Name: sshd.CmdLFSTransfer, Path: "/alice/repo.git", Operation: "upload"}},
		{"git-lfs-transfer 'alice/repo' download", sshd.Command{Name: sshd.CmdLFSTransfer, Path: "alice/repo", Operation: "download"}},
		{"git-lfs-authenticate alice/repo download", sshd.Command{Name: sshd.CmdLFSAuthenticate, Path: "alice/repo", Operation: "download"}},
		{"whoami", sshd.Command{Name: "whoami"}},
		{"help", sshd.Command{Name: "help"}},
		{"login", sshd.Command{Name: "login"}},
		{"repo list", sshd.Command{Name: "repo list"}},
		{"repo list --json", sshd.Command{Name: "repo list", Args: []string{"--json"}}},
		{"keys list", sshd.Command{Name: "keys list", Args: []string{}}},
		{"repo set 'a/b' --description 'two words' --json", sshd.Command{Name: "repo set", Args: []string{"a/b", "--description", "two words", "--json"}}},
		{"token rm 3", sshd.Command{Name: "token rm", Args: []string{"3"}}},
	}
	for _, tt := range ok {
		got, err := sshd.ParseCommand(tt.raw)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", tt.raw, got, err, tt.want)
		}
	}
	bad := []string{
		"", "   ", "ls", "sh -c id", "git-upload-pack", "git-upload-pack a b",
		"git-upload-pack 'a/b", `git-upload-pack "a/b`, "git-upload-pack a/b\\",
		"git-upload-pack 'a/\x00b'", "git-upload-pack a/b\nrm -rf /", "whoami now", "login admin",
		"repo", "repo frob x", "repo list x", "keys", "keys ls", "token", "git status", "git-upload-pack\x00 a/b", "scp -t /",
		"git-shell -c id", string(make([]byte, 5000)),
		"git-lfs-transfer", "git-lfs-transfer a/b", "git-lfs-transfer a/b upload extra", "git-lfs-transfer '' upload",
	}
	for _, raw := range bad {
		if got, err := sshd.ParseCommand(raw); err == nil {
			t.Errorf("ParseCommand(%q) = %+v, want error", raw, got)
		}
	}
}
