package sshd

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): a load
// balancer in front of the server prepends the real client's address to
// the connection. It is read only from connections whose peer is in
// Server.ProxyFrom, where it is required; anyone else could forge it.

// proxyV2Sig starts every version 2 header.
var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

const (
	proxyV1Max = 107 // the longest v1 line, CRLF included
	// proxyV2Max bounds the address block we accept; TLVs a balancer adds
	// (a few hundred bytes at most in practice) are read and ignored.
	proxyV2Max = 4096
)

var errProxyHeader = errors.New("bad PROXY protocol header")

// proxiedConn is a connection whose first bytes were a PROXY header: it
// reports the client address from the header and reads on from what the
// header reader buffered.
type proxiedConn struct {
	net.Conn
	r      *bufio.Reader
	remote net.Addr
}

func (c *proxiedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
func (c *proxiedConn) RemoteAddr() net.Addr       { return c.remote }

// fromProxy reports whether a connection's peer is a configured balancer.
func (s *Server) fromProxy(a net.Addr) bool {
	ip := addrKeyExact(a)
	for _, p := range s.ProxyFrom {
		if ip.IsValid() && p.Contains(ip) {
			return true
		}
	}
	return false
}

// readProxyHeader reads a v1 or v2 header from c within timeout and
// returns c as seen from the client the header names. A LOCAL (v2) or
// UNKNOWN (v1) header, sent by balancers for their own health checks,
// keeps the balancer's address.
func readProxyHeader(c net.Conn, timeout time.Duration) (net.Conn, error) {
	c.SetReadDeadline(time.Now().Add(timeout))
	defer c.SetReadDeadline(time.Time{})
	r := bufio.NewReaderSize(c, proxyV2Max+16+proxyV1Max)
	head, err := r.Peek(len(proxyV2Sig))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errProxyHeader, err)
	}
	var remote net.Addr
	switch {
	case bytes.Equal(head, proxyV2Sig):
		remote, err = readProxyV2(r)
	case bytes.HasPrefix(head, []byte("PROXY ")):
		remote, err = readProxyV1(r)
	default:
		return nil, fmt.Errorf("%w: no header from a --proxy-from address", errProxyHeader)
	}
	if err != nil {
		return nil, err
	}
	if remote == nil {
		remote = c.RemoteAddr()
	}
	return &proxiedConn{Conn: c, r: r, remote: remote}, nil
}

// readProxyV1 reads "PROXY TCP4|TCP6|UNKNOWN src dst sport dport\r\n".
func readProxyV1(r *bufio.Reader) (net.Addr, error) {
	var line []byte
	for len(line) < proxyV1Max {
		b, err := r.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errProxyHeader, err)
		}
		line = append(line, b)
		if b == '\n' {
			break
		}
	}
	s, ok := strings.CutSuffix(string(line), "\r\n")
	if !ok {
		return nil, fmt.Errorf("%w: v1 line not ended by CRLF within %d bytes", errProxyHeader, proxyV1Max)
	}
	f := strings.Split(s, " ")
	if len(f) >= 2 && f[1] == "UNKNOWN" {
		return nil, nil
	}
	if len(f) != 6 || (f[1] != "TCP4" && f[1] != "TCP6") {
		return nil, fmt.Errorf("%w: v1 line %q", errProxyHeader, s)
	}
	ip, err := netip.ParseAddr(f[2])
	if err != nil || ip.Zone() != "" || ip.Is4() != (f[1] == "TCP4") || ip.Is4In6() {
		return nil, fmt.Errorf("%w: v1 source %q", errProxyHeader, f[2])
	}
	if _, err := netip.ParseAddr(f[3]); err != nil {
		return nil, fmt.Errorf("%w: v1 destination %q", errProxyHeader, f[3])
	}
	port, err := strconv.ParseUint(f[4], 10, 16)
	if err != nil || (len(f[4]) > 1 && f[4][0] == '0') {
		return nil, fmt.Errorf("%w: v1 source port %q", errProxyHeader, f[4])
	}
	if _, err := strconv.ParseUint(f[5], 10, 16); err != nil {
		return nil, fmt.Errorf("%w: v1 destination port %q", errProxyHeader, f[5])
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))), nil
}

// readProxyV2 reads the binary header: signature, version and command,
// family and transport, length, addresses, TLVs.
func readProxyV2(r *bufio.Reader) (net.Addr, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: %v", errProxyHeader, err)
	}
	verCmd, fam := hdr[12], hdr[13]
	n := int(binary.BigEndian.Uint16(hdr[14:16]))
	if verCmd>>4 != 2 || verCmd&0xf > 1 {
		return nil, fmt.Errorf("%w: v2 version/command %#x", errProxyHeader, verCmd)
	}
	if n > proxyV2Max {
		return nil, fmt.Errorf("%w: v2 length %d", errProxyHeader, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("%w: %v", errProxyHeader, err)
	}
	if verCmd&0xf == 0 {
		// LOCAL: the balancer speaking for itself.
		return nil, nil
	}
	switch fam {
	case 0x11: // TCP over IPv4
		if n < 12 {
			return nil, fmt.Errorf("%w: v2 IPv4 block of %d bytes", errProxyHeader, n)
		}
		ip := netip.AddrFrom4([4]byte(body[0:4]))
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, binary.BigEndian.Uint16(body[8:10]))), nil
	case 0x21: // TCP over IPv6
		if n < 36 {
			return nil, fmt.Errorf("%w: v2 IPv6 block of %d bytes", errProxyHeader, n)
		}
		ip := netip.AddrFrom16([16]byte(body[0:16])).Unmap()
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, binary.BigEndian.Uint16(body[32:34]))), nil
	case 0x00: // UNSPEC: keep the balancer's address, as the spec says
		return nil, nil
	}
	return nil, fmt.Errorf("%w: v2 family %#x is not TCP", errProxyHeader, fam)
}

// addrKeyExact is the peer's IP (IPv4-mapped addresses unmapped), the
// zero Addr if it has none.
func addrKeyExact(a net.Addr) netip.Addr {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
