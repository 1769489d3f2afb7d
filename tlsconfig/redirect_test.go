package tlsconfig

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRedirectHandler(t *testing.T) {
	names := []string{"example.com", "www.example.com", "192.0.2.1", "2001:db8::1", "localhost", "::1"}
	tests := []struct {
		name, port, target, host string
		allowed                  []string
		code                     int
		location                 string
	}{
		{"root", "443", "/", "example.com", names, 308, "https://example.com/"},
		{"path and query", "443", "/items/42?limit=10&q=a%20b", "example.com", names, 308, "https://example.com/items/42?limit=10&q=a%20b"},
		{"escaped path kept", "443", "/a%2Fb/%C3%A9?x=%26", "example.com", names, 308, "https://example.com/a%2Fb/%C3%A9?x=%26"},
		{"HTTP port dropped", "443", "/", "example.com:80", names, 308, "https://example.com/"},
		{"other HTTPS port", "8443", "/x", "example.com:8080", names, 308, "https://example.com:8443/x"},
		{"port with colon", ":8443", "/x", "example.com", names, 308, "https://example.com:8443/x"},
		{"empty port is 443", "", "/x", "example.com", names, 308, "https://example.com/x"},
		{"upper case host", "443", "/", "WWW.Example.COM", names, 308, "https://www.example.com/"},
		{"trailing dot", "443", "/", "example.com.", names, 308, "https://example.com/"},
		{"localhost", "8443", "/", "localhost:8080", names, 308, "https://localhost:8443/"},
		{"IPv4", "8443", "/", "192.0.2.1:8080", names, 308, "https://192.0.2.1:8443/"},
		{"IPv6", "8443", "/", "[2001:db8::1]:8080", names, 308, "https://[2001:db8::1]:8443/"},
		{"IPv6 no port", "443", "/", "[::1]", names, 308, "https://[::1]/"},
		{"IPv6 long form", "443", "/", "[2001:0db8:0000::0001]", names, 308, "https://[2001:db8::1]/"},
		{"double slash stays on host", "443", "//evil.example/x", "example.com", names, 308, "https://example.com//evil.example/x"},
		{"allowed host", "443", "/", "API.example.com:80", []string{"api.example.com"}, 308, "https://api.example.com/"},
		{"not an allowed host", "443", "/", "evil.example", []string{"api.example.com"}, 400, ""},
		{"wildcard", "443", "/", "api.example.com", []string{"*.example.com"}, 308, "https://api.example.com/"},
		{"wildcard is one label", "443", "/", "a.b.example.com", []string{"*.example.com"}, 400, ""},
		{"wildcard is not the parent", "443", "/", "example.com", []string{"*.example.com"}, 400, ""},
		// With no names configured: the development certificate's names.
		{"default: localhost", "8443", "/x?y", "localhost:8080", nil, 308, "https://localhost:8443/x?y"},
		{"default: 127.0.0.1", "8443", "/", "127.0.0.1:8080", nil, 308, "https://127.0.0.1:8443/"},
		{"default: ::1", "8443", "/", "[::1]:8080", nil, 308, "https://[::1]:8443/"},
		{"default: any other host", "8443", "/", "evil.example", nil, 400, ""},
		{"default: another address", "8443", "/", "192.0.2.1:8080", nil, 400, ""},
		{"default: a subdomain of localhost", "8443", "/", "evil.localhost", nil, 400, ""},
		{"empty host", "443", "/", "", names, 400, ""},
		{"user info", "443", "/", "user@evil.example", names, 400, ""},
		{"bare IPv6", "443", "/", "::1", names, 400, ""},
		{"IPv6 zone", "443", "/", "[fe80::1%25eth0]", names, 400, ""},
		{"bad port", "443", "/", "example.com:99999", names, 400, ""},
		{"non-numeric port", "443", "/", "example.com:http", names, 400, ""},
		{"garbage after bracket", "443", "/", "[::1]x", names, 400, ""},
		{"percent escape", "443", "/", "evil%2eexample", names, 400, ""},
		{"backslash", "443", "/", `evil.example\@good.example`, names, 400, ""},
		{"label too long", "443", "/", strings.Repeat("a", 64) + ".example", names, 400, ""},
		{"name too long", "443", "/", strings.Repeat("abcdefghi.", 26) + "com", names, 400, ""},
		{"hyphen edge", "443", "/", "-evil.example", names, 400, ""},
		{"numeric TLD", "443", "/", "1.2.3", names, 400, ""},
		{"octal IPv4", "443", "/", "010.0.0.1", names, 400, ""},
		{"unicode", "443", "/", "exämple.com", names, 400, ""},
		{"empty label", "443", "/", "a..example", names, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "http://placeholder"+tt.target, nil)
			req.Host = tt.host
			rec := httptest.NewRecorder()
			RedirectHandler(tt.port, tt.allowed...).ServeHTTP(rec, req)
			if rec.Code != tt.code {
				t.Fatalf("status %d, want %d (body %q)", rec.Code, tt.code, rec.Body.String())
			}
			if got := rec.Header().Get("Location"); got != tt.location {
				t.Errorf("Location %q, want %q", got, tt.location)
			}
			if rec.Header().Get("Strict-Transport-Security") != "" {
				t.Error("HSTS sent over HTTP")
			}
			if tt.code == 400 {
				checkProblem(t, rec, "Host")
			}
		})
	}
}

// checkProblem checks that rec is a 400 problem document whose detail
// mentions want.
func checkProblem(t *testing.T, rec *httptest.ResponseRecorder, want string) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q", ct)
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	if p.Title != "Bad Request" || p.Status != 400 || p.Type != "" || !strings.Contains(p.Detail, want) {
		t.Errorf("problem %+v, want title Bad Request, status 400, a detail naming %q", p, want)
	}
}

// TestRedirectRefusesUnsafeRequests attacks the plain-HTTP listener with
// what a misconfigured client sends: credentials and state-changing
// requests are answered 400 "use HTTPS", never redirected (a 308 would
// make the client repeat them over HTTPS, succeed, and never notice that
// they also went out in clear text).
func TestRedirectRefusesUnsafeRequests(t *testing.T) {
	h := RedirectHandler("8443", "api.example.com")
	headers := []struct {
		name  string
		key   string
		value string
		creds bool
	}{
		{"no header", "", "", false},
		{"Accept", "Accept", "*/*", false},
		{"Authorization Bearer", "Authorization", "Bearer eyJhbGciOiJFZERTQSJ9.e30.sig", true},
		{"Authorization Basic", "Authorization", "Basic YWRtaW46c2VjcmV0", true},
		{"empty Authorization", "Authorization", "", true},
		{"session cookie", "Cookie", "__Host-session=abc", true},
		{"__Secure- cookie after another", "Cookie", "theme=dark; __Secure-sid=abc", true},
		{"unrelated cookie", "Cookie", "theme=dark", false},
		{"API key", "X-API-Key", "fk_live_0123456789", true},
		{"API key, lower case", "x-api-key", "fk_live_0123456789", true},
	}
	methods := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECTX"}
	for _, m := range methods {
		for _, hd := range headers {
			t.Run(m+" "+hd.name, func(t *testing.T) {
				req := httptest.NewRequest(m, "http://api.example.com/token?x=1", strings.NewReader("grant_type=password&username=admin&password=secret"))
				if hd.key != "" {
					req.Header.Set(hd.key, hd.value) // canonical, as net/http's server reads it
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				redirect := (m == "GET" || m == "HEAD") && !hd.creds
				if redirect {
					if rec.Code != 308 || rec.Header().Get("Location") != "https://api.example.com:8443/token?x=1" {
						t.Errorf("%d Location %q, want 308", rec.Code, rec.Header().Get("Location"))
					}
					return
				}
				if rec.Code != 400 || rec.Header().Get("Location") != "" {
					t.Fatalf("%d Location %q, want 400 without Location", rec.Code, rec.Header().Get("Location"))
				}
				if m == "HEAD" {
					if rec.Body.Len() != 0 {
						t.Errorf("HEAD answered with a body %q", rec.Body.String())
					}
					return
				}
				checkProblem(t, rec, "use HTTPS")
				if hd.value != "" && strings.Contains(rec.Body.String(), hd.value) {
					t.Errorf("the credential is echoed: %s", rec.Body.String())
				}
			})
		}
	}
}

// TestRedirectToCertificate redirects to the names the served
// certificate is valid for, read at each request.
func TestRedirectToCertificate(t *testing.T) {
	ca := newTestCA(t)
	first := ca.issueNow(t) // localhost, 127.0.0.1
	second, err := x509.ParseCertificate(newLeafFor(t, ca, "api.example.com", "*.apps.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	cur := first.tls.Leaf
	if cur == nil {
		cur, _ = x509.ParseCertificate(first.tls.Certificate[0])
	}
	h := RedirectToCertificate("8443", func() *x509.Certificate { return cur })
	try := func(host string) int {
		req := httptest.NewRequest("GET", "http://x/", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, tt := range []struct {
		host string
		code int
	}{{"localhost:8080", 308}, {"127.0.0.1", 308}, {"api.example.com", 400}, {"evil.example", 400}} {
		if got := try(tt.host); got != tt.code {
			t.Errorf("first certificate, %s: %d, want %d", tt.host, got, tt.code)
		}
	}
	cur = second
	for _, tt := range []struct {
		host string
		code int
	}{{"api.example.com", 308}, {"x.apps.example.com", 308}, {"x.y.apps.example.com", 400}, {"localhost", 400}} {
		if got := try(tt.host); got != tt.code {
			t.Errorf("second certificate, %s: %d, want %d", tt.host, got, tt.code)
		}
	}
}

// newLeafFor issues a certificate for dnsNames from ca, as DER.
func newLeafFor(t *testing.T, ca *testCA, dnsNames ...string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(4242),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dnsNames,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestRedirectHandlerOverTheWire(t *testing.T) {
	srv := httptest.NewServer(RedirectHandler("8443", "example.com", "example.org"))
	defer srv.Close()
	for _, tc := range []struct {
		request  string
		status   string
		location string
	}{
		{"GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\n\r\n", "308", "https://example.com:8443/a/b?c=d"},
		{"GET http://example.org/x?y HTTP/1.1\r\nHost: example.org\r\n\r\n", "308", "https://example.org:8443/x?y"},
		{"OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n", "200", ""}, // answered by net/http itself
		{"POST /token HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 48\r\n\r\ngrant_type=password&username=admin&password=pw12", "400", ""},
		{"GET / HTTP/1.0\r\n\r\n", "400", ""},
	} {
		t.Run(strings.Fields(tc.request)[1], func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(conn, tc.request)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if fmt.Sprint(resp.StatusCode) != tc.status || resp.Header.Get("Location") != tc.location {
				t.Errorf("%d %q, want %s %q", resp.StatusCode, resp.Header.Get("Location"), tc.status, tc.location)
			}
		})
	}
}

func TestRedirectHandlerPanicsOnBadConfig(t *testing.T) {
	for _, tc := range []struct {
		port  string
		hosts []string
	}{{"https", nil}, {"0", nil}, {"70000", nil}, {"443", []string{"bad host"}}, {"443", []string{"example.com:443"}},
		{"443", []string{"*.1.2.3"}}, {"443", []string{"[::1]"}}, {"443", []string{"fe80::1%eth0"}}} {
		t.Run(tc.port+strings.Join(tc.hosts, ","), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			RedirectHandler(tc.port, tc.hosts...)
		})
	}
}

func TestHSTS(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	tests := []struct {
		name    string
		maxAge  time.Duration
		subs    bool
		tls     bool
		want    string
		wantSet bool
	}{
		{"default over TLS", 0, false, true, "max-age=63072000", true},
		{"subdomains", 0, true, true, "max-age=63072000; includeSubDomains", true},
		{"one year", 365 * 24 * time.Hour, false, true, "max-age=31536000", true},
		{"negative is default", -time.Second, false, true, "max-age=63072000", true},
		{"never over HTTP", 0, true, false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "https://example.com/", nil)
			if tt.tls {
				req.TLS = &tls.ConnectionState{Version: tls.VersionTLS13}
			} else {
				req.TLS = nil
			}
			rec := httptest.NewRecorder()
			HSTS(ok, tt.maxAge, tt.subs).ServeHTTP(rec, req)
			got, set := rec.Header()["Strict-Transport-Security"]
			if set != tt.wantSet || set && got[0] != tt.want {
				t.Errorf("header %q (set %v), want %q", got, set, tt.want)
			}
			if rec.Body.String() != "ok" {
				t.Error("next handler not called")
			}
		})
	}
	// Over a real TLS connection.
	dc, err := DevCertificate(t.TempDir(), DevCertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Server()
	cfg.Certificates = []tls.Certificate{dc.Certificate}
	addr := serveTLS(t, cfg, HSTS(ok, 0, false))
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Strict-Transport-Security") != "max-age=63072000" {
		t.Errorf("HSTS over TLS: %q", resp.Header.Get("Strict-Transport-Security"))
	}
}
