package gatehouse

import (
	"errors"
	"net/netip"
)

// ErrLimit: a configured bound (repositories per user, sessions, push
// size...) was reached. Nothing was changed; the message says which bound
// and is safe to show to the caller it concerns.
var ErrLimit = errors.New("limit reached")

// AuditLimit is the audit action for a request refused by a limit; the
// detail names the limit.
const AuditLimit = "limit"

// AddrBucket is the address that per-address limits count ip under: an
// IPv4 address itself, and the /64 of an IPv6 one (its network part),
// which one host commonly holds whole; counted per IPv6 address, a client
// would take a fresh address every few tries. IPv4-mapped IPv6 counts as
// its IPv4 address.
func AddrBucket(ip netip.Addr) netip.Addr {
	if ip = ip.Unmap(); ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}
