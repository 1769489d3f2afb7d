package fortapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// TestBodyContextHeader: the operation context's Header, which indexes
// the header map directly for Accept and Content-Type, answers every
// name as huma's own context (Header.Get) does: canonical or not, present,
// repeated, empty or missing.
func TestBodyContextHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  http.Header
	}{
		{"none", http.Header{}},
		{"set", http.Header{"Accept": {"application/json"}, "Content-Type": {"application/json; charset=utf-8"}, "X-Custom": {"x"}}},
		{"repeated", http.Header{"Accept": {"text/html", "application/json"}, "Content-Type": {"a", "b"}}},
		{"empty values", http.Header{"Accept": {""}, "Content-Type": {}}},
		// A key no server request has (net/http canonicalizes): Get does
		// not find it under its canonical name, nor may Header.
		{"non-canonical key", http.Header{"accept": {"text/html"}, "content-type": {"text/plain"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header = tc.set
			ctx := humago.NewContext(nil, r, httptest.NewRecorder())
			c, ok := opContext(ctx, &Principal{Subject: "s"}, false).(*bodyContext)
			if !ok {
				t.Fatal("opContext with a principal did not give a *bodyContext")
			}
			for _, name := range []string{"Accept", "accept", "ACCEPT", "Content-Type", "content-type", "X-Custom", "x-custom", "Missing"} {
				if got, want := c.Header(name), ctx.Header(name); got != want {
					t.Errorf("Header(%q) = %q, huma's context says %q", name, got, want)
				}
			}
		})
	}
}
