package tlsconfig

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRedirectHandler(t *testing.T) {
	tests := []struct {
		name, port, method, target, host string
		allowed                          []string
		code                             int
		location                         string
	}{
		{"root", "443", "GET", "/", "example.com", nil, 308, "https://example.com/"},
		{"path and query", "443", "GET", "/items/42?limit=10&q=a%20b", "example.com", nil, 308, "https://example.com/items/42?limit=10&q=a%20b"},
		{"escaped path kept", "443", "GET", "/a%2Fb/%C3%A9?x=%26", "example.com", nil, 308, "https://example.com/a%2Fb/%C3%A9?x=%26"},
		{"POST keeps method via 308", "443", "POST", "/token", "example.com", nil, 308, "https://example.com/token"},
		{"HTTP port dropped", "443", "GET", "/", "example.com:80", nil, 308, "https://example.com/"},
		{"other HTTPS port", "8443", "GET", "/x", "example.com:8080", nil, 308, "https://example.com:8443/x"},
		{"port with colon", ":8443", "GET", "/x", "example.com", nil, 308, "https://example.com:8443/x"},
		{"empty port is 443", "", "GET", "/x", "example.com", nil, 308, "https://example.com/x"},
		{"upper case host", "443", "GET", "/", "WWW.Example.COM", nil, 308, "https://www.example.com/"},
		{"trailing dot", "443", "GET", "/", "example.com.", nil, 308, "https://example.com/"},
		{"localhost", "8443", "GET", "/", "localhost:8080", nil, 308, "https://localhost:8443/"},
		{"IPv4", "8443", "GET", "/", "192.0.2.1:8080", nil, 308, "https://192.0.2.1:8443/"},
		{"IPv6", "8443", "GET", "/", "[2001:db8::1]:8080", nil, 308, "https://[2001:db8::1]:8443/"},
		{"IPv6 no port", "443", "GET", "/", "[::1]", nil, 308, "https://[::1]/"},
		{"IPv6 long form", "443", "GET", "/", "[2001:0db8:0000::0001]", nil, 308, "https://[2001:db8::1]/"},
		{"double slash stays on host", "443", "GET", "//evil.example/x", "example.com", nil, 308, "https://example.com//evil.example/x"},
		{"allowed host", "443", "GET", "/", "API.example.com:80", []string{"api.example.com"}, 308, "https://api.example.com/"},
		{"not an allowed host", "443", "GET", "/", "evil.example", []string{"api.example.com"}, 400, ""},
		{"empty host", "443", "GET", "/", "", nil, 400, ""},
		{"user info", "443", "GET", "/", "user@evil.example", nil, 400, ""},
		{"bare IPv6", "443", "GET", "/", "::1", nil, 400, ""},
		{"IPv6 zone", "443", "GET", "/", "[fe80::1%25eth0]", nil, 400, ""},
		{"bad port", "443", "GET", "/", "example.com:99999", nil, 400, ""},
		{"non-numeric port", "443", "GET", "/", "example.com:http", nil, 400, ""},
		{"garbage after bracket", "443", "GET", "/", "[::1]x", nil, 400, ""},
		{"percent escape", "443", "GET", "/", "evil%2eexample", nil, 400, ""},
		{"backslash", "443", "GET", "/", `evil.example\@good.example`, nil, 400, ""},
		{"label too long", "443", "GET", "/", strings.Repeat("a", 64) + ".example", nil, 400, ""},
		{"name too long", "443", "GET", "/", strings.Repeat("abcdefghi.", 26) + "com", nil, 400, ""},
		{"hyphen edge", "443", "GET", "/", "-evil.example", nil, 400, ""},
		{"numeric TLD", "443", "GET", "/", "1.2.3", nil, 400, ""},
		{"octal IPv4", "443", "GET", "/", "010.0.0.1", nil, 400, ""},
		{"unicode", "443", "GET", "/", "exämple.com", nil, 400, ""},
		{"empty label", "443", "GET", "/", "a..example", nil, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "http://placeholder"+tt.target, strings.NewReader("body"))
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
		})
	}
}

func TestRedirectHandlerOverTheWire(t *testing.T) {
	srv := httptest.NewServer(RedirectHandler("8443"))
	defer srv.Close()
	for _, tc := range []struct {
		request  string
		status   string
		location string
	}{
		{"GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\n\r\n", "308", "https://example.com:8443/a/b?c=d"},
		{"GET http://example.org/x?y HTTP/1.1\r\nHost: example.org\r\n\r\n", "308", "https://example.org:8443/x?y"},
		{"OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n", "200", ""}, // answered by net/http itself
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
	}{{"https", nil}, {"0", nil}, {"70000", nil}, {"443", []string{"bad host"}}} {
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
		{"default over TLS", 0, false, true, "max-age=31536000", true},
		{"subdomains", 0, true, true, "max-age=31536000; includeSubDomains", true},
		{"two years", 2 * 365 * 24 * time.Hour, false, true, "max-age=63072000", true},
		{"negative is default", -time.Second, false, true, "max-age=31536000", true},
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
	if resp.Header.Get("Strict-Transport-Security") != "max-age=31536000" {
		t.Errorf("HSTS over TLS: %q", resp.Header.Get("Strict-Transport-Security"))
	}
}
