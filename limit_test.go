package gatehouse_test

import (
	"net/netip"
	"testing"

	"gatehouse"
)

func TestAddrBucket(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::",
		"2001:db8:1:3::1":      "2001:db8:1:3::",
	} {
		if got := gatehouse.AddrBucket(netip.MustParseAddr(in)); got.String() != want {
			t.Errorf("AddrBucket(%s) = %s, want %s", in, got, want)
		}
	}
}
