package sshd

import (
	"fmt"
	"strings"
)

// maxCommandLen bounds the exec request we are willing to parse.
const maxCommandLen = 4096

// Command is a parsed SSH exec request.
type Command struct {
	// Name is the canonical command: "git-upload-pack", "git-receive-pack",
	// "git-upload-archive", "whoami", "help", "login", "repo list".
	Name string
	// Path is the repository argument of a Git command, as the client sent it.
	Path string
	// Operation is the second argument of the Git LFS commands.
	Operation string
	// Args are the words after a self-service command's name ("keys
	// add", "repo set", ...; see selfCommands), checked where it is served.
	Args []string
}

// Git service names.
const (
	CmdUploadPack    = "git-upload-pack"
	CmdReceivePack   = "git-receive-pack"
	CmdUploadArchive = "git-upload-archive"
	// Git LFS: the pure SSH transfer (see lfs.go), and the command
	// clients use to find an HTTP endpoint, which is answered with a
	// message.
	CmdLFSTransfer     = "git-lfs-transfer"
	CmdLFSAuthenticate = "git-lfs-authenticate"
)

// ParseCommand reads an exec request as git and people send it:
// `git-upload-pack 'owner/name.git'` (also `git upload-pack ...`), with the
// argument quoted the way git quotes it for the shell, or a text command.
// It never touches the disk; the path is checked later. Errors are safe to
// show to the client.
func ParseCommand(raw string) (Command, error) {
	if len(raw) > maxCommandLen {
		return Command{}, fmt.Errorf("command too long")
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return Command{}, fmt.Errorf("control character in command")
		}
	}
	words, err := splitWords(raw)
	if err != nil {
		return Command{}, err
	}
	if len(words) >= 2 && words[0] == "git" {
		switch words[1] {
		case "upload-pack", "receive-pack", "upload-archive":
			words = append([]string{"git-" + words[1]}, words[2:]...)
		}
	}
	if len(words) == 0 {
		return Command{}, fmt.Errorf("empty command")
	}
	switch words[0] {
	case CmdUploadPack, CmdReceivePack, CmdUploadArchive:
		// An empty quoted argument ('') is no repository either; found
		// by FuzzParseCommand (testdata/fuzz/FuzzParseCommand).
		if len(words) != 2 || words[1] == "" {
			return Command{}, fmt.Errorf("%s takes exactly one repository argument", words[0])
		}
		return Command{Name: words[0], Path: words[1]}, nil
	case CmdLFSTransfer, CmdLFSAuthenticate:
		// The operation is checked where the command is served.
		if len(words) != 3 || words[1] == "" {
			return Command{}, fmt.Errorf("usage: %s OWNER/NAME upload|download", words[0])
		}
		return Command{Name: words[0], Path: words[1], Operation: words[2]}, nil
	case cmdStepUpVerify:
		return parseStepUpVerify(words)
	case "whoami", "help", "login":
		if len(words) != 1 {
			return Command{}, fmt.Errorf("%s takes no arguments", words[0])
		}
		return Command{Name: words[0]}, nil
	case "repo", "keys", "token":
		if len(words) >= 2 && words[0] == "repo" && words[1] == "list" {
			switch {
			case len(words) == 2:
				return Command{Name: "repo list"}, nil
			case len(words) == 3 && words[2] == "--json":
				return Command{Name: "repo list", Args: words[2:]}, nil
			}
			return Command{}, fmt.Errorf("usage: repo list [--json]")
		}
		if len(words) >= 2 {
			name := words[0] + " " + words[1]
			if _, ok := findSelfCommand(name); ok {
				return Command{Name: name, Args: words[2:]}, nil
			}
		}
		return Command{}, fmt.Errorf("usage: %s", selfUsage(words[0]))
	}
	return Command{}, fmt.Errorf("unknown command %q", truncate(words[0], 64))
}

// splitWords splits like a POSIX shell would for the quoting git uses:
// single quotes (a quote inside is written quote, backslash, quote, quote), double quotes with
// backslash escapes, and plain backslash escapes. The caller has refused
// control characters already.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated quote in command")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inWord = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated quote in command")
			}
		case c == '\\':
			inWord = true
			if i+1 >= len(s) {
				return nil, fmt.Errorf("trailing backslash in command")
			}
			i++
			cur.WriteByte(s[i])
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
