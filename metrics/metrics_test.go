package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gatehouse"
	"gatehouse/metrics"
)

// fakeGit echoes stdin to stdout and fails when told to.
type fakeGit struct{ fail bool }

func (f fakeGit) UploadPack(ctx context.Context, r *gatehouse.Repo, s gatehouse.GitSession) error {
	_, err := io.Copy(s.Stdout, s.Stdin)
	if f.fail {
		return errors.New("broken")
	}
	return err
}

func (f fakeGit) ReceivePack(ctx context.Context, r *gatehouse.Repo, s gatehouse.GitSession) (*gatehouse.PushResult, error) {
	return nil, f.UploadPack(ctx, r, s)
}

func (f fakeGit) UploadArchive(ctx context.Context, r *gatehouse.Repo, s gatehouse.GitSession) error {
	return f.UploadPack(ctx, r, s)
}

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func TestDecorators(t *testing.T) {
	m := metrics.New()
	ctx := context.Background()
	var out bytes.Buffer
	git := m.Git(fakeGit{})
	if err := git.UploadPack(ctx, &gatehouse.Repo{}, gatehouse.GitSession{Stdin: strings.NewReader("hello"), Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	m.Git(fakeGit{fail: true}).ReceivePack(ctx, &gatehouse.Repo{}, gatehouse.GitSession{Stdin: strings.NewReader("abc"), Stdout: io.Discard})
	ssh := m.SSH()
	ssh.LoginAccepted()
	ssh.LoginRefused("unknown key")
	ssh.LoginRefused("key expired")
	h := m.HTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }),
		func(*http.Request) string { return "/api/v1/repos/{owner}/{name}" })
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("BREW", "/api/v1/repos/a/b", nil))

	text := scrape(t, m)
	for _, want := range []string{
		`gatehouse_git_operations_total{outcome="ok",service="upload-pack"} 1`,
		`gatehouse_git_operations_total{outcome="error",service="receive-pack"} 1`,
		`gatehouse_git_bytes_total{direction="received",service="upload-pack"} 5`,
		`gatehouse_git_bytes_total{direction="sent",service="upload-pack"} 5`,
		`gatehouse_git_operation_duration_seconds_count{service="upload-pack"} 1`,
		`gatehouse_ssh_auth_total{result="accepted"} 1`,
		`gatehouse_ssh_auth_total{result="refused"} 2`,
		`gatehouse_http_requests_total{code="418",method="other",route="/api/v1/repos/{owner}/{name}"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(text, "/api/v1/repos/a/b") {
		t.Error("a raw path became a label")
	}
}
