package gatehouse_test

import (
	"errors"
	"testing"

	"gatehouse"
)

func TestParseTokenScope(t *testing.T) {
	for in, want := range map[string]gatehouse.TokenScope{"read": gatehouse.ScopeRead, "Write": gatehouse.ScopeWrite, "ADMIN": gatehouse.ScopeAdmin} {
		if got, err := gatehouse.ParseTokenScope(in); err != nil || got != want {
			t.Errorf("ParseTokenScope(%q) = %s, %v; want %s", in, got, err, want)
		}
		if b, _ := want.MarshalText(); string(b) != want.String() {
			t.Errorf("MarshalText(%s) = %q", want, b)
		}
	}
	for _, bad := range []string{"", "none", "owner", "read,write"} {
		if _, err := gatehouse.ParseTokenScope(bad); !errors.Is(err, gatehouse.ErrInvalid) {
			t.Errorf("ParseTokenScope(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}
