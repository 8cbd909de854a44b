package uploadpack_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/repos/pktline"
	"gatehouse/repos/uploadpack"
)

// serveScript runs Serve in this process on the whole client input in
// (pkt-lines written out in advance) and returns what it wrote.
func serveScript(t *testing.T, dir, protocol, in string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := uploadpack.Serve(ctx, dir, strings.NewReader(in), &out, uploadpack.Options{Protocol: protocol})
	return out.Bytes(), err
}

// script turns lines into client input: "0000" is a flush, "0001" a
// delimiter, anything else a line.
func script(lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		if l == "0000" || l == "0001" {
			b.WriteString(l)
			continue
		}
		fmt.Fprintf(&b, "%04x%s\n", len(l)+5, l)
	}
	return b.String()
}

// splitV0 reads a v0 answer to a request without side-band that said
// "done": the advertisement, then the shallow section if any, then NAK
// or ACK and the bare pack. It returns the lines after the advertisement
// and the pack.
func splitV0(t *testing.T, out []byte) (lines []string, pack []byte) {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(out))
	r := pktline.NewReader(br)
	for adv := true; ; {
		kind, line, err := r.ReadLine()
		if err != nil {
			t.Fatalf("reading the answer: %v (after %q)", err, lines)
		}
		if adv {
			adv = kind != pktline.FlushPkt
			continue
		}
		if kind != pktline.Data {
			continue
		}
		if strings.HasPrefix(line, "ERR ") {
			t.Fatalf("upload-pack said %q", line)
		}
		lines = append(lines, line)
		if line == "NAK" || strings.HasPrefix(line, "ACK ") {
			break
		}
	}
	pack, _ = io.ReadAll(br)
	return lines, pack
}

// splitV2 reads a v2 fetch answer: the sections before the pack, then
// the pack from side-band channel 1.
func splitV2(t *testing.T, out []byte) (lines []string, pack []byte) {
	t.Helper()
	r := pktline.NewReader(bufio.NewReader(bytes.NewReader(out)))
	inPack := false
	for {
		kind, b, err := r.Read()
		if err != nil {
			t.Fatalf("reading the answer: %v (after %q)", err, lines)
		}
		switch {
		case kind == pktline.FlushPkt && inPack:
			return lines, pack
		case kind != pktline.Data:
		case inPack && b[0] == pktline.BandData:
			pack = append(pack, b[1:]...)
		case inPack && b[0] == pktline.BandError:
			t.Fatalf("upload-pack said %q", b[1:])
		case inPack:
		default:
			line := strings.TrimSuffix(string(b), "\n")
			if strings.HasPrefix(line, "ERR ") {
				t.Fatalf("upload-pack said %q", line)
			}
			lines = append(lines, line)
			inPack = line == "packfile"
		}
	}
}

// command is git in dir (relative to the sandbox), in the sandbox's
// environment, to be run by the caller.
func (e *gitEnv) command(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("git", args...)
	cmd.Dir = e.path(dir)
	cmd.Env = e.environ()
	return cmd
}

// packObjects indexes pack with git and returns the ids it holds.
func packObjects(t *testing.T, e *gitEnv, pack []byte) []string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "got.pack")
	if err := os.WriteFile(p, pack, 0o644); err != nil {
		t.Fatal(err)
	}
	idx := filepath.Join(dir, "got.idx")
	if _, errOut, err := e.run("", nil, "index-pack", "-o", idx, p); err != nil {
		t.Fatalf("index-pack: %v\n%s", err, errOut)
	}
	f, err := os.Open(idx)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := e.command("", "show-index")
	cmd.Stdin = f
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("show-index: %v", err)
	}
	var ids []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(l); len(f) >= 2 {
			ids = append(ids, f[1])
		}
	}
	return ids
}

// TestShallowLineOpensNothing: a client's shallow line naming a commit
// no ref reaches any more (history force-pushed away) must not make its
// parents, their trees and blobs part of the pack, whether the client
// asks to unshallow (deepen 2147483647), to deepen relative to it or
// any other deepening. Only what the wants reach is sent; the client's
// genuine shallow commit, sent alongside, is deepened as asked.
func TestShallowLineOpensNothing(t *testing.T) {
	e := newGitEnv(t)
	e.newServer()
	// secret adds a file, hide removes it again, and both are pushed,
	// then forced away: hide is the commit the client names, secret the
	// one behind it.
	e.commit("work", "secret.txt", "the password is hunter2\n")
	secret := strings.TrimSpace(e.git("work", "rev-parse", "HEAD"))
	secretBlob := strings.TrimSpace(e.git("work", "rev-parse", "HEAD:secret.txt"))
	e.git("work", "rm", "-q", "secret.txt")
	e.git("work", "commit", "-q", "-m", "hide")
	hide := strings.TrimSpace(e.git("work", "rev-parse", "HEAD"))
	e.git("work", "push", "-q", "origin", "main")
	e.git("work", "reset", "-q", "--hard", "HEAD~2")
	e.commit("work", "public.txt", "public\n")
	e.git("work", "push", "-q", "-f", "origin", "main")
	tip := strings.TrimSpace(e.git("work", "rev-parse", "HEAD"))
	base := strings.TrimSpace(e.git("work", "rev-parse", "HEAD~1"))
	if out := e.git("server.git", "cat-file", "-t", secretBlob); strings.TrimSpace(out) != "blob" {
		t.Fatalf("the server lost the secret blob: %q", out)
	}
	server := e.path("server.git")

	for _, deepen := range [][]string{
		{"deepen 2147483647"},
		{"deepen 1", "deepen-relative"},
		{"deepen 5", "deepen-relative"},
		{"deepen 3"},
		{"deepen-since 1"},
	} {
		for _, proto := range protocols {
			name := "v" + proto + " " + strings.Join(deepen, " ")
			t.Run(name, func(t *testing.T) {
				var in, protocol string
				if proto == "2" {
					protocol = "version=2"
					lines := []string{"command=fetch", "0001", "want " + tip, "shallow " + tip, "shallow " + hide}
					lines = append(lines, deepen...)
					in = script(append(lines, "no-progress", "done", "0000")...)
				} else {
					lines := []string{"want " + tip + " ofs-delta no-progress", "shallow " + tip, "shallow " + hide}
					lines = append(lines, deepen...)
					in = script(append(lines, "0000", "done")...)
				}
				out, err := serveScript(t, server, protocol, in)
				if err != nil {
					t.Fatalf("Serve: %v\n%q", err, out)
				}
				var lines []string
				var pack []byte
				if proto == "2" {
					lines, pack = splitV2(t, out)
				} else {
					lines, pack = splitV0(t, out)
				}
				if slices.Contains(lines, "unshallow "+hide) {
					t.Errorf("a commit no ref reaches was unshallowed: %q", lines)
				}
				ids := packObjects(t, e, pack)
				if len(ids) == 0 {
					t.Fatalf("empty pack")
				}
				for _, id := range []string{secret, secretBlob, hide} {
					if slices.Contains(ids, id) {
						t.Errorf("the pack holds %s, which no ref reaches", id)
					}
				}
				// The client is shallow at tip: its parent is what it lacks.
				if !slices.Contains(lines, "unshallow "+tip) {
					t.Errorf("the client's own shallow commit was not lifted: %q", lines)
				}
				if !slices.Contains(ids, base) {
					t.Errorf("the pack lacks %s, the parent of the lifted commit", base)
				}
			})
		}
	}
}
