package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"gatehouse/web"
)

// /healthz names the node and says whether its database answers;
// /readyz fails from Drain on, and while the database does not answer.
func TestHealthAndReadiness(t *testing.T) {
	var down atomic.Bool
	s := &web.Server{Addr: "127.0.0.1:0", Node: "node-1", Ping: func(ctx context.Context) error {
		if down.Load() {
			return errors.New("connection refused")
		}
		return nil
	}}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	base := "http://" + s.ListenAddr().String()
	get := func(path string) (int, map[string]string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Accept", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var v map[string]string
		json.NewDecoder(res.Body).Decode(&v)
		return res.StatusCode, v
	}
	if st, v := get("/healthz"); st != 200 || v["node"] != "node-1" || v["database"] != "ok" || v["status"] != "ok" {
		t.Fatalf("healthz: %d %v", st, v)
	}
	if st, _ := get("/readyz"); st != 200 {
		t.Fatalf("readyz: %d", st)
	}
	down.Store(true)
	if st, v := get("/healthz"); st != 503 || v["database"] != "unreachable" || v["node"] != "node-1" {
		t.Fatalf("healthz with the database down: %d %v", st, v)
	}
	if st, _ := get("/readyz"); st != 503 {
		t.Fatalf("readyz with the database down: %d", st)
	}
	down.Store(false)
	s.Drain()
	if st, _ := get("/readyz"); st != 503 {
		t.Fatalf("readyz while draining: %d", st)
	}
	if st, _ := get("/healthz"); st != 200 {
		t.Fatalf("healthz while draining: %d (the node is healthy, only not taking work)", st)
	}
}
