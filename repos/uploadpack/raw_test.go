package uploadpack_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"gatehouse"
	"gatehouse/repos/pktline"
	"gatehouse/repos/uploadpack"
)

// rawConn is upload-pack run as a process, spoken to by hand.
type rawConn struct {
	t      *testing.T
	cmd    *exec.Cmd
	in     io.WriteCloser
	w      *pktline.Writer
	out    *bufio.Reader
	r      *pktline.Reader
	stderr bytes.Buffer
	cancel context.CancelFunc
}

// dial starts upload-pack on the repository and reads its advertisement,
// returning the advertised lines (capabilities cut off).
func (e *gitEnv) dial(repo string) (*rawConn, []string) {
	e.t.Helper()
	return e.dialEnv(repo)
}

// dialEnv is dial with extra environment (GIT_PROTOCOL).
func (e *gitEnv) dialEnv(repo string, env ...string) (*rawConn, []string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	c := &rawConn{t: e.t, cancel: cancel}
	c.cmd = exec.CommandContext(ctx, e.exe, e.path(repo))
	c.cmd.Env = e.environ(env...)
	c.cmd.Stderr = &c.stderr
	var err error
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		e.t.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.in.Close(); cancel(); c.cmd.Wait() })
	c.w = pktline.NewWriter(c.in)
	c.out = bufio.NewReader(stdout)
	c.r = pktline.NewReader(c.out)
	var adv []string
	for {
		kind, line := c.read()
		if kind == pktline.FlushPkt {
			return c, adv
		}
		line, _, _ = strings.Cut(line, "\x00")
		adv = append(adv, line)
	}
}

// read reads one pkt-line and fails the test on error.
func (c *rawConn) read() (pktline.Kind, string) {
	c.t.Helper()
	kind, line, err := c.r.ReadLine()
	if err != nil {
		c.t.Fatalf("read: %v; stderr: %s", err, c.stderr.String())
	}
	return kind, line
}

// send writes lines; "" stands for a flush.
func (c *rawConn) send(lines ...string) {
	c.t.Helper()
	for _, l := range lines {
		if l == "" {
			c.w.Flush()
		} else {
			c.w.WriteString(l + "\n")
		}
	}
	if err := c.w.Err(); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// wait closes the input and waits for the process; it returns its error.
func (c *rawConn) wait() error {
	c.in.Close()
	io.Copy(io.Discard, c.out)
	return c.cmd.Wait()
}

// rawRefs builds a server and returns the id of main and of a blob that
// no ref points at.
func rawRefs(e *gitEnv) (main, blob string) {
	e.newServer()
	e.commit("work", "second.txt", "2\n")
	e.git("work", "push", "-q", "origin", "main")
	main = strings.TrimSpace(e.git("server.git", "rev-parse", "main"))
	blob = strings.TrimSpace(e.git("server.git", "rev-parse", "main:README"))
	return main, blob
}

// TestWantNotReachable: objects no ref reaches are refused like objects
// that do not exist; reachable ones that are not tips are served
// (allow-reachable-sha1-in-want, TestPartialClone).
func TestWantNotReachable(t *testing.T) {
	e := newGitEnv(t)
	main, _ := rawRefs(e)
	if err := os.WriteFile(e.path("dangling.txt"), []byte("no ref reaches this\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dangling := strings.TrimSpace(e.git("server.git", "hash-object", "-w", e.path("dangling.txt")))
	for _, id := range []string{dangling, strings.Repeat("1", 40)} {
		c, _ := e.dial("server.git")
		c.send("want "+main+" side-band-64k ofs-delta", "want "+id, "")
		_, line := c.read()
		if want := "ERR upload-pack: not our ref " + id; line != want {
			t.Errorf("got %q, want %q", line, want)
		}
		if err := c.wait(); err == nil {
			t.Errorf("upload-pack succeeded after refusing a want")
		}
		if got := e.takeResults(); len(got) != 1 || !strings.Contains(got[0], "invalid") {
			t.Errorf("Serve returned %q, want an ErrInvalid", got)
		}
	}
}

func TestGarbage(t *testing.T) {
	e := newGitEnv(t)
	main, _ := rawRefs(e)
	for _, tc := range []struct {
		name, input, err string
	}{
		{"not pkt-lines", "garbage garbage\n", "ERR upload-pack: protocol error: bad line length"},
		{"not a want", "0010hello world\n", "ERR upload-pack: protocol error: expected to get object ID"},
		{"short id", "000fwant 1234\n0000", "ERR upload-pack: protocol error: expected to get object ID"},
		{"bad have", pkt("want "+main) + "0000" + pkt("have xyz"), "ERR upload-pack: expected SHA1 object"},
		{"not a have", pkt("want "+main) + "0000" + pkt("fetch please"), "ERR upload-pack: expected SHA1 list"},
		{"cut in a line", pkt("want "+main) + "0000" + "0032have ", ""},
		{"hang up in haves", pkt("want "+main) + "0000", ""},
		{"hang up in wants", pkt("want " + main), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := e.dial("server.git")
			io.WriteString(c.in, tc.input)
			c.in.Close()
			var got string
			for {
				_, line, err := c.r.ReadLine()
				if err != nil {
					break
				}
				if strings.HasPrefix(line, "ERR ") {
					got = line
				}
			}
			if !strings.HasPrefix(got, tc.err) || (tc.err == "" && got != "") {
				t.Errorf("got %q, want an error starting %q", got, tc.err)
			}
			if err := c.wait(); err == nil {
				t.Errorf("upload-pack succeeded on bad input")
			}
			if got := e.takeResults(); len(got) != 1 || got[0] == "ok" {
				t.Errorf("Serve returned %q, want an error", got)
			}
		})
	}
}

func pkt(s string) string { return fmt.Sprintf("%04x%s\n", len(s)+5, s) }

// A client without side-band gets the bare pack after the NAK; with
// no-done it gets the pack as soon as we are ready.
func TestRawModes(t *testing.T) {
	e := newGitEnv(t)
	main, _ := rawRefs(e)
	parent := strings.TrimSpace(e.git("server.git", "rev-parse", "main~1"))

	t.Run("no side-band", func(t *testing.T) {
		c, _ := e.dial("server.git")
		c.send("want "+main+" ofs-delta", "", "done")
		if _, line := c.read(); line != "NAK" {
			t.Fatalf("got %q, want NAK", line)
		}
		rest, _ := io.ReadAll(c.out)
		if !bytes.HasPrefix(rest, []byte("PACK")) {
			t.Errorf("no bare pack after NAK: %.20q", rest)
		}
		if err := c.wait(); err != nil {
			t.Errorf("upload-pack: %v: %s", err, c.stderr.String())
		}
	})

	t.Run("side-band no-done", func(t *testing.T) {
		c, _ := e.dial("server.git")
		c.send("want "+main+" multi_ack_detailed no-done side-band no-progress", "", "have "+parent, "")
		for _, want := range []string{"ACK " + parent + " common", "ACK " + parent + " ready", "NAK", "ACK " + parent} {
			if _, line := c.read(); line != want {
				t.Fatalf("got %q, want %q", line, want)
			}
		}
		var pack []byte
		for {
			kind, b, err := c.r.Read()
			if err != nil {
				t.Fatalf("read pack: %v", err)
			}
			if kind == pktline.FlushPkt {
				break
			}
			if len(b)+4 > 1000 {
				t.Errorf("side-band packet of %d bytes", len(b)+4)
			}
			if b[0] != pktline.BandData {
				t.Errorf("band %d with no-progress: %q", b[0], b[1:])
			}
			pack = append(pack, b[1:]...)
		}
		if !bytes.HasPrefix(pack, []byte("PACK")) {
			t.Errorf("no pack: %.20q", pack)
		}
		// commit, tree, blob: the client has the rest.
		if n := int(pack[8])<<24 | int(pack[9])<<16 | int(pack[10])<<8 | int(pack[11]); n != 3 {
			t.Errorf("pack holds %d objects, want 3", n)
		}
		if err := c.wait(); err != nil {
			t.Errorf("upload-pack: %v: %s", err, c.stderr.String())
		}
	})

	t.Run("single ack", func(t *testing.T) {
		c, _ := e.dial("server.git")
		c.send("want "+main, "", "have "+strings.Repeat("2", 40), "have "+parent, "have "+parent, "", "done")
		for _, want := range []string{"ACK " + parent, "ACK " + parent} {
			if _, line := c.read(); line != want {
				t.Fatalf("got %q, want %q", line, want)
			}
		}
		rest, _ := io.ReadAll(c.out)
		if !bytes.HasPrefix(rest, []byte("PACK")) {
			t.Errorf("no bare pack: %.20q", rest)
		}
		c.wait()
	})

	t.Run("no wants", func(t *testing.T) {
		c, _ := e.dial("server.git")
		c.send("")
		if err := c.wait(); err != nil {
			t.Errorf("upload-pack: %v: %s", err, c.stderr.String())
		}
	})
	e.takeResults()
}

// Serve gives up when its context ends, even while blocked reading.
func TestCancel(t *testing.T) {
	e := newGitEnv(t)
	rawRefs(e)
	ctx, cancel := context.WithCancel(context.Background())
	inR, inW := io.Pipe()
	defer inW.Close()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- uploadpack.Serve(ctx, e.path("server.git"), inR, outW, uploadpack.Options{}) }()
	r := pktline.NewReader(outR)
	for {
		kind, _, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		if kind == pktline.FlushPkt {
			break
		}
	}
	inW.Write([]byte(pkt("want " + strings.Repeat("3", 40))))
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Serve returned %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

func TestNotARepository(t *testing.T) {
	var out bytes.Buffer
	err := uploadpack.Serve(context.Background(), t.TempDir(), strings.NewReader(""), &out, uploadpack.Options{})
	if err == nil || errors.Is(err, gatehouse.ErrInvalid) {
		t.Errorf("Serve on an empty folder returned %v", err)
	}
	if !strings.Contains(out.String(), "ERR ") {
		t.Errorf("client was not told: %q", out.String())
	}
}
