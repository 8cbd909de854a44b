package sshd

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestLimiterBan(t *testing.T) {
	now := time.Unix(1e9, 0)
	l := newLimiter(3, time.Minute, 2, 3, 2)
	l.now = func() time.Time { return now }
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for i := 1; i <= 3; i++ {
		if n, banned := l.fail(a); n != i || banned {
			t.Fatalf("failure %d: %d %v", i, n, banned)
		}
	}
	if _, banned := l.fail(a); !banned {
		t.Fatal("fourth failure did not ban")
	}
	if ok, _ := l.banned(a); !ok {
		t.Fatal("not banned")
	}
	if ok, _ := l.banned(b); ok {
		t.Fatal("neighbour banned")
	}
	now = now.Add(61 * time.Second)
	if ok, _ := l.banned(a); ok {
		t.Fatal("ban outlived its time")
	}
	// The window restarts: three more failures are within budget again.
	for i := 1; i <= 3; i++ {
		if _, banned := l.fail(a); banned {
			t.Fatalf("failure %d after the ban banned again", i)
		}
	}
	// Failures spread over more than a minute never add up to a ban.
	now = now.Add(2 * time.Minute)
	if n, _ := l.fail(a); n != 1 {
		t.Fatalf("window did not restart: %d", n)
	}
}

func TestLimiterConnsAndSessions(t *testing.T) {
	l := newLimiter(3, time.Minute, 2, 3, 2)
	a := netip.MustParseAddr("2001:db8::1")
	if !l.openConn(a) || !l.openConn(a) || l.openConn(a) {
		t.Fatal("connection limit 2 not applied")
	}
	l.closeConn(a)
	if !l.openConn(a) {
		t.Fatal("closed connection not released")
	}
	if l.openSession("alice") != "" || l.openSession("alice") != "" {
		t.Fatal("sessions refused under the limit")
	}
	if got := l.openSession("alice"); got != "sessions per user" {
		t.Fatalf("third session of alice: %q", got)
	}
	if l.openSession("bob") != "" {
		t.Fatal("bob refused")
	}
	if got := l.openSession("carol"); got != "sessions in all" {
		t.Fatalf("fourth session: %q", got)
	}
	l.closeSession("alice")
	l.closeSession("nobody") // never opened: no effect
	if l.openSession("carol") != "" {
		t.Fatal("released session not reusable")
	}
	if l.total != 3 {
		t.Fatalf("total %d", l.total)
	}
}

func TestAddrKey(t *testing.T) {
	tests := map[string]string{
		"192.0.2.1:22":              "192.0.2.1",
		"[::ffff:192.0.2.1]:22":     "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:22": "2001:db8:1:2::",
		"[2001:db8:1:2:ffff::1]:22": "2001:db8:1:2::",
		"[2001:db8:1:3::1]:22":      "2001:db8:1:3::",
	}
	for in, want := range tests {
		a, _ := net.ResolveTCPAddr("tcp", in)
		if got := addrKey(a).String(); got != want {
			t.Errorf("addrKey(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestReadProxyHeader(t *testing.T) {
	v2 := func(verCmd, fam byte, body []byte) string {
		h := append([]byte("\r\n\r\n\x00\r\nQUIT\n"), verCmd, fam, byte(len(body)>>8), byte(len(body)))
		return string(append(h, body...))
	}
	ip4 := []byte{203, 0, 113, 7, 10, 0, 0, 1, 0x9c, 0x41, 0x08, 0xae}
	ip6 := append(append(append([]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}, make([]byte, 16)...), 0x9c, 0x41), 0x08, 0xae)
	tests := []struct {
		name, in, want string // want "" means refused; "lb" means the balancer's address
	}{
		{"v1 tcp4", "PROXY TCP4 203.0.113.7 10.0.0.1 40001 2222\r\nSSH-2.0-x\r\n", "203.0.113.7:40001"},
		{"v1 tcp6", "PROXY TCP6 2001:db8::1 2001:db8::2 40001 2222\r\n", "[2001:db8::1]:40001"},
		{"v1 unknown", "PROXY UNKNOWN\r\n", "lb"},
		{"v1 family mismatch", "PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n", ""},
		{"v1 bad port", "PROXY TCP4 203.0.113.7 10.0.0.1 70000 2222\r\n", ""},
		{"v1 leading zero port", "PROXY TCP4 203.0.113.7 10.0.0.1 01 2222\r\n", ""},
		{"v1 no CRLF", "PROXY TCP4 203.0.113.7 10.0.0.1 1 2\n", ""},
		{"v1 too long", "PROXY TCP4 " + strings.Repeat("1", 200) + "\r\n", ""},
		{"v1 extra field", "PROXY TCP4 203.0.113.7 10.0.0.1 1 2 3\r\n", ""},
		{"v2 tcp4", v2(0x21, 0x11, ip4) + "SSH-2.0-x\r\n", "203.0.113.7:40001"},
		{"v2 tcp4 with TLV", v2(0x21, 0x11, append(ip4, 0x04, 0, 1, 'x')), "203.0.113.7:40001"},
		{"v2 tcp6", v2(0x21, 0x21, ip6), "[2001:db8::1]:40001"},
		{"v2 local", v2(0x20, 0x00, nil), "lb"},
		{"v2 short ipv4 block", v2(0x21, 0x11, ip4[:8]), ""},
		{"v2 udp", v2(0x21, 0x12, ip4), ""},
		{"v2 version 1", v2(0x11, 0x11, ip4), ""},
		{"v2 cut", v2(0x21, 0x11, ip4)[:20], ""},
		{"ssh without header", "SSH-2.0-OpenSSH_9.6\r\n", ""},
		{"empty", "", ""},
	}
	lb := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 9), Port: 5}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeConn{r: bufio.NewReader(strings.NewReader(tt.in)), remote: lb}
			pc, err := readProxyHeader(c, time.Second)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("accepted, remote %v", pc.RemoteAddr())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == "lb" {
				want = lb.String()
			}
			if got := pc.RemoteAddr().String(); got != want {
				t.Fatalf("remote %s, want %s", got, want)
			}
			// What follows the header is read on unchanged.
			rest := new(bytes.Buffer)
			rest.ReadFrom(pc)
			if strings.Contains(tt.in, "SSH-2.0-x") && rest.String() != "SSH-2.0-x\r\n" {
				t.Fatalf("after the header: %q", rest.String())
			}
		})
	}
}

type fakeConn struct {
	net.Conn
	r      *bufio.Reader
	remote net.Addr
}

func (c *fakeConn) Read(p []byte) (int, error)      { return c.r.Read(p) }
func (c *fakeConn) RemoteAddr() net.Addr            { return c.remote }
func (c *fakeConn) SetReadDeadline(time.Time) error { return nil }
func (c *fakeConn) Close() error                    { return nil }

func TestConnCountsRefusals(t *testing.T) {
	c := &connCounts{maxChannels: 2, maxRefusals: 20}
	if !c.openChannel() || !c.openChannel() || c.openChannel() {
		t.Fatal("channel limit 2 not applied")
	}
	c.closeChannel()
	if !c.openChannel() {
		t.Fatal("closed channel not released")
	}
	firsts := 0
	for i := range 20 {
		first, over, _ := c.refuse(fmt.Sprintf("env %d", i%10))
		if over {
			t.Fatalf("refusal %d over a budget of 20", i+1)
		}
		if first {
			firsts++
		}
	}
	if firsts != maxAuditedRefusals {
		t.Fatalf("%d refusals to audit, want %d", firsts, maxAuditedRefusals)
	}
	if _, over, crossed := c.refuse("x"); !over || !crossed {
		t.Fatal("21st refusal not over the budget")
	}
	if _, over, crossed := c.refuse("x"); !over || crossed {
		t.Fatal("22nd refusal crossed again")
	}

	now := time.Unix(1e9, 0)
	l := newLimiter(3, time.Minute, 2, 3, 2)
	l.now = func() time.Time { return now }
	a := netip.MustParseAddr("192.0.2.1")
	for i := range maxAuditedRefusals {
		if !l.auditRefusal(a) {
			t.Fatalf("refusal %d not audited", i+1)
		}
	}
	if l.auditRefusal(a) {
		t.Fatal("refusals past the quota audited")
	}
	now = now.Add(61 * time.Second)
	if !l.auditRefusal(a) {
		t.Fatal("quota did not restart after a minute")
	}
}
