package sshd

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/gliderlabs/ssh"
)

// testSession is the little of an ssh.Session the middleware after
// identify use.
type testSession struct {
	ssh.Session
	raw            string
	stdout, stderr bytes.Buffer
}

func (t *testSession) RawCommand() string          { return t.raw }
func (t *testSession) Write(p []byte) (int, error) { return t.stdout.Write(p) }
func (t *testSession) Stderr() io.ReadWriter       { return &t.stderr }
func (t *testSession) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000}
}

// countingObserver records the limit refusals reported to it.
type countingObserver struct {
	noObserver
	limits []string
}

func (o *countingObserver) LimitRefused(limit string) { o.limits = append(o.limits, limit) }

func newTestSession(raw string) (*session, *testSession) {
	ts := &testSession{raw: raw}
	return &session{Session: ts, log: slog.New(slog.DiscardHandler)}, ts
}

// Each middleware answers what is its own and passes the rest on.
func TestParseCommandMiddleware(t *testing.T) {
	s := &Server{Logger: slog.New(slog.DiscardHandler)}
	tests := []struct {
		name, raw      string
		code           int
		passed         bool // reached next
		stdout, stderr string
	}{
		{"shell", "", exitError, false, "", "does not provide shell access"},
		{"unknown", "ls", exitError, false, "", `ERROR: unknown command "ls" (try "help")`},
		{"whoami", "whoami", exitOK, false, "anonymous\n", ""},
		{"help", "help", exitOK, false, "Gatehouse answers these commands", ""},
		{"git", "git-upload-pack 'a/b'", 7, true, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			se, ts := newTestSession(tt.raw)
			passed := false
			code := s.parseCommand(func(ctx context.Context, se *session) int {
				passed = true
				if se.cmd.Name != CmdUploadPack || se.cmd.Path != "a/b" {
					t.Errorf("next got %+v", se.cmd)
				}
				return 7
			})(context.Background(), se)
			if code != tt.code || passed != tt.passed {
				t.Errorf("code %d, passed %v; want %d, %v", code, passed, tt.code, tt.passed)
			}
			if !strings.Contains(ts.stdout.String(), tt.stdout) || !strings.Contains(ts.stderr.String(), tt.stderr) {
				t.Errorf("stdout %q, stderr %q", ts.stdout.String(), ts.stderr.String())
			}
		})
	}
}

func TestLimitSessionsMiddleware(t *testing.T) {
	obs := &countingObserver{}
	s := &Server{Logger: slog.New(slog.DiscardHandler), Observer: obs, limits: newLimiter(0, 0, 0, 0, 1)}
	var inner *testSession
	var innerCode int
	outer, _ := newTestSession("whoami")
	// While one anonymous session from an address runs, a second one
	// from it is refused; once the first ends, its slot is free again.
	code := s.limitSessions(func(context.Context, *session) int {
		var se *session
		se, inner = newTestSession("whoami")
		innerCode = s.limitSessions(func(context.Context, *session) int {
			t.Error("second session let in")
			return exitOK
		})(context.Background(), se)
		if !se.refused {
			t.Error("refused session not marked refused")
		}
		return exitOK
	})(context.Background(), outer)
	if code != exitOK || innerCode != exitError {
		t.Errorf("codes %d, %d", code, innerCode)
	}
	if got := inner.stderr.String(); got != "ERROR: too many sessions per user; try again later\n" {
		t.Errorf("refused session was told %q", got)
	}
	if len(obs.limits) != 1 || obs.limits[0] != "sessions per user" {
		t.Errorf("observer saw %q", obs.limits)
	}
	if outer.refused {
		t.Error("admitted session marked refused")
	}
	again, _ := newTestSession("whoami")
	if code := s.limitSessions(func(context.Context, *session) int { return exitOK })(context.Background(), again); code != exitOK {
		t.Error("slot not released")
	}
}
