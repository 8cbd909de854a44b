package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// maxConfigFile bounds what --config reads.
const maxConfigFile = 1 << 20

// A configuration file (--config FILE) holds serve's flags, one a line,
// as "name = value" with the flag's name without its dashes:
//
//	# comment
//	ssh-addr = ":22"
//	allow-cidr = 10.0.0.0/8
//	allow-cidr = 192.168.0.0/16    (a repeatable flag, repeated)
//	anon-read = true
//
// A value may be double-quoted (Go's escapes), which keeps a '#' or
// leading and trailing spaces; unquoted, a '#' after a space starts a
// comment. The file gives defaults: a flag set in the environment
// (GATEHOUSE_*) or on the command line replaces the file's values for
// that flag, repeatable ones included.

// configLine is one "name = value" of a configuration file.
type configLine struct {
	n           int // line number
	name, value string
}

// readConfig parses the configuration file at path.
func readConfig(path string) ([]configLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	if len(b) > maxConfigFile {
		return nil, fmt.Errorf("--config %s: larger than %d bytes", path, maxConfigFile)
	}
	var out []configLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, maxConfigFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" {
			return nil, fmt.Errorf("--config %s:%d: want name = value", path, n)
		}
		if strings.HasPrefix(value, `"`) {
			q, err := strconv.QuotedPrefix(value)
			if err != nil {
				return nil, fmt.Errorf("--config %s:%d: %s: bad quoted value", path, n, name)
			}
			if rest := strings.TrimSpace(value[len(q):]); rest != "" && rest[0] != '#' {
				return nil, fmt.Errorf("--config %s:%d: %s: text after the quoted value", path, n, name)
			}
			value, _ = strconv.Unquote(q)
		} else if i := strings.Index(value, " #"); i >= 0 {
			value = strings.TrimSpace(value[:i])
		}
		out = append(out, configLine{n: n, name: name, value: value})
	}
	return out, sc.Err()
}

// applyConfig sets the flags of fs the file at path names, except those
// already set (from the environment or the command line). only, when
// not nil, lists the names taken from the file, if fs has them; the
// others are passed over (an admin command takes a serve configuration's
// --data and little else). Otherwise a name unknown to fs is an error.
func applyConfig(fs *flag.FlagSet, path string, only []string) error {
	lines, err := readConfig(path)
	if err != nil {
		return err
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, l := range lines {
		if only != nil && (!slices.Contains(only, l.name) || fs.Lookup(l.name) == nil) {
			continue
		}
		if l.name == "config" || fs.Lookup(l.name) == nil {
			return fmt.Errorf("--config %s:%d: unknown setting %q (settings are serve's flag names)", path, l.n, l.name)
		}
		if set[l.name] {
			continue
		}
		if err := fs.Set(l.name, l.value); err != nil {
			return fmt.Errorf("--config %s:%d: %s: %v", path, l.n, l.name, err)
		}
	}
	return nil
}

// FlagNames lists serve's flags, as a configuration file names them.
func FlagNames() []string {
	fs, _ := NewMain().flagSet()
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "config" {
			names = append(names, f.Name)
		}
	})
	return names
}
