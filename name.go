package gatehouse

import (
	"fmt"
	"strings"
)

// MaxNameLen is the longest user, organization or repository name.
const MaxNameLen = 39

// ValidateName checks a user or repository name: [a-z0-9][a-z0-9._-]{0,38}.
// Names that git or a file system treats specially ("." prefixes are already
// excluded; ".git" suffixes and "*.lock" are refused) are rejected too.
// The error wraps ErrInvalid.
func ValidateName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("name %q must be 1 to %d characters: %w", name, MaxNameLen, ErrInvalid)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return fmt.Errorf("name %q must match [a-z0-9][a-z0-9._-]{0,38}: %w", name, ErrInvalid)
		}
	}
	if strings.HasSuffix(name, ".git") || strings.HasSuffix(name, ".lock") || strings.Contains(name, "..") {
		return fmt.Errorf("name %q may not end in .git or .lock or contain \"..\": %w", name, ErrInvalid)
	}
	return nil
}

// ParseRepoPath turns what a client asks for ("/owner/name.git",
// "~owner/name", "owner/name") into owner and name. Any number of leading
// slashes is one: ssh://host//owner/name.git sends "//owner/name.git", and
// other Git hosts accept it. Anything else, including extra segments, "..",
// NUL or other odd bytes, is ErrInvalid; nothing here touches the disk.
func ParseRepoPath(p string) (owner, name string, err error) {
	orig := p
	p = strings.TrimLeft(p, "/")
	p = strings.TrimPrefix(p, "~")
	p = strings.TrimSuffix(p, "/")
	p = strings.TrimSuffix(p, ".git")
	owner, name, ok := strings.Cut(p, "/")
	if !ok || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("repository path %q must be OWNER/NAME: %w", orig, ErrInvalid)
	}
	if ValidateName(owner) != nil || ValidateName(name) != nil {
		return "", "", fmt.Errorf("repository path %q must be OWNER/NAME: %w", orig, ErrInvalid)
	}
	return owner, name, nil
}
