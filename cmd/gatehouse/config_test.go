package main_test

import (
	"bytes"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	main "gatehouse/cmd/gatehouse"
)

const exampleConfig = "../../packaging/gatehouse.conf"

// The example configuration names every flag of serve, and what it sets
// is serve's defaults (but the data folder); with its commented settings
// turned on, it still loads.
func TestConfigExample(t *testing.T) {
	b, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range main.FlagNames() {
		if !regexp.MustCompile(`(?m)^(# )?` + regexp.QuoteMeta(name) + ` = `).Match(b) {
			t.Errorf("%s does not show the setting %s", exampleConfig, name)
		}
	}
	m := main.NewMain()
	if err := m.ParseFlags([]string{"--config", exampleConfig}); err != nil {
		t.Fatal(err)
	}
	if m.Config.Data != "/var/lib/gatehouse" {
		t.Fatalf("data = %q", m.Config.Data)
	}
	got, want := m.Config, main.NewMain().Config
	got.Data = want.Data
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the example's settings are not the defaults:\n%+v\nwant\n%+v", got, want)
	}

	all := regexp.MustCompile(`(?m)^# ([a-z-]+ = )`).ReplaceAll(b, []byte("$1"))
	path := filepath.Join(t.TempDir(), "all.conf")
	os.WriteFile(path, all, 0o644)
	m = main.NewMain()
	if err := m.ParseFlags([]string{"--config", path}); err != nil {
		t.Fatal(err)
	}
	c := m.Config
	if len(c.AllowCIDR) != 2 || c.AdminKey != "/etc/gatehouse/admin.pub" || c.PublicURL != "https://git.example.com" ||
		len(c.UserCA) != 1 || c.RevokedCerts == "" || len(c.ProxyFrom) != 1 {
		t.Fatalf("with every setting on: %+v", c)
	}
}

// Flags and GATEHOUSE_* variables replace the file's settings, a
// repeatable flag's whole list included; a setting that is no flag is
// refused with its line.
func TestConfigOverrides(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.conf")
	os.WriteFile(path, []byte(`# test
ssh-addr = ":2200"
http-addr = "127.0.0.1:9000"   # a comment
allow-cidr = 10.0.0.0/8
allow-cidr = 192.168.0.0/16
proxy-from = 10.1.0.0/16
anon-read = true
public-url = "https://h.example/#x"
log-level = debug
max-sessions = 7
`), 0o644)
	t.Setenv("GATEHOUSE_HTTP_ADDR", "")
	t.Setenv("GATEHOUSE_MAX_SESSIONS", "9")
	m := main.NewMain()
	if err := m.ParseFlags([]string{"--config", path, "--ssh-addr", "127.0.0.1:0", "--allow-cidr", "127.0.0.0/8"}); err != nil {
		t.Fatal(err)
	}
	c := m.Config
	if c.SSHAddr != "127.0.0.1:0" || c.HTTPAddr != "" || c.MaxSessions != 9 || !c.AnonRead ||
		!reflect.DeepEqual(c.AllowCIDR, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}) ||
		len(c.ProxyFrom) != 1 || c.PublicURL != "https://h.example/#x" || c.LogLevel != slog.LevelDebug {
		t.Fatalf("config: %+v", c)
	}

	os.WriteFile(path, []byte("ssh-addr = :22\n\nssh-adr = :23\n"), 0o644)
	err := main.NewMain().ParseFlags([]string{"--config", path})
	if err == nil || !strings.Contains(err.Error(), path+`:3: unknown setting "ssh-adr"`) {
		t.Fatalf("a misspelt setting: %v", err)
	}
	os.WriteFile(path, []byte("max-auth-tries = many\n"), 0o644)
	if err := main.NewMain().ParseFlags([]string{"--config", path}); err == nil || !strings.Contains(err.Error(), ":1: max-auth-tries: ") {
		t.Fatalf("a bad value: %v", err)
	}
}

// An admin command takes the data folder from serve's configuration.
func TestConfigForCommands(t *testing.T) {
	s := MustRunMain(t)
	path := filepath.Join(t.TempDir(), "gatehouse.conf")
	os.WriteFile(path, []byte("data = "+s.Data+"\nssh-addr = :2222\n"), 0o644)
	s.User("alice")
	var out, errb bytes.Buffer
	if code := mainRun([]string{"user", "list", "--config", path}, strings.NewReader(""), &out, &errb); code != 0 || !strings.Contains(out.String(), "alice") {
		t.Fatalf("user list --config: exit %d\n%s%s", code, out.String(), errb.String())
	}
}
