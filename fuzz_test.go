package fortapi_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequestBody sends arbitrary bodies and content types to a validated
// operation: the answer is never a 5xx, and every error is problem+json.
func FuzzRequestBody(f *testing.F) {
	for _, s := range []string{`{"name":"a","count":1}`, `{"name":`, `[[[[`, "{\"name\":\"\xff\"}", `{"NAME":"a","count":1}`, `null`, `{"name":"a","count":1e400}`, `{"nested":{"client_secret":"x","label":"abcd"}}`} {
		f.Add(s, "application/json")
	}
	f.Add(`{}`, "text/plain")
	f.Add(`{}`, "application/json; charset=\"")
	api, _ := newTestAPI(f)
	h, err := api.Handler()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body, ctype string) {
		req := httptest.NewRequest("POST", "/things", strings.NewReader(body))
		req.Header.Set("Authorization", "Test fuzz things:write")
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q (%q): %s", rec.Code, body, ctype, rec.Body)
		}
		if rec.Code >= 400 {
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("error with Content-Type %q", ct)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("error body is not JSON: %s", rec.Body)
			}
		}
	})
}

// FuzzRequestTarget sends arbitrary paths and query strings: never a 5xx.
func FuzzRequestTarget(f *testing.F) {
	for _, s := range []string{"/things?limit=5", "/things?limit=1e99", "/%2e%2e/", "/things?limit=5&limit=6", "/health?x=%zz", "//things"} {
		f.Add(s)
	}
	api, _ := newTestAPI(f)
	h, err := api.Handler()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") {
			return // not a request target a client can send
		}
		defer func() {
			if v := recover(); v != nil {
				// httptest.NewRequest panics on targets net/http would
				// refuse to parse; those never reach a handler.
				if s, ok := v.(string); ok && strings.Contains(s, "invalid NewRequest arguments") {
					return
				}
				panic(v)
			}
		}()
		req := httptest.NewRequest("GET", target, nil)
		req.Header.Set("Authorization", "Test fuzz things:read")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, target, rec.Body)
		}
	})
}
