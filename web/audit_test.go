package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"gatehouse"
	"gatehouse/keys"
)

// Pages end within the audit window, and the last page there links to
// no next page, which would be refused.
func TestAPIAuditLastPage(t *testing.T) {
	s, db, base := MustOpenServer(t)
	ctx := context.Background()
	if err := s.Users.CreateUser(ctx, &gatehouse.User{Name: "root", Admin: true}); err != nil {
		t.Fatal(err)
	}
	_, secret, err := keys.NewTokenService(db).CreateToken(ctx, "root", "", gatehouse.ScopeRead, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if err := s.Audit.RecordEvent(ctx, &gatehouse.AuditEvent{Actor: "root", Action: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		query    string
		status   int
		events   int
		nextPage int
	}{
		{"per_page=100&page=8", 200, 100, 9},
		{"per_page=100&page=9", 200, 100, 0},
		{"per_page=100&page=10", 400, 0, 0},
		{"per_page=1&page=999", 200, 1, 0},
		{"per_page=1&page=1000", 400, 0, 0},
	} {
		req, _ := http.NewRequest("GET", base+"/api/v1/audit?"+tc.query, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Events   []json.RawMessage
			NextPage int `json:"next_page"`
			Error    string
		}
		err = json.NewDecoder(res.Body).Decode(&p)
		res.Body.Close()
		if err != nil || res.StatusCode != tc.status || len(p.Events) != tc.events || p.NextPage != tc.nextPage {
			t.Errorf("%s: %d, %d events, next %d, error %q (%v); want %d, %d events, next %d",
				tc.query, res.StatusCode, len(p.Events), p.NextPage, p.Error, err, tc.status, tc.events, tc.nextPage)
		}
		if tc.status == 400 && p.Error == "" {
			t.Errorf("%s: no error message", tc.query)
		}
	}
}
