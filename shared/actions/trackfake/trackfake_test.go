package trackfake_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cioevents/cioevents/shared/actions/trackfake"
)

func do(t *testing.T, s *trackfake.Server, method, path, body, site, key string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if site != "" {
		req.SetBasicAuth(site, key)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestServer(t *testing.T) {
	s := trackfake.New("site", "key")
	defer s.Close()
	tests := []struct {
		name             string
		method, path     string
		body, site, key  string
		wantStatus       int
		wantPerson       string
		wantBodyIsObject bool
	}{
		{"identify", "PUT", "/api/v1/customers/cio_1", `{"_update":true,"a":1}`, "site", "key", 200, "cio_1", true},
		{"escaped person", "PUT", "/api/v1/customers/a%2Fb", `{"a":1}`, "site", "key", 200, "a/b", true},
		{"identify array body", "PUT", "/api/v1/customers/1", `[1]`, "site", "key", 400, "1", false},
		{"identify null body", "PUT", "/api/v1/customers/1", `null`, "site", "key", 400, "1", false},
		{"identify no body", "PUT", "/api/v1/customers/1", ``, "site", "key", 400, "1", false},
		{"suppress", "POST", "/api/v1/customers/42/suppress", ``, "site", "key", 200, "42", false},
		{"wrong key", "PUT", "/api/v1/customers/1", `{"a":1}`, "site", "nope", 401, "", true},
		{"no auth", "POST", "/api/v1/customers/1/suppress", ``, "", "", 401, "", false},
		{"unknown route", "DELETE", "/api/v1/customers/1", ``, "site", "key", 405, "", false},
	}
	for i, tt := range tests {
		resp := do(t, s, tt.method, tt.path, tt.body, tt.site, tt.key)
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.wantStatus)
		}
		calls := s.Calls()
		if len(calls) != i+1 {
			t.Fatalf("%s: %d calls recorded, want %d", tt.name, len(calls), i+1)
		}
		c := calls[i]
		if c.Method != tt.method || c.Path != tt.path || c.Status != tt.wantStatus || c.Person != tt.wantPerson || c.Time.IsZero() {
			t.Errorf("%s: recorded %+v", tt.name, c)
		}
		if _, ok := c.Body.(map[string]any); ok != tt.wantBodyIsObject {
			t.Errorf("%s: body %#v, object = %v, want %v", tt.name, c.Body, ok, tt.wantBodyIsObject)
		}
	}
}

func TestFailNext(t *testing.T) {
	s := trackfake.New("site", "key")
	defer s.Close()
	s.FailNext(2, 429, "3")
	var got []string
	for range 3 {
		resp := do(t, s, "POST", "/api/v1/customers/1/suppress", "", "site", "key")
		got = append(got, resp.Status[:3]+"/"+resp.Header.Get("Retry-After"))
	}
	want := "429/3 429/3 200/"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
	// Unauthenticated requests do not use up programmed failures.
	s.FailNext(1, 503, "")
	do(t, s, "POST", "/api/v1/customers/1/suppress", "", "site", "bad")
	if resp := do(t, s, "POST", "/api/v1/customers/1/suppress", "", "site", "key"); resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "" {
		t.Errorf("status %d Retry-After %q, want 503 and none", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
