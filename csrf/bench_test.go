package csrf_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func BenchmarkToken(b *testing.B) {
	p := newProtector(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Token("session-0123456789abcdef"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValid(b *testing.B) {
	p := newProtector(b)
	tok := mint(b, p, "session-0123456789abcdef")
	b.ReportAllocs()
	for b.Loop() {
		if !p.Valid("session-0123456789abcdef", tok) {
			b.Fatal("refused")
		}
	}
}

// BenchmarkHandler is a full pass of the middleware for a request that it
// lets through.
func BenchmarkHandler(b *testing.B) {
	p := newProtector(b)
	tok := mint(b, p, "s1")
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	h := p.Handler(ok, sessionFromCookie)
	cases := []struct {
		name string
		req  func() *http.Request
	}{
		{"header", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "https://app.example/api/x", nil)
			r.Header.Set("Cookie", "session=s1; __Host-csrf="+tok)
			r.Header.Set("X-CSRF-Token", tok)
			r.Header.Set("Sec-Fetch-Site", "same-origin")
			return r
		}},
		{"form", func() *http.Request {
			body := "amount=42&csrf_token=" + tok
			r := httptest.NewRequest(http.MethodPost, "https://app.example/api/x", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Cookie", "session=s1; __Host-csrf="+tok)
			r.Header.Set("Sec-Fetch-Site", "same-origin")
			return r
		}},
		{"bearer-exempt", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "https://app.example/api/x", nil)
			r.Header.Set("Authorization", "Bearer abc")
			return r
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			w := httptest.NewRecorder()
			r := c.req()
			var body string
			if r.Body != nil && r.Body != http.NoBody {
				raw, _ := io.ReadAll(r.Body)
				body = string(raw)
			}
			rd := &nopBody{strings.NewReader(body)}
			b.ReportAllocs()
			for b.Loop() {
				// Reset what a pass consumes or fills in; the form case
				// then parses the body afresh every time.
				rd.Reset(body)
				r.Body = rd
				r.Form, r.PostForm = nil, nil
				h.ServeHTTP(w, r)
			}
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		})
	}
}

// nopBody is a request body that can be rewound without allocating.
type nopBody struct{ *strings.Reader }

func (nopBody) Close() error { return nil }
