package main_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// closedWithin reports whether the server closes c's connection within
// ten seconds.
func closedWithin(c *gossh.Client) bool {
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(10 * time.Second):
		c.Close()
		return false
	}
}

// floodUntilClosed runs flood and reports whether the server closed c's
// connection, by the time flood ended or within ten seconds after. It
// does not wait for a flood the closing left stuck: x/crypto's
// OpenChannel waits forever for its answer when the connection closes
// just as the request goes out (the channel is registered after the
// client dropped all of them), so such a goroutine is left behind.
func floodUntilClosed(c *gossh.Client, flood func()) bool {
	closed := make(chan struct{})
	go func() { c.Wait(); close(closed) }()
	done := make(chan struct{})
	go func() { flood(); close(done) }()
	select {
	case <-closed:
		return true
	case <-done:
	}
	select {
	case <-closed:
		return true
	case <-time.After(10 * time.Second):
		c.Close()
		return false
	}
}

// dialSession logs in as k and opens one session channel; the
// connection is closed when the test ends.
func dialSession(t *testing.T, s *Server, k *Key) (*gossh.Client, gossh.Channel) {
	t.Helper()
	c, err := s.dial(t, gossh.PublicKeys(k.Signer))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ch, reqs, err := c.OpenChannel("session", nil)
	if err != nil {
		t.Fatal(err)
	}
	go gossh.DiscardRequests(reqs)
	return c, ch
}

// Session channels count from their opening, before any command: the
// eleventh open one is rejected, a closed one frees its slot, and a
// client that goes on opening is disconnected.
func TestLimitChannelsPerConn(t *testing.T) {
	s := MustRunMain(t)
	alice := s.User("alice")
	c, err := s.dial(t, gossh.PublicKeys(alice.Signer))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var open []gossh.Channel
	for i := range 10 {
		ch, reqs, err := c.OpenChannel("session", nil)
		if err != nil {
			t.Fatalf("channel %d: %v", i+1, err)
		}
		go gossh.DiscardRequests(reqs)
		open = append(open, ch)
	}
	_, _, err = c.OpenChannel("session", nil)
	var oce *gossh.OpenChannelError
	if !errors.As(err, &oce) || oce.Reason != gossh.ResourceShortage {
		t.Fatalf("11th channel: %v, want resource shortage", err)
	}
	// A closed channel frees its slot once the server has closed its side.
	open[0].Close()
	waitFor(t, func() bool {
		ch, reqs, err := c.OpenChannel("session", nil)
		if err != nil {
			return false
		}
		go gossh.DiscardRequests(reqs)
		open[0] = ch
		return true
	}, "closed channel did not free its slot")

	// Opening on and on: every one is refused, and the connection closed.
	var refused atomic.Int64
	closed := floodUntilClosed(c, func() {
		var oce *gossh.OpenChannelError
		for refused.Load() < 100_000 {
			if _, _, err := c.OpenChannel("session", nil); !errors.As(err, &oce) {
				return
			}
			refused.Add(1)
		}
	})
	if n := refused.Load(); n > 200 || !closed {
		t.Fatalf("connection still open after %d refused channels", n)
	}
	audit := s.MustCLI("audit", "--limit", "1000")
	if n := strings.Count(audit, "ssh channel session: more than 10 open"); n != 1 {
		t.Errorf("%d audit entries for the refused channels, want 1:\n%s", n, audit)
	}
	if !strings.Contains(audit, "refusals-per-conn") {
		t.Errorf("audit lacks the closed connection:\n%s", audit)
	}
	// The server is still there for others.
	if out, _, code := s.SSH(alice, nil, "whoami"); code != 0 || strings.TrimSpace(out) != "alice" {
		t.Fatalf("whoami after the flood: %d %q", code, out)
	}
}

// A client that makes up a new name for each refused request (env
// variables, global requests, channel types) cannot fill the audit log:
// a few entries for the connection, then it is closed.
func TestLimitRefusalsPerConn(t *testing.T) {
	s := MustRunMain(t)
	c, ch := dialSession(t, s, s.User("alice"))
	var sent atomic.Int64
	closed := floodUntilClosed(c, func() {
		for i := range 6000 {
			var err error
			switch i % 3 {
			case 0:
				_, err = ch.SendRequest("env", false, gossh.Marshal(struct{ Key, Value string }{fmt.Sprintf("VAR_%d", i), "x"}))
			case 1:
				_, _, err = c.SendRequest(fmt.Sprintf("flood-%d@example.com", i), false, nil)
			case 2:
				var ch gossh.Channel
				if ch, _, err = c.OpenChannel(fmt.Sprintf("flood-%d@example.com", i), nil); err == nil {
					ch.Close()
				} else if errors.As(err, new(*gossh.OpenChannelError)) {
					err = nil
				}
			}
			if err != nil {
				return
			}
			sent.Add(1)
		}
	})
	if !closed {
		t.Fatalf("connection still open after %d refused requests", sent.Load())
	}
	audit := s.MustCLI("audit", "--limit", "1000")
	rows := 0
	for _, line := range strings.Split(audit, "\n") {
		if strings.Contains(line, "flood-") || strings.Contains(line, "VAR_") || strings.Contains(line, "refusals-per-conn") {
			rows++
		}
	}
	if rows > 10 || !strings.Contains(audit, "refusals-per-conn") {
		t.Fatalf("%d audit entries for one flooding connection (sent %d):\n%s", rows, sent.Load(), audit)
	}
}

// The one variable a session may set, GIT_PROTOCOL, is taken once: a
// client repeating it before its command is refused, then disconnected,
// instead of having every copy kept.
func TestLimitRepeatedEnv(t *testing.T) {
	s := MustRunMain(t)
	c, ch := dialSession(t, s, s.User("alice"))
	env := gossh.Marshal(struct{ Key, Value string }{"GIT_PROTOCOL", "version=2"})
	if ok, err := ch.SendRequest("env", true, env); err != nil || !ok {
		t.Fatalf("first GIT_PROTOCOL: %v %v", ok, err)
	}
	sent := 1
	for ; sent < 10_000; sent++ {
		if _, err := ch.SendRequest("env", false, env); err != nil {
			break
		}
	}
	if !closedWithin(c) {
		t.Fatalf("connection still open after %d GIT_PROTOCOL requests", sent)
	}
}
