package secheader

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchWriter is a ResponseWriter whose header map is reused (cleared,
// keeping its buckets) between iterations, so that the benchmarks measure
// the middleware, not a recorder.
type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(int)             {}

var okBody = []byte(`{"ok":true}`)

func jsonHandler(w http.ResponseWriter, r *http.Request) {
	w.Header()["Content-Type"] = []string{"application/json"}
	_, _ = w.Write(okBody)
}

func runBench(b *testing.B, h http.Handler, r *http.Request) {
	b.Helper()
	w := &benchWriter{h: make(http.Header, 32)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// BenchmarkHeaders compares a bare handler with the same handler behind
// Headers, for an anonymous GET, a TLS GET and a credentialed GET.
func BenchmarkHeaders(b *testing.B) {
	hs := mustNew(b, Options{})
	plain := httptest.NewRequest("GET", "/items", nil)
	overTLS := httptest.NewRequest("GET", "/items", nil)
	overTLS.TLS = &tls.ConnectionState{}
	authed := httptest.NewRequest("GET", "/items", nil)
	authed.TLS = &tls.ConnectionState{}
	authed.Header.Set("Authorization", "Bearer x")

	b.Run("bare", func(b *testing.B) { runBench(b, http.HandlerFunc(jsonHandler), plain) })
	b.Run("headers", func(b *testing.B) { runBench(b, hs.Handler(http.HandlerFunc(jsonHandler)), plain) })
	b.Run("headers-tls", func(b *testing.B) { runBench(b, hs.Handler(http.HandlerFunc(jsonHandler)), overTLS) })
	b.Run("headers-tls-credentialed", func(b *testing.B) { runBench(b, hs.Handler(http.HandlerFunc(jsonHandler)), authed) })
}

func BenchmarkHTMLNonce(b *testing.B) {
	hs := mustNew(b, Options{})
	w := &benchWriter{h: make(http.Header, 32)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := hs.HTML(w); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCORS(b *testing.B) {
	c := mustCORS(b, CORSOptions{AllowedOrigins: []string{"https://app.example.com", "https://admin.example.com"}, AllowCredentials: true})
	next := c.Handler(http.HandlerFunc(jsonHandler))
	withOrigin := func(method, origin string) *http.Request {
		r := httptest.NewRequest(method, "/items", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		return r
	}
	pre := withOrigin("OPTIONS", "https://app.example.com")
	pre.Header.Set("Access-Control-Request-Method", "PUT")
	pre.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	preAll := withOrigin("OPTIONS", "https://app.example.com")
	preAll.Header.Set("Access-Control-Request-Method", "PUT")
	preAll.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-csrf-token,x-request-id")

	b.Run("no-origin", func(b *testing.B) { runBench(b, next, withOrigin("GET", "")) })
	b.Run("actual-allowed", func(b *testing.B) { runBench(b, next, withOrigin("GET", "https://app.example.com")) })
	b.Run("actual-unlisted", func(b *testing.B) { runBench(b, next, withOrigin("GET", "https://evil.example")) })
	b.Run("preflight", func(b *testing.B) { runBench(b, next, pre) })
	b.Run("preflight-all-headers", func(b *testing.B) { runBench(b, next, preAll) })
}
