package main_test

import (
	"io"
	"net/http"
	"testing"

	main "gatehouse/cmd/gatehouse"
)

func TestHealthz(t *testing.T) {
	s := MustRunMain(t, func(c *main.Config) { c.HTTPAddr = "127.0.0.1:0" })
	res, err := http.Get("http://" + s.HTTP.ListenAddr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Fatalf("healthz: %d %q", res.StatusCode, body)
	}
}
