package main_test

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	main "gatehouse/cmd/gatehouse"
)

// proxyV2 builds a version 2 PROXY header for a TCP4 client src:port.
func proxyV2(src string, port uint16) []byte {
	ip := netip.MustParseAddr(src).As4()
	b := append([]byte("\r\n\r\n\x00\r\nQUIT\n"), 0x21, 0x11, 0, 12)
	b = append(b, ip[:]...)
	b = append(b, 127, 0, 0, 1)
	b = binary.BigEndian.AppendUint16(b, port)
	return binary.BigEndian.AppendUint16(b, 2222)
}

// viaProxy connects as a balancer would: header first, then SSH.
func (s *Server) viaProxy(header []byte, k *Key) (*gossh.Client, error) {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+s.Port, 5*time.Second)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if header != nil {
		if _, err := conn.Write(header); err != nil {
			return nil, err
		}
	}
	cfg := &gossh.ClientConfig{User: "git", Auth: []gossh.AuthMethod{gossh.PublicKeys(k.Signer)}, HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second}
	c, chans, reqs, err := gossh.NewClientConn(conn, "127.0.0.1:"+s.Port, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return gossh.NewClient(c, chans, reqs), nil
}

func TestAuditProxyProtocol(t *testing.T) {
	s := MustRunMain(t, func(c *main.Config) {
		c.ProxyFrom = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		c.AllowCIDR = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("198.51.100.0/24")}
		c.AuthFailDelay = time.Millisecond
	})
	alice := s.User("alice")
	whoami := func(c *gossh.Client) string {
		defer c.Close()
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		out, _ := sess.Output("whoami")
		return string(out)
	}
	for name, header := range map[string][]byte{
		"v1": []byte("PROXY TCP4 203.0.113.7 127.0.0.1 40001 2222\r\n"),
		"v2": proxyV2("198.51.100.9", 40002),
	} {
		c, err := s.viaProxy(header, alice)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := whoami(c); got != "alice\n" {
			t.Fatalf("%s: whoami %q", name, got)
		}
	}
	// --allow-cidr applies to the client behind the balancer.
	if c, err := s.viaProxy([]byte("PROXY TCP4 192.0.2.1 127.0.0.1 40003 2222\r\n"), alice); err == nil {
		c.Close()
		t.Fatal("client outside --allow-cidr got in through the balancer")
	}
	// From a balancer the header is required; a malformed one is refused.
	for name, header := range map[string][]byte{"none": nil, "bad v1": []byte("PROXY TCP4 999.0.0.1 127.0.0.1 1 2\r\n"), "bad v2": append(proxyV2("203.0.113.7", 1)[:12], 0x21, 0x77, 0, 0)} {
		if c, err := s.viaProxy(header, alice); err == nil {
			c.Close()
			t.Fatalf("%s: connection from a balancer accepted", name)
		}
	}
	audit := s.MustCLI("audit", "--user", "alice")
	for _, addr := range []string{"203.0.113.7:40001", "198.51.100.9:40002"} {
		if !strings.Contains(audit, addr) {
			t.Errorf("audit lacks the real address %s:\n%s", addr, audit)
		}
	}
	// The limits count the real address too: ban 203.0.113.7 and its
	// neighbour behind the same balancer still gets in.
	stranger := NewKey(t)
	for i := 0; i < 25; i++ {
		if c, err := s.viaProxy([]byte("PROXY TCP4 203.0.113.66 127.0.0.1 40004 2222\r\n"), stranger); err == nil {
			c.Close()
		}
	}
	conn, _ := net.Dial("tcp", "127.0.0.1:"+s.Port)
	conn.Write([]byte("PROXY TCP4 203.0.113.66 127.0.0.1 40005 2222\r\n"))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(conn)
	conn.Close()
	if !strings.Contains(string(b), "too many failed logins") {
		t.Fatalf("banned client behind the balancer was told %q", b)
	}
	c, err := s.viaProxy([]byte("PROXY TCP4 203.0.113.7 127.0.0.1 40006 2222\r\n"), alice)
	if err != nil {
		t.Fatalf("neighbour of a banned client: %v", err)
	}
	whoami(c)
}
