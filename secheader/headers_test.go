package secheader

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/problem"
)

// fixed are the headers every response gets, whatever the request.
var fixed = map[string]string{
	"X-Content-Type-Options":       "nosniff",
	"Referrer-Policy":              "no-referrer",
	"X-Frame-Options":              "DENY",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
	"Permissions-Policy":           PermissionsPolicy,
}

const (
	wantAPIPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
	wantHSTS      = "max-age=63072000; includeSubDomains"
)

// wantHTMLPolicy is the HTML policy for nonce, written out independently
// of the constants that build it.
func wantHTMLPolicy(nonce string) string {
	return "default-src 'self'; script-src 'nonce-" + nonce + "' 'strict-dynamic'; style-src 'self' 'nonce-" + nonce +
		"'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

func mustNew(t testing.TB, o Options) *Headers {
	t.Helper()
	h, err := New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	return h
}

// htmlPage answers with a page whose script carries the nonce.
func htmlPage(h *Headers) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		nonce, err := h.HTML(w)
		if err != nil {
			http.Error(w, "no nonce", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><script nonce="%s">1</script>`, nonce)
	}
}

func TestKeysAreCanonical(t *testing.T) {
	for _, k := range []string{keySTS, keyCTO, keyReferrer, keyFrame, keyCOOP, keyCORP, keyPermission, keyCSP, keyReporting, keyCache,
		keyOrigin, keyVary, keyACAO, keyACAC, keyACEH, keyACAM, keyACAH, keyACMA, keyACRM, keyACRH} {
		if c := textproto.CanonicalMIMEHeaderKey(k); c != k {
			t.Errorf("key %q is not canonical (%q): direct map access would miss it", k, c)
		}
	}
}

func TestEveryResponseGetsTheHeaders(t *testing.T) {
	h := mustNew(t, Options{})
	cases := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		html    bool
	}{
		{"json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true}`)
		}, 200, false},
		{"html", htmlPage(h), 200, true},
		{"not found", http.NotFound, 404, false},
		{"http.Error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}, 500, false},
		{"problem", func(w http.ResponseWriter, r *http.Request) {
			problem.Write(w, r, http.StatusUnprocessableEntity, "bad input")
		}, 422, false},
		{"empty", func(w http.ResponseWriter, r *http.Request) {}, 200, false},
		{"no content", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, 204, false},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, 302, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(h.Handler(tc.handler))
			defer srv.Close()
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := client.Get(srv.URL + "/x")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			for k, want := range fixed {
				if got := resp.Header.Values(k); len(got) != 1 || got[0] != want {
					t.Errorf("%s = %q, want [%q]", k, got, want)
				}
			}
			csp := resp.Header.Values("Content-Security-Policy")
			if len(csp) != 1 {
				t.Fatalf("Content-Security-Policy = %q, want one", csp)
			}
			if tc.html {
				nonce := nonceOf(t, csp[0])
				if csp[0] != wantHTMLPolicy(nonce) {
					t.Errorf("CSP = %q, want %q", csp[0], wantHTMLPolicy(nonce))
				}
				if !strings.Contains(string(body), `nonce="`+nonce+`"`) {
					t.Errorf("body %q lacks the nonce %q", body, nonce)
				}
			} else if csp[0] != wantAPIPolicy {
				t.Errorf("CSP = %q, want %q", csp[0], wantAPIPolicy)
			}
			if v := resp.Header.Values("Strict-Transport-Security"); v != nil {
				t.Errorf("HSTS over plain HTTP: %q", v)
			}
			if v := resp.Header.Values("Cache-Control"); v != nil && tc.name != "problem" {
				t.Errorf("anonymous request got Cache-Control %q", v)
			}
		})
	}
}

func TestPermissionsPolicyDisablesEachFeature(t *testing.T) {
	seen := map[string]bool{}
	for item := range strings.SplitSeq(PermissionsPolicy, ",") {
		feature, allow, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || allow != "()" {
			t.Errorf("item %q does not disable its feature (want feature=())", item)
		}
		if seen[feature] {
			t.Errorf("feature %q listed twice", feature)
		}
		seen[feature] = true
	}
	for _, f := range []string{"camera", "microphone", "geolocation", "payment", "usb", "interest-cohort", "browsing-topics"} {
		if !seen[f] {
			t.Errorf("feature %q not disabled", f)
		}
	}
}

func TestHSTS(t *testing.T) {
	cases := []struct {
		name string
		tls  bool
		opts Options
		want string // "" = absent
	}{
		{"plain http", false, Options{}, ""},
		{"tls", true, Options{}, wantHSTS},
		{"plain http, AssumeTLS", false, Options{AssumeTLS: true}, wantHSTS},
		{"tls, DisableHSTS", true, Options{DisableHSTS: true}, ""},
		{"AssumeTLS, DisableHSTS", false, Options{AssumeTLS: true, DisableHSTS: true}, ""},
		{"tls, one day", true, Options{HSTSMaxAge: 24 * time.Hour}, "max-age=86400; includeSubDomains"},
		{"tls, fraction dropped", true, Options{HSTSMaxAge: 24*time.Hour + 1500*time.Millisecond}, "max-age=86401; includeSubDomains"},
		{"tls, preload", true, Options{HSTSPreload: true}, wantHSTS + "; preload"},
		{"tls, preload one year", true, Options{HSTSPreload: true, HSTSMaxAge: 365 * 24 * time.Hour}, "max-age=31536000; includeSubDomains; preload"},
		{"tls, subdomains excluded", true, Options{HSTSSubdomains: SubdomainsExclude}, "max-age=63072000"},
		{"tls, subdomains included", true, Options{HSTSSubdomains: SubdomainsInclude}, wantHSTS},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			handler := mustNew(t, tc.opts).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			req := httptest.NewRequest("GET", "https://api.example.com/", nil)
			if !tc.tls {
				req.TLS = nil
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			got := rec.Header().Values("Strict-Transport-Security")
			switch {
			case tc.want == "" && got != nil:
				t.Errorf("HSTS = %q, want none", got)
			case tc.want != "" && (len(got) != 1 || got[0] != tc.want):
				t.Errorf("HSTS = %q, want [%q]", got, tc.want)
			}
		})
	}
}

// TestHSTSLocalHosts: by default a development host (localhost, a
// *.localhost name, an IP address) gets HSTS without includeSubDomains or
// preload, so a dev machine's other local sites are not pinned to HTTPS;
// an explicit choice is respected there too. One case goes over a real
// TLS connection to 127.0.0.1.
func TestHSTSLocalHosts(t *testing.T) {
	t.Parallel()
	local := "max-age=63072000"
	cases := []struct {
		host string
		opts Options
		want string
	}{
		{"localhost", Options{}, local},
		{"localhost:8443", Options{}, local},
		{"LOCALHOST.", Options{}, local},
		{"app.localhost:8443", Options{}, local},
		{"127.0.0.1:8443", Options{}, local},
		{"[::1]:8443", Options{}, local},
		{"10.0.0.7", Options{}, local},
		{"localhost", Options{HSTSPreload: true}, local},
		{"localhost", Options{HSTSSubdomains: SubdomainsInclude}, wantHSTS},
		{"notlocalhost", Options{}, wantHSTS},
		{"localhost.example.com", Options{}, wantHSTS},
		{"api.example.com:443", Options{}, wantHSTS},
		{"v2", Options{}, wantHSTS},
		{"1password.com", Options{}, wantHSTS},
	}
	for _, tc := range cases {
		t.Run(tc.host, func(t *testing.T) {
			handler := mustNew(t, tc.opts).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			req := httptest.NewRequest("GET", "https://example.com/", nil)
			req.Host = tc.host
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if got := rec.Header().Get("Strict-Transport-Security"); got != tc.want {
				t.Errorf("Host %q: HSTS = %q, want %q", tc.host, got, tc.want)
			}
		})
	}
	srv := httptest.NewTLSServer(mustNew(t, Options{}).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Strict-Transport-Security"); got != local {
		t.Errorf("over TLS to %s: HSTS = %q, want %q", srv.URL, got, local)
	}
}

// TestHSTSOptionsRefused: contradictions are errors, never silently fixed.
func TestHSTSOptionsRefused(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]Options{
		"disable and subdomains":  {DisableHSTS: true, HSTSSubdomains: SubdomainsInclude},
		"preload without subs":    {HSTSPreload: true, HSTSSubdomains: SubdomainsExclude},
		"negative max-age":        {HSTSMaxAge: -time.Second},
		"unknown subdomains mode": {HSTSSubdomains: 9},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: New(%+v) succeeded", name, o)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		want string // in the error
	}{
		{"max-age below a day", Options{HSTSMaxAge: 23 * time.Hour}, "below the minimum"},
		{"negative max-age", Options{HSTSMaxAge: -time.Hour}, "is negative"},
		{"disable with max-age", Options{DisableHSTS: true, HSTSMaxAge: 48 * time.Hour}, "contradicts"},
		{"disable with preload", Options{DisableHSTS: true, HSTSPreload: true}, "contradicts"},
		{"preload below a year", Options{HSTSPreload: true, HSTSMaxAge: 30 * 24 * time.Hour}, "preload needs includeSubDomains and a max-age of at least"},
		{"report over http", Options{ReportURI: "http://r.example/csp"}, `"http://r.example/csp"`},
		{"report with user info", Options{ReportURI: "https://u:p@r.example/csp"}, "user info"},
		{"report scheme-relative", Options{ReportURI: "//r.example/csp"}, `"//r.example/csp"`},
		{"report relative path", Options{ReportURI: "csp"}, `"csp"`},
		{"report javascript", Options{ReportURI: "javascript:alert(1)"}, "javascript"},
		{"report directive injection", Options{ReportURI: "/csp; script-src *"}, "space"},
		{"report semicolon", Options{ReportURI: "/csp;script-src"}, "; ,"},
		{"report comma", Options{ReportURI: "/csp,script-src"}, "; ,"},
		{"report quote", Options{ReportURI: `/csp"`}, "; ,"},
		{"report newline", Options{ReportURI: "/csp\r\nSet-Cookie: a=b"}, "control"},
		{"report fragment", Options{ReportURI: "https://r.example/csp#x"}, "fragment"},
		{"report non-ASCII", Options{ReportURI: "/cspé"}, "non-ASCII"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := New(tc.opts)
			if err == nil {
				t.Fatalf("New(%+v) = %v, nil; want an error", tc.opts, h)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestReportURI(t *testing.T) {
	cases := []struct{ uri string }{{"/csp-reports"}, {"https://reports.example/csp?app=1"}}
	for _, tc := range cases {
		t.Run(tc.uri, func(t *testing.T) {
			h := mustNew(t, Options{ReportURI: tc.uri})
			rec := httptest.NewRecorder()
			var nonce string
			h.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/page" {
					nonce, _ = h.HTML(w)
				}
			})).ServeHTTP(rec, httptest.NewRequest("GET", "/page", nil))
			suffix := "; report-uri " + tc.uri + "; report-to csp-endpoint"
			if got, want := rec.Header().Get("Content-Security-Policy"), wantHTMLPolicy(nonce)+suffix; got != want {
				t.Errorf("HTML CSP = %q, want %q", got, want)
			}
			if got, want := rec.Header().Get("Reporting-Endpoints"), `csp-endpoint="`+tc.uri+`"`; got != want {
				t.Errorf("Reporting-Endpoints = %q, want %q", got, want)
			}
			rec = httptest.NewRecorder()
			h.Handler(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/api", nil))
			if got, want := rec.Header().Get("Content-Security-Policy"), wantAPIPolicy+suffix; got != want {
				t.Errorf("API CSP = %q, want %q", got, want)
			}
		})
	}
	t.Run("off by default", func(t *testing.T) {
		rec := httptest.NewRecorder()
		mustNew(t, Options{}).Handler(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if v := rec.Header().Values("Reporting-Endpoints"); v != nil {
			t.Errorf("Reporting-Endpoints = %q without ReportURI", v)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); strings.Contains(csp, "report") {
			t.Errorf("CSP %q reports without ReportURI", csp)
		}
	})
}

// nonceOf extracts the script-src nonce of an HTML policy and checks the
// script-src directive holds nothing but that nonce and 'strict-dynamic'.
func nonceOf(t *testing.T, csp string) string {
	t.Helper()
	var nonce string
	for dir := range strings.SplitSeq(csp, ";") {
		f := strings.Fields(dir)
		if len(f) == 0 || f[0] != "script-src" {
			continue
		}
		for _, src := range f[1:] {
			switch {
			case strings.HasPrefix(src, "'nonce-") && strings.HasSuffix(src, "'"):
				nonce = src[len("'nonce-") : len(src)-1]
			case src == "'strict-dynamic'":
			default:
				t.Errorf("script-src source %q: want only a nonce and 'strict-dynamic' (no unsafe-*, no host, no scheme)", src)
			}
		}
	}
	if nonce == "" {
		t.Fatalf("no script-src nonce in %q", csp)
	}
	raw, err := base64.StdEncoding.DecodeString(nonce)
	if err != nil || len(raw) < 16 {
		t.Fatalf("nonce %q: %d bytes, %v; want base64 of at least 128 bits", nonce, len(raw), err)
	}
	return nonce
}

func TestHTMLNonceFreshPerResponse(t *testing.T) {
	h := mustNew(t, Options{})
	srv := httptest.NewServer(h.Handler(htmlPage(h)))
	defer srv.Close()
	seen := map[string]bool{}
	for i := range 50 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		nonce := nonceOf(t, csp)
		if strings.Count(csp, "'nonce-"+nonce+"'") != 2 {
			t.Errorf("response %d: nonce not in both script-src and style-src: %q", i, csp)
		}
		if !bytes.Contains(body, []byte(`nonce="`+nonce+`"`)) {
			t.Errorf("response %d: body lacks the header's nonce", i)
		}
		if seen[nonce] {
			t.Fatalf("response %d repeats nonce %q", i, nonce)
		}
		seen[nonce] = true
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestHTMLRand(t *testing.T) {
	seq := make([]byte, NonceBytes)
	for i := range seq {
		seq[i] = byte(i * 37)
	}
	cases := []struct {
		name    string
		rand    io.Reader
		want    string // nonce; "" = error expected
		wantErr string
	}{
		{"injected", bytes.NewReader(seq), base64.StdEncoding.EncodeToString(seq), ""},
		{"failing", failingReader{}, "", "no entropy"},
		{"short", bytes.NewReader(seq[:NonceBytes-1]), "", "unexpected EOF"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := mustNew(t, Options{Rand: tc.rand})
			rec := httptest.NewRecorder()
			var nonce string
			var err error
			h.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				nonce, err = h.HTML(w)
			})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			csp := rec.Header().Get("Content-Security-Policy")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("HTML error %v, want one containing %q", err, tc.wantErr)
				}
				if nonce != "" || csp != wantAPIPolicy {
					t.Errorf("after a failure: nonce %q, CSP %q; want none and the API policy", nonce, csp)
				}
				return
			}
			if err != nil || nonce != tc.want {
				t.Fatalf("HTML = %q, %v; want %q", nonce, err, tc.want)
			}
			if csp != wantHTMLPolicy(tc.want) {
				t.Errorf("CSP %q, want %q", csp, wantHTMLPolicy(tc.want))
			}
		})
	}
}

func TestHandlerMayReplaceAHeader(t *testing.T) {
	const docsCSP = "default-src 'none'; script-src 'self'"
	h := mustNew(t, Options{})
	rec := httptest.NewRecorder()
	h.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", docsCSP)
		w.Header().Set("X-Frame-Options", "SAMEORIGIN")
	})).ServeHTTP(rec, httptest.NewRequest("GET", "/docs", nil))
	if got := rec.Header().Values("Content-Security-Policy"); len(got) != 1 || got[0] != docsCSP {
		t.Errorf("CSP = %q, want the handler's [%q]", got, docsCSP)
	}
	if got := rec.Header().Get("X-Frame-Options"); got != "SAMEORIGIN" {
		t.Errorf("X-Frame-Options = %q, want the handler's", got)
	}
}

// TestValuesNotShared attacks the precomputed values: handlers that change
// a header value in place or append to it, concurrently, must not change
// what any other response gets (run with -race).
func TestValuesNotShared(t *testing.T) {
	h := mustNew(t, Options{AssumeTLS: true})
	mutate := h.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		for k := range fixed {
			hdr[k][0] = "mutated"
		}
		hdr["Content-Security-Policy"][0] = "mutated"
		hdr["Strict-Transport-Security"][0] = "mutated"
		hdr["Cache-Control"][0] = "mutated"
		hdr.Add("X-Frame-Options", "appended")
		hdr.Add("Referrer-Policy", "appended")
	}))
	plain := h.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	check := func(t *testing.T, hdr http.Header) {
		for k, want := range fixed {
			if got := hdr[k]; len(got) != 1 || got[0] != want {
				t.Errorf("%s = %q after another handler's change, want [%q]", k, got, want)
			}
		}
		if got := hdr.Get("Content-Security-Policy"); got != wantAPIPolicy {
			t.Errorf("CSP = %q after another handler's change", got)
		}
		if got := hdr.Get("Strict-Transport-Security"); got != wantHSTS {
			t.Errorf("HSTS = %q after another handler's change", got)
		}
		if got := hdr.Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control = %q after another handler's change", got)
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Set("Authorization", "Bearer x")
				mutate.ServeHTTP(httptest.NewRecorder(), r)
				rec := httptest.NewRecorder()
				plain.ServeHTTP(rec, r)
				check(t, rec.Header())
			}
		})
	}
	wg.Wait()

	t.Run("capacity", func(t *testing.T) {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", "a=b")
		plain.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			if cap(v) != 1 {
				t.Errorf("%s: capacity %d; an append by the handler would write into a shared array", k, cap(v))
			}
		}
	})
}

// credentialedRequest returns a GET with the given kind of credentials.
func credentialedRequest(t *testing.T, url, kind string) *http.Request {
	t.Helper()
	r, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	switch kind {
	case "authorization":
		r.Header.Set("Authorization", "Bearer secret")
	case "cookie":
		r.Header.Set("Cookie", "session=secret")
	case "empty authorization":
		r.Header["Authorization"] = []string{""}
	}
	return r
}

func TestCacheControl(t *testing.T) {
	h := mustNew(t, Options{})
	setPublic := func(w http.ResponseWriter) {
		w.Header().Set("Cache-Control", "public, max-age=300")
	}
	handlers := map[string]http.HandlerFunc{
		"sets public": func(w http.ResponseWriter, r *http.Request) {
			setPublic(w)
			_, _ = io.WriteString(w, "data")
		},
		"sets public, WriteHeader": func(w http.ResponseWriter, r *http.Request) {
			setPublic(w)
			w.WriteHeader(http.StatusOK)
		},
		"deletes it": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Del("Cache-Control")
		},
		"sets public, flushes": func(w http.ResponseWriter, r *http.Request) {
			setPublic(w)
			_ = http.NewResponseController(w).Flush()
		},
		"sets public, io.Copy": func(w http.ResponseWriter, r *http.Request) {
			setPublic(w)
			_, _ = io.Copy(w, strings.NewReader("data"))
		},
		"sets public after 103": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</app.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			setPublic(w)
			w.WriteHeader(http.StatusOK)
		},
		"sets CDN overrides": func(w http.ResponseWriter, r *http.Request) {
			setPublic(w)
			w.Header().Set("CDN-Cache-Control", "max-age=300")
			w.Header().Set("Cloudflare-CDN-Cache-Control", "max-age=300")
			w.Header().Set("Surrogate-Control", "max-age=300")
			w.Header()["cdn-cache-control"] = []string{"max-age=300"} // not canonical
			w.Header().Set("X-Cache-Control", "max-age=300")          // the shortest vendor variant
			w.Header()["SURROGATE-CONTROL"] = []string{"max-age=300"}
		},
	}
	srv := httptest.NewServer(h.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers[r.URL.Query().Get("h")](w, r)
	})))
	defer srv.Close()

	for name := range handlers {
		for _, kind := range []string{"anonymous", "authorization", "cookie", "empty authorization"} {
			t.Run(name+"/"+kind, func(t *testing.T) {
				r := credentialedRequest(t, srv.URL+"/?h="+url.QueryEscape(name), kind)
				resp, err := http.DefaultClient.Do(r)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				got := resp.Header.Values("Cache-Control")
				var want []string
				switch {
				case kind != "anonymous":
					want = []string{"no-store"}
				case name != "deletes it":
					want = []string{"public, max-age=300"}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("Cache-Control = %q, want %q", got, want)
				}
				if kind != "anonymous" {
					for _, k := range []string{"CDN-Cache-Control", "Cloudflare-CDN-Cache-Control", "Surrogate-Control", "X-Cache-Control"} {
						if v := resp.Header.Values(k); v != nil {
							t.Errorf("%s = %q survived on a credentialed response", k, v)
						}
					}
				}
			})
		}
	}
}

func TestCredentialed(t *testing.T) {
	cases := []struct {
		name string
		mod  func(r *http.Request)
		want bool
	}{
		{"anonymous", func(r *http.Request) {}, false},
		{"authorization", func(r *http.Request) { r.Header.Set("Authorization", "Basic eDp5") }, true},
		{"cookie", func(r *http.Request) { r.Header.Set("Cookie", "a=b") }, true},
		{"tls without client certificate", func(r *http.Request) { r.TLS = &tls.ConnectionState{} }, false},
		{"client certificate", func(r *http.Request) {
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{}}}
		}, true},
		{"other header", func(r *http.Request) { r.Header.Set("X-Api-Key", "k") }, false},
	}
	h := mustNew(t, Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			tc.mod(r)
			if got := credentialed(r); got != tc.want {
				t.Errorf("credentialed = %v, want %v", got, tc.want)
			}
			rec := httptest.NewRecorder()
			h.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "public, max-age=300")
			})).ServeHTTP(rec, r)
			if got := rec.Header().Get("Cache-Control") == "no-store"; got != tc.want {
				t.Errorf("Cache-Control %q; no-store expected: %v", rec.Header().Get("Cache-Control"), tc.want)
			}
		})
	}
}

// TestFlushAndHijack checks that streaming and connection takeover work
// through Handler, with and without the no-store writer, against a real
// server.
func TestFlushAndHijack(t *testing.T) {
	h := mustNew(t, Options{})
	for _, kind := range []string{"anonymous", "cookie"} {
		t.Run("flush/"+kind, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(h.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rc := http.NewResponseController(w)
				if err := rc.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
					t.Errorf("SetWriteDeadline through the wrapper: %v", err)
				}
				w.Header().Set("Cache-Control", "public, max-age=300")
				_, _ = io.WriteString(w, "first\n")
				if err := rc.Flush(); err != nil {
					t.Errorf("ResponseController.Flush: %v", err)
				}
				select {
				case <-release:
				case <-time.After(10 * time.Second):
					t.Error("client never saw the flushed line")
				}
				_, _ = io.WriteString(w, "second\n")
				w.(http.Flusher).Flush()
			})))
			defer srv.Close()
			resp, err := http.DefaultClient.Do(credentialedRequest(t, srv.URL, kind))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			line, err := br.ReadString('\n')
			close(release) // only reached if the first line arrived before the handler returned
			if err != nil || line != "first\n" {
				t.Fatalf("first line %q, %v", line, err)
			}
			if line, err = br.ReadString('\n'); err != nil || line != "second\n" {
				t.Fatalf("second line %q, %v", line, err)
			}
			wantCC := "public, max-age=300"
			if kind != "anonymous" {
				wantCC = "no-store"
			}
			if got := resp.Header.Get("Cache-Control"); got != wantCC {
				t.Errorf("Cache-Control = %q, want %q", got, wantCC)
			}
		})

		for _, via := range []string{"ResponseController", "type assertion"} {
			t.Run("hijack/"+kind+"/"+via, func(t *testing.T) {
				srv := httptest.NewServer(h.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					var conn net.Conn
					var brw *bufio.ReadWriter
					var err error
					if via == "ResponseController" {
						conn, brw, err = http.NewResponseController(w).Hijack()
					} else {
						hj, ok := w.(http.Hijacker)
						if !ok {
							t.Error("writer is not an http.Hijacker")
							return
						}
						conn, brw, err = hj.Hijack()
					}
					if err != nil {
						t.Errorf("Hijack: %v", err)
						return
					}
					defer conn.Close()
					_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
					_ = brw.Flush()
					line, _ := brw.ReadString('\n')
					_, _ = brw.WriteString("echo " + line)
					_ = brw.Flush()
				})))
				defer srv.Close()
				conn, err := net.Dial("tcp", srv.Listener.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				cookie := ""
				if kind == "cookie" {
					cookie = "Cookie: session=secret\r\n"
				}
				fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n%s\r\n", cookie)
				br := bufio.NewReader(conn)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != http.StatusSwitchingProtocols {
					t.Fatalf("status %d, want 101", resp.StatusCode)
				}
				fmt.Fprintf(conn, "hello\n")
				if line, err := br.ReadString('\n'); err != nil || line != "echo hello\n" {
					t.Fatalf("echo %q, %v", line, err)
				}
			})
		}
	}
}

// TestHTTP2HijackRefused: over HTTP/2 a connection cannot be hijacked;
// the error says so, and the normal answer that follows is still forced
// to no-store.
func TestHTTP2HijackRefused(t *testing.T) {
	h := mustNew(t, Options{})
	srv := httptest.NewUnstartedServer(h.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, err := http.NewResponseController(w).Hijack(); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("ResponseController.Hijack over HTTP/2: %v, want http.ErrNotSupported", err)
		}
		if _, _, err := w.(http.Hijacker).Hijack(); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("Hijack over HTTP/2: %v, want http.ErrNotSupported", err)
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = io.WriteString(w, "data")
	})))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	resp, err := srv.Client().Do(credentialedRequest(t, srv.URL, "cookie"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("protocol %s, want HTTP/2", resp.Proto)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q after a refused hijack, want no-store", got)
	}
	// httptest serves 127.0.0.1: a local host, no includeSubDomains.
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=63072000" {
		t.Errorf("HSTS = %q over HTTP/2, want %q", got, "max-age=63072000")
	}
}

func TestReadFromWithoutReaderFrom(t *testing.T) {
	// A writer below without ReadFrom (a recorder) still gets the body,
	// once, with no-store.
	h := mustNew(t, Options{})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer x")
	rec := httptest.NewRecorder()
	h.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public")
		n, err := w.(io.ReaderFrom).ReadFrom(strings.NewReader("payload"))
		if n != 7 || err != nil {
			t.Errorf("ReadFrom = %d, %v", n, err)
		}
	})).ServeHTTP(rec, r)
	if rec.Body.String() != "payload" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("body %q, Cache-Control %q", rec.Body.String(), rec.Header().Get("Cache-Control"))
	}
}

func TestZeroHeaders(t *testing.T) {
	var h Headers
	if _, err := h.HTML(httptest.NewRecorder()); err == nil {
		t.Error("HTML on a zero Headers: no error")
	}
	defer func() {
		if recover() == nil {
			t.Error("Handler on a zero Headers did not panic")
		}
	}()
	h.Handler(http.NotFoundHandler())
}
