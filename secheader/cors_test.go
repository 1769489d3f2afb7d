package secheader

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func mustCORS(t testing.TB, o CORSOptions) *CORS {
	t.Helper()
	c, err := NewCORS(o)
	if err != nil {
		t.Fatalf("NewCORS(%+v): %v", o, err)
	}
	return c
}

const wantExpose = "RateLimit, RateLimit-Policy, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, X-Request-Id, Location"

// corsHeaders returns every Access-Control-* header of h.
func corsHeaders(h http.Header) map[string][]string {
	out := map[string][]string{}
	for k, v := range h {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			out[k] = v
		}
	}
	return out
}

func TestNewCORSRefuses(t *testing.T) {
	cases := []struct {
		name string
		opts CORSOptions
		want string // in the error
	}{
		{"star with credentials", CORSOptions{AllowedOrigins: []string{"*"}, AllowCredentials: true}, `"*" with AllowCredentials`},
		{"star among others", CORSOptions{AllowedOrigins: []string{"https://a.example", "*"}}, "only entry"},
		{"null", CORSOptions{AllowedOrigins: []string{"null"}}, `origin "null"`},
		{"null with credentials", CORSOptions{AllowedOrigins: []string{"null"}, AllowCredentials: true}, `origin "null"`},
		{"trailing slash", CORSOptions{AllowedOrigins: []string{"https://example.com/"}}, `"https://example.com/"`},
		{"path", CORSOptions{AllowedOrigins: []string{"https://example.com/app"}}, `"https://example.com/app"`},
		{"query", CORSOptions{AllowedOrigins: []string{"https://example.com?x"}}, "query"},
		{"user info", CORSOptions{AllowedOrigins: []string{"https://user@example.com"}}, "user info"},
		{"no scheme", CORSOptions{AllowedOrigins: []string{"example.com"}}, `"example.com"`},
		{"wildcard subdomain", CORSOptions{AllowedOrigins: []string{"https://*.example.com"}}, "wildcard"},
		{"suffix pattern", CORSOptions{AllowedOrigins: []string{".example.com"}}, `".example.com"`},
		{"space", CORSOptions{AllowedOrigins: []string{"https://example.com "}}, "space"},
		{"unicode host", CORSOptions{AllowedOrigins: []string{"https://bücher.example"}}, "punycode"},
		{"empty host", CORSOptions{AllowedOrigins: []string{"https://"}}, "invalid host"},
		{"empty label", CORSOptions{AllowedOrigins: []string{"https://a..example"}}, "invalid host"},
		{"trailing dot", CORSOptions{AllowedOrigins: []string{"https://example.com."}}, "invalid host"},
		{"percent", CORSOptions{AllowedOrigins: []string{"https://ex%61mple.com"}}, "invalid host"},
		{"port zero", CORSOptions{AllowedOrigins: []string{"https://example.com:0"}}, "invalid port"},
		{"port too big", CORSOptions{AllowedOrigins: []string{"https://example.com:65536"}}, "invalid port"},
		{"port leading zero", CORSOptions{AllowedOrigins: []string{"https://example.com:0443"}}, "invalid port"},
		{"empty port", CORSOptions{AllowedOrigins: []string{"https://example.com:"}}, "invalid port"},
		{"two colons", CORSOptions{AllowedOrigins: []string{"https://example.com:80:80"}}, "invalid port"},
		{"short IPv4", CORSOptions{AllowedOrigins: []string{"https://127.1"}}, "IPv4"},
		{"hex IPv4", CORSOptions{AllowedOrigins: []string{"https://0x7f.0.0.1"}}, "IPv4"},
		{"numeric last label", CORSOptions{AllowedOrigins: []string{"https://example.123"}}, "IPv4"},
		{"IPv6 zone", CORSOptions{AllowedOrigins: []string{"https://[fe80::1%25eth0]"}}, "IPv6"},
		{"IPv4-mapped", CORSOptions{AllowedOrigins: []string{"https://[::ffff:127.0.0.1]"}}, "IPv6"},
		{"unclosed bracket", CORSOptions{AllowedOrigins: []string{"https://[::1"}}, "IPv6"},
		{"bad scheme", CORSOptions{AllowedOrigins: []string{"1http://example.com"}}, "scheme"},
		{"plain http with credentials", CORSOptions{AllowedOrigins: []string{"http://example.com"}, AllowCredentials: true}, "AllowInsecureOrigins"},
		{"plain http IP with credentials", CORSOptions{AllowedOrigins: []string{"http://192.0.2.1:8080"}, AllowCredentials: true}, "AllowInsecureOrigins"},
		{"star method", CORSOptions{AllowedMethods: []string{"*"}}, `"*"`},
		{"connect", CORSOptions{AllowedMethods: []string{"CONNECT"}}, "forbidden"},
		{"trace", CORSOptions{AllowedMethods: []string{"trace"}}, "forbidden"},
		{"method with space", CORSOptions{AllowedMethods: []string{"GET POST"}}, `"GET POST"`},
		{"star header", CORSOptions{AllowedHeaders: []string{"*"}}, `"*"`},
		{"header with colon", CORSOptions{AllowedHeaders: []string{"X-A:"}}, `"X-A:"`},
		{"star exposed", CORSOptions{ExposedHeaders: []string{"*"}}, `"*"`},
		{"empty exposed", CORSOptions{ExposedHeaders: []string{""}}, `""`},
		{"too many headers", CORSOptions{AllowedHeaders: manyHeaders(65)}, "at most 64"},
		{"negative max age", CORSOptions{MaxAge: -time.Second}, "MaxAge"},
		{"sub-second max age", CORSOptions{MaxAge: 500 * time.Millisecond}, "MaxAge"},
		{"max age above a day", CORSOptions{MaxAge: 25 * time.Hour}, "MaxAge"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCORS(tc.opts)
			if err == nil {
				t.Fatalf("NewCORS(%+v) = %+v, nil; want an error", tc.opts, c)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func manyHeaders(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("X-H%d", i)
	}
	return out
}

func TestNewCORSAccepts(t *testing.T) {
	cases := []struct {
		name string
		opts CORSOptions
	}{
		{"zero", CORSOptions{}},
		{"star", CORSOptions{AllowedOrigins: []string{"*"}}},
		{"localhost http with credentials", CORSOptions{AllowedOrigins: []string{"http://localhost:3000", "http://app.localhost", "http://127.0.0.1:8080", "http://[::1]:5173", "http://[::1]"}, AllowCredentials: true}},
		{"insecure allowed explicitly", CORSOptions{AllowedOrigins: []string{"http://intranet.example"}, AllowCredentials: true, AllowInsecureOrigins: true}},
		{"plain http without credentials", CORSOptions{AllowedOrigins: []string{"http://example.com"}}},
		{"custom scheme", CORSOptions{AllowedOrigins: []string{"capacitor://localhost", "chrome-extension://abcdefghijklmnop"}}},
		{"64 headers", CORSOptions{AllowedHeaders: manyHeaders(64)}},
		{"a day", CORSOptions{MaxAge: 24 * time.Hour}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { mustCORS(t, tc.opts) })
	}
}

// lookAlikes are origins an allowlist of https://example.com must refuse.
var lookAlikes = []string{
	"https://example.com.evil.net",
	"https://evilexample.com",
	"https://evil-example.com",
	"https://example.com.",
	"https://sub.example.com",
	"https://example.co",
	"https://example.comm",
	"http://example.com",
	"wss://example.com",
	"https://example.com:8443",
	"https://example.com:80",
	"https://example.com/",
	"https://example.com/path",
	"https://example.com@evil.net",
	"https://evil.net#https://example.com",
	"https://evil.net?https://example.com",
	"https://xn--exmple-cua.com",
	"https://exаmple.com", // Cyrillic а
	"https://example.com\x00",
	"https://example.com\r\n",
	" https://example.com",
	"https://example.com ",
	"https://example.com, https://evil.net",
	"https://example.com https://evil.net",
	"null",
	"",
	"*",
	"https://*.com",
	"https:example.com",
	"https:/example.com",
	"//example.com",
	"example.com",
	"https://[::1]",
}

func TestCORSActualRequests(t *testing.T) {
	allow := []string{"https://example.com", "HTTPS://App.Example.ORG:443", "http://localhost:3000", "https://[0:0::1]:8443"}
	cases := []struct {
		name   string
		origin []string // Origin field lines
		want   string   // Access-Control-Allow-Origin; "" = no CORS header at all
	}{
		{"listed", []string{"https://example.com"}, "https://example.com"},
		{"listed, normalised entry", []string{"https://app.example.org"}, "https://app.example.org"},
		{"listed, localhost port", []string{"http://localhost:3000"}, "http://localhost:3000"},
		{"listed, IPv6", []string{"https://[::1]:8443"}, "https://[::1]:8443"},
		{"upper-case request", []string{"HTTPS://EXAMPLE.COM"}, "https://example.com"},
		{"default port in request", []string{"https://example.com:443"}, "https://example.com"},
		{"localhost other port", []string{"http://localhost:3001"}, ""},
		{"localhost without port", []string{"http://localhost"}, ""},
		{"two Origin lines", []string{"https://example.com", "https://example.com"}, ""},
	}
	for _, o := range lookAlikes {
		cases = append(cases, struct {
			name   string
			origin []string
			want   string
		}{"look-alike " + fmt.Sprintf("%q", o), []string{o}, ""})
	}
	for _, cred := range []bool{false, true} {
		c := mustCORS(t, CORSOptions{AllowedOrigins: allow, AllowCredentials: cred})
		for _, tc := range cases {
			t.Run(fmt.Sprintf("credentials=%v/%s", cred, tc.name), func(t *testing.T) {
				r := httptest.NewRequest("GET", "/items", nil)
				r.Header["Origin"] = tc.origin
				r.Header.Set("Cookie", "session=1")
				rec := httptest.NewRecorder()
				called := false
				c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					called = true
					w.Header().Set("X-Request-Id", "abc")
				})).ServeHTTP(rec, r)
				if !called {
					t.Fatal("an actual request did not reach the handler")
				}
				h := rec.Header()
				if got := h.Values("Vary"); len(got) != 1 || got[0] != "Origin" {
					t.Errorf("Vary = %q, want [Origin]", got)
				}
				got := corsHeaders(h)
				if tc.want == "" {
					if len(got) != 0 {
						t.Errorf("origin %q got CORS headers %q", tc.origin, got)
					}
					return
				}
				want := map[string][]string{
					"Access-Control-Allow-Origin":   {tc.want},
					"Access-Control-Expose-Headers": {wantExpose},
				}
				if cred {
					want["Access-Control-Allow-Credentials"] = []string{"true"}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("CORS headers\n got %q\nwant %q", got, want)
				}
			})
		}
	}
}

func TestCORSWithoutOriginUntouched(t *testing.T) {
	c := mustCORS(t, CORSOptions{AllowedOrigins: []string{"https://example.com"}, AllowCredentials: true})
	for _, method := range []string{"GET", "POST", "OPTIONS"} {
		t.Run(method, func(t *testing.T) {
			r := httptest.NewRequest(method, "/", nil)
			r.Header.Set("Access-Control-Request-Method", "PUT") // no Origin: not a preflight
			rec := httptest.NewRecorder()
			var seen http.ResponseWriter
			c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = w
				if len(w.Header()) != 0 {
					t.Errorf("handler found headers %q", w.Header())
				}
				w.WriteHeader(http.StatusTeapot)
			})).ServeHTTP(rec, r)
			if seen != rec {
				t.Error("the handler did not get the writer itself")
			}
			if rec.Code != http.StatusTeapot || len(rec.Header()) != 0 {
				t.Errorf("status %d, headers %q; want the handler's answer untouched", rec.Code, rec.Header())
			}
		})
	}
}

func TestCORSVaryAppends(t *testing.T) {
	c := mustCORS(t, CORSOptions{AllowedOrigins: []string{"https://example.com"}})
	for _, tc := range []struct{ name, method, acrm, want string }{
		{"actual", "GET", "", "Origin"},
		{"preflight", "OPTIONS", "GET", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/", nil)
			r.Header.Set("Origin", "https://example.com")
			if tc.acrm != "" {
				r.Header.Set("Access-Control-Request-Method", tc.acrm)
			}
			rec := httptest.NewRecorder()
			rec.Header().Set("Vary", "Accept-Encoding")
			c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})).ServeHTTP(rec, r)
			if got := rec.Header().Values("Vary"); fmt.Sprint(got) != fmt.Sprint([]string{"Accept-Encoding", tc.want}) {
				t.Errorf("Vary = %q, want [Accept-Encoding %q]", got, tc.want)
			}
		})
	}
}

func preflight(origin, method, headers string) *http.Request {
	r := httptest.NewRequest("OPTIONS", "/items", nil)
	r.Header.Set("Origin", origin)
	r.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		r.Header.Set("Access-Control-Request-Headers", headers)
	}
	return r
}

func TestCORSPreflight(t *testing.T) {
	const origin = "https://example.com"
	const allMethods = "GET, HEAD, POST, PUT, PATCH, DELETE"
	const vary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
	cases := []struct {
		name   string
		opts   CORSOptions
		req    *http.Request
		status int
		want   map[string][]string // Access-Control-* headers of a 204
	}{
		{"allowed, credentials", CORSOptions{AllowCredentials: true}, preflight(origin, "PUT", "content-type,x-csrf-token"), 204, map[string][]string{
			"Access-Control-Allow-Origin":      {origin},
			"Access-Control-Allow-Credentials": {"true"},
			"Access-Control-Allow-Methods":     {allMethods},
			"Access-Control-Allow-Headers":     {"Content-Type, X-CSRF-Token"},
			"Access-Control-Max-Age":           {"600"},
		}},
		{"allowed, no credentials, no headers", CORSOptions{}, preflight(origin, "DELETE", ""), 204, map[string][]string{
			"Access-Control-Allow-Origin":  {origin},
			"Access-Control-Allow-Methods": {allMethods},
			"Access-Control-Max-Age":       {"600"},
		}},
		{"all headers, odd spacing, repeated", CORSOptions{}, preflight(origin, "POST", " X-Request-Id ,,\tauthorization, CONTENT-TYPE , x-csrf-token, Authorization"), 204, map[string][]string{
			"Access-Control-Allow-Origin":  {origin},
			"Access-Control-Allow-Methods": {allMethods},
			"Access-Control-Allow-Headers": {"Authorization, Content-Type, X-CSRF-Token, X-Request-Id"},
			"Access-Control-Max-Age":       {"600"},
		}},
		{"custom lists and max age", CORSOptions{AllowedMethods: []string{"GET", "POST"}, AllowedHeaders: []string{"X-Custom"}, MaxAge: 2 * time.Hour}, preflight(origin, "POST", "x-custom"), 204, map[string][]string{
			"Access-Control-Allow-Origin":  {origin},
			"Access-Control-Allow-Methods": {"GET, POST"},
			"Access-Control-Allow-Headers": {"X-Custom"},
			"Access-Control-Max-Age":       {"7200"},
		}},
		{"private network not granted", CORSOptions{}, func() *http.Request {
			r := preflight(origin, "GET", "")
			r.Header.Set("Access-Control-Request-Private-Network", "true")
			return r
		}(), 204, map[string][]string{
			"Access-Control-Allow-Origin":  {origin},
			"Access-Control-Allow-Methods": {allMethods},
			"Access-Control-Max-Age":       {"600"},
		}},
		{"unlisted origin", CORSOptions{}, preflight("https://evil.net", "GET", ""), 403, nil},
		{"look-alike origin", CORSOptions{}, preflight("https://example.com.evil.net", "GET", ""), 403, nil},
		{"null origin", CORSOptions{}, preflight("null", "GET", ""), 403, nil},
		{"disallowed method", CORSOptions{}, preflight(origin, "PROPFIND", ""), 403, nil},
		{"method in the wrong case", CORSOptions{}, preflight(origin, "patch", ""), 403, nil},
		{"method list", CORSOptions{}, preflight(origin, "GET, PUT", ""), 403, nil},
		{"empty method", CORSOptions{}, preflight(origin, "", ""), 403, nil},
		{"forbidden method", CORSOptions{}, preflight(origin, "CONNECT", ""), 403, nil},
		{"disallowed header", CORSOptions{}, preflight(origin, "GET", "content-type, x-evil"), 403, nil},
		{"header prefix of an allowed one", CORSOptions{}, preflight(origin, "GET", "x-request"), 403, nil},
		{"header with garbage", CORSOptions{}, preflight(origin, "GET", "authorization;x"), 403, nil},
		{"too long header list", CORSOptions{}, preflight(origin, "GET", strings.Repeat("authorization,", 300)), 403, nil},
		{"zero options", CORSOptions{}, preflight(origin, "GET", ""), 403, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name != "zero options" {
				tc.opts.AllowedOrigins = []string{origin}
			}
			c := mustCORS(t, tc.opts)
			rec := httptest.NewRecorder()
			c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				t.Error("a preflight reached the handler")
			})).ServeHTTP(rec, tc.req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d (body %q)", rec.Code, tc.status, rec.Body.String())
			}
			if got := rec.Header().Values("Vary"); len(got) != 1 || got[0] != vary {
				t.Errorf("Vary = %q, want [%q]", got, vary)
			}
			got := corsHeaders(rec.Header())
			if tc.status == 403 {
				if len(got) != 0 {
					t.Errorf("refused preflight carries %q", got)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type %q, want application/problem+json", ct)
				}
				if strings.Contains(rec.Body.String(), tc.req.Header.Get("Origin")) && tc.req.Header.Get("Origin") != origin {
					t.Errorf("the refusal echoes the request's origin: %s", rec.Body.String())
				}
				return
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("CORS headers\n got %q\nwant %q", got, tc.want)
			}
			if rec.Body.Len() != 0 {
				t.Errorf("204 with body %q", rec.Body.String())
			}
		})
	}
}

func TestCORSOptionsWithoutRequestMethodIsActual(t *testing.T) {
	c := mustCORS(t, CORSOptions{AllowedOrigins: []string{"https://example.com"}})
	r := httptest.NewRequest("OPTIONS", "/", nil)
	r.Header.Set("Origin", "https://example.com")
	called := false
	rec := httptest.NewRecorder()
	c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true })).ServeHTTP(rec, r)
	if !called || rec.Header().Get("Access-Control-Allow-Origin") != "https://example.com" {
		t.Errorf("called %v, headers %q: an OPTIONS without Access-Control-Request-Method is an actual request", called, rec.Header())
	}
}

func TestCORSStar(t *testing.T) {
	c := mustCORS(t, CORSOptions{AllowedOrigins: []string{"*"}})
	for _, origin := range []string{"https://anyone.example", "null"} {
		t.Run("actual "+origin, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Origin", origin)
			rec := httptest.NewRecorder()
			c.Handler(http.NotFoundHandler()).ServeHTTP(rec, r)
			want := map[string][]string{"Access-Control-Allow-Origin": {"*"}, "Access-Control-Expose-Headers": {wantExpose}}
			if got := corsHeaders(rec.Header()); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("CORS headers %q, want %q", got, want)
			}
			if v := rec.Header().Values("Vary"); v != nil {
				t.Errorf(`Vary %q: a "*" answer does not depend on the origin`, v)
			}
		})
	}
	t.Run("preflight", func(t *testing.T) {
		rec := httptest.NewRecorder()
		c.Handler(http.NotFoundHandler()).ServeHTTP(rec, preflight("https://anyone.example", "GET", "authorization"))
		if rec.Code != 204 || rec.Header().Get("Access-Control-Allow-Origin") != "*" || rec.Header().Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("status %d, headers %q", rec.Code, rec.Header())
		}
	})
}

func TestCORSZeroValue(t *testing.T) {
	made := mustCORS(t, CORSOptions{})
	for name, c := range map[string]*CORS{"zero value": {}, "NewCORS(CORSOptions{})": made} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Origin", "https://example.com")
			rec := httptest.NewRecorder()
			c.Handler(http.NotFoundHandler()).ServeHTTP(rec, r)
			if got := corsHeaders(rec.Header()); len(got) != 0 {
				t.Errorf("actual request got %q", got)
			}
			rec = httptest.NewRecorder()
			c.Handler(http.NotFoundHandler()).ServeHTTP(rec, preflight("https://example.com", "GET", ""))
			if rec.Code != 403 || len(corsHeaders(rec.Header())) != 0 {
				t.Errorf("preflight: %d %q, want 403 without CORS headers", rec.Code, rec.Header())
			}
		})
	}
}

// TestCORSValuesNotShared: a handler changing a CORS value in place must
// not change what other responses get, and one appending to a value must
// not overwrite another value of its own response.
func TestCORSValuesNotShared(t *testing.T) {
	c := mustCORS(t, CORSOptions{AllowedOrigins: []string{"https://example.com"}, AllowCredentials: true})
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/mutate" {
			for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Expose-Headers", "Vary"} {
				w.Header()[k][0] = "mutated"
				w.Header().Add(k, "appended")
			}
		}
	}))
	t.Run("append", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Origin", "https://example.com")
		rec := httptest.NewRecorder()
		c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for k, v := range w.Header() {
				if cap(v) != 1 {
					t.Errorf("%s: capacity %d; Header.Add would write into a neighbour", k, cap(v))
				}
			}
			w.Header().Add("Vary", "Accept-Encoding")
			w.Header().Add("Access-Control-Allow-Origin", "x")
			w.Header().Add("Access-Control-Allow-Credentials", "y")
		})).ServeHTTP(rec, r)
		want := map[string][]string{
			"Access-Control-Allow-Origin":      {"https://example.com", "x"},
			"Access-Control-Allow-Credentials": {"true", "y"},
			"Access-Control-Expose-Headers":    {wantExpose},
		}
		if got := corsHeaders(rec.Header()); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("after appends: %q, want %q", got, want)
		}
		if got := rec.Header().Values("Vary"); fmt.Sprint(got) != "[Origin Accept-Encoding]" {
			t.Errorf("Vary = %q", got)
		}
	})
	for _, path := range []string{"/mutate", "/plain"} {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("Origin", "https://example.com")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if path == "/plain" {
			want := map[string][]string{
				"Access-Control-Allow-Origin":      {"https://example.com"},
				"Access-Control-Allow-Credentials": {"true"},
				"Access-Control-Expose-Headers":    {wantExpose},
			}
			if got := corsHeaders(rec.Header()); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("after a mutating handler: %q, want %q", got, want)
			}
		}
	}
}

func TestDefaultsAreCopies(t *testing.T) {
	DefaultAllowedHeaders()[0] = "X-Evil"
	DefaultAllowedMethods()[0] = "PROPFIND"
	DefaultExposedHeaders()[0] = "Set-Cookie"
	rec := httptest.NewRecorder()
	mustCORS(t, CORSOptions{AllowedOrigins: []string{"https://example.com"}}).Handler(http.NotFoundHandler()).
		ServeHTTP(rec, preflight("https://example.com", "PROPFIND", "x-evil"))
	if rec.Code != 403 {
		t.Errorf("a change to a returned default leaked into NewCORS: %d", rec.Code)
	}
}
