package webhook

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// blocked are the networks no webhook reaches unless --webhook-allow
// names them, beside what netip's predicates (loopback, private,
// link-local, multicast, unspecified) already refuse: the cloud metadata
// services live in link-local or private space (169.254.169.254,
// fd00:ec2::254) and Alibaba's in shared address space.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // shared address space (CGNAT, 100.100.100.200)
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),  // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64: may carry a private IPv4, refused whole
	netip.MustParsePrefix("2002::/16"),    // 6to4: likewise
	netip.MustParsePrefix("fd00:ec2::254/128"),
}

// Refused reports why ip may not be dialled, or "" if it may: allow wins
// over everything else.
func Refused(ip netip.Addr, allow []netip.Prefix) string {
	ip = ip.Unmap()
	for _, p := range allow {
		if p.Contains(ip) {
			return ""
		}
	}
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "link-local"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return "reserved"
		}
	}
	return ""
}

// dialer connects only to addresses Refused allows. The check runs on
// the address being connected to, after name resolution, so a name that
// resolves elsewhere the second time (DNS rebinding) gains nothing.
func dialer(allow []netip.Prefix) *net.Dialer {
	return &net.Dialer{
		Timeout: 10 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("webhook target %s: %w", address, err)
			}
			if why := Refused(ap.Addr(), allow); why != "" {
				return fmt.Errorf("webhook target %s is a %s address; allow it with --webhook-allow", ap.Addr(), why)
			}
			return nil
		},
	}
}
