package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// needTool fails the test when a tool it drives is missing (test.sh
// installs it).
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not on PATH (./test.sh installs it)", name)
	}
}

// The systemd unit passes systemd-analyze verify, has the hardening
// promised, and systemd rates its exposure low.
func TestSystemdUnit(t *testing.T) {
	needTool(t, "systemd-analyze")
	b, err := os.ReadFile("../../packaging/gatehouse.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{
		"User=gatehouse", "NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/gatehouse",
		"PrivateTmp=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "\nCapabilityBoundingSet=\n",
		"ExecStart=/usr/local/bin/gatehouse serve --config /etc/gatehouse/gatehouse.conf", "ExecReload=/bin/kill -HUP $MAINPID",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
	// The example configuration's data folder is the one it may write.
	conf, _ := os.ReadFile("../../packaging/gatehouse.conf")
	if !regexp.MustCompile(`(?m)^data = /var/lib/gatehouse$`).Match(conf) {
		t.Error("packaging/gatehouse.conf's data is not the unit's ReadWritePaths")
	}
	// verify wants the program to exist: the one just built, in its place.
	bin := buildBinary(t)
	path := filepath.Join(t.TempDir(), "gatehouse.service")
	os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/gatehouse", bin)), 0o644)
	if out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=yes", "--threshold=25", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security rates the unit's exposure over 2.5: %v\n%s", err, out)
	}
}

// The container file builds in one stage and runs in another, as a user
// that is not root, keeps everything in /data, checks /healthz, and
// stamps the version as the release build does.
func TestContainerfile(t *testing.T) {
	b, err := os.ReadFile("../../packaging/Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	cf := string(b)
	if n := len(regexp.MustCompile(`(?m)^FROM `).FindAllString(cf, -1)); n != 2 {
		t.Errorf("%d stages, want a build and a run stage", n)
	}
	user := regexp.MustCompile(`(?m)^USER (\S+)`).FindStringSubmatch(cf)
	if user == nil || strings.HasPrefix(user[1], "root") || strings.HasPrefix(user[1], "0") {
		t.Errorf("runs as %v", user)
	}
	for _, want := range []string{
		`VOLUME ["/data"]`, "GATEHOUSE_DATA=/data", "GATEHOUSE_HTTP_ADDR=:8080",
		"CMD curl -fsS http://127.0.0.1:8080/healthz", "COPY --from=build",
		"-X main.Version=${VERSION} -X main.Commit=${COMMIT} -X main.BuildDate=${BUILD_DATE}",
	} {
		if !strings.Contains(cf, want) {
			t.Errorf("the container file lacks %q", want)
		}
	}
}

// packaging/release.sh builds a binary named for its version and
// platform whose `version` prints that version, the commit and the
// build date.
func TestReleaseBuild(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command("bash", "../../packaging/release.sh", "1.2.3-test")
	cmd.Env = append(os.Environ(), "OUT="+out, "SOURCE_DATE_EPOCH=1700000000")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, b)
	}
	bins, _ := filepath.Glob(filepath.Join(out, "gatehouse-1.2.3-test-*-*"))
	if len(bins) != 1 {
		t.Fatalf("release.sh made %v", bins)
	}
	sums, _ := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if !strings.Contains(string(sums), filepath.Base(bins[0])) {
		t.Fatalf("SHA256SUMS:\n%s", sums)
	}
	v, err := exec.Command(bins[0], "version").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	commit := run(t, ".", "git", "rev-parse", "HEAD")
	for _, want := range []string{"gatehouse 1.2.3-test\n", "commit " + commit + "\n", "built 2023-11-14T22:13:20Z with go"} {
		if !strings.Contains(string(v), want) {
			t.Errorf("version said:\n%s\nwant %q", v, want)
		}
	}
}
