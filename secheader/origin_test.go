package secheader

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestNormalizeOrigin(t *testing.T) {
	cases := []struct {
		in, want string // want "" = refused
	}{
		{"https://example.com", "https://example.com"},
		{"HTTPS://EXAMPLE.COM", "https://example.com"},
		{"https://Example.Com:443", "https://example.com"},
		{"http://example.com:80", "http://example.com"},
		{"http://example.com:443", "http://example.com:443"},
		{"https://example.com:80", "https://example.com:80"},
		{"wss://example.com:443", "wss://example.com"},
		{"https://example.com:8443", "https://example.com:8443"},
		{"https://a-b_c.example", "https://a-b_c.example"},
		{"https://xn--bcher-kva.example", "https://xn--bcher-kva.example"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http://[::1]:8080", "http://[::1]:8080"},
		{"http://[0:0:0:0:0:0:0:1]", "http://[::1]"},
		{"https://[2001:DB8::1]:443", "https://[2001:db8::1]"},
		{"capacitor://localhost", "capacitor://localhost"},
		{"Chrome-Extension://ABC", "chrome-extension://abc"},
		{"https://1example.com", "https://1example.com"},
		{"https://example.0x", ""},
		{"https://example.0xg", "https://example.0xg"},
		{"null", ""},
		{"", ""},
		{"https://", ""},
		{"https://example.com/", ""},
		{"https://example.com.", ""},
		{".example.com", ""},
		{"https://.example.com", ""},
		{"https://example.com:", ""},
		{"https://example.com:00443", ""},
		{"https://example.com:+443", ""},
		{"https://example.com:-1", ""},
		{"https://example.com:99999", ""},
		{"https://127.000.0.1", ""},
		{"https://256.0.0.1", ""},
		{"https://1.2.3", ""},
		{"https://[::1]x", ""},
		{"https://[::1]:", ""},
		{"https://[]", ""},
		{"https://[127.0.0.1]", ""},
		{"https://ex ample.com", ""},
		{"https://exa\tmple.com", ""},
		{"https://example.com\\", ""},
		{"https://example.com\\@evil.net", ""},
		{"https://" + strings.Repeat("a", 64) + ".com", ""},
		{"https://" + strings.Repeat("a.", 127) + "a", ""},
		{"https://" + strings.Repeat("a", 63) + ".com", "https://" + strings.Repeat("a", 63) + ".com"},
		{"https://" + strings.Repeat("a", 600), ""},
		{"ht_tp://example.com", ""},
		{"://example.com", ""},
	}
	for _, tc := range cases {
		t.Run(strconv.Quote(tc.in), func(t *testing.T) {
			got, err := normalizeOrigin(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Errorf("normalizeOrigin(%q) = %q, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("normalizeOrigin(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestNormalizeOriginDoesNotAllocateWhenNormal(t *testing.T) {
	for _, s := range []string{"https://example.com", "http://localhost:3000"} {
		if n := testing.AllocsPerRun(100, func() { _, _ = normalizeOrigin(s) }); n != 0 {
			t.Errorf("normalizeOrigin(%q): %v allocations", s, n)
		}
	}
}

// fuzzAllowlist is what FuzzOrigin matches against.
var fuzzAllowlist = []string{
	"https://example.com",
	"http://localhost:3000",
	"https://[::1]:8443",
	"https://127.0.0.1",
	"capacitor://localhost",
}

// referenceOrigin normalises s with net/url and net/netip instead of
// normalizeOrigin's own scanner, for FuzzOrigin to compare against. It
// accepts a superset of what a browser would send (url.Parse is lenient);
// ok=false means s is certainly not an origin.
func referenceOrigin(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Opaque != "" || u.User != nil || u.Path != "" || u.RawPath != "" ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || !strings.HasPrefix(s[len(u.Scheme):], "://") || strings.ContainsAny(s[len(u.Scheme)+3:], "/?#") {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
		host = "[" + a.String() + "]"
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if (scheme == "https" || scheme == "wss") && port == "443" || (scheme == "http" || scheme == "ws") && port == "80" || scheme == "ftp" && port == "21" {
		port = ""
	}
	if port != "" {
		return scheme + "://" + host + ":" + port, true
	}
	return scheme + "://" + host, true
}

// FuzzOrigin checks the origin parser never panics, is idempotent, and
// never lets an origin through that is not exactly a listed one after
// normalisation, whatever its spelling.
func FuzzOrigin(f *testing.F) {
	for _, s := range append(append([]string{}, lookAlikes...), fuzzAllowlist...) {
		f.Add(s)
	}
	for _, s := range []string{"HTTPS://EXAMPLE.COM:443", "https://[0::1]:8443", "https://127.0.0.1:443", "https://127.1", "https://0x7f.0.0.1",
		"https://example.com:0443", "https://[::ffff:127.0.0.1]", "https://[fe80::1%25lo]", "https://exa%6dple.com", "Capacitor://LOCALHOST"} {
		f.Add(s)
	}
	c, err := NewCORS(CORSOptions{AllowedOrigins: fuzzAllowlist, AllowCredentials: true})
	if err != nil {
		f.Fatal(err)
	}
	listed := map[string]bool{}
	for _, o := range fuzzAllowlist {
		listed[o] = true
	}

	f.Fuzz(func(t *testing.T, s string) {
		n, err := normalizeOrigin(s)
		if err == nil {
			if n2, err := normalizeOrigin(n); err != nil || n2 != n {
				t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, n, n2, err)
			}
			if n != strings.ToLower(n) {
				t.Fatalf("%q -> %q has upper case", s, n)
			}
			ref, ok := referenceOrigin(s)
			if !ok || ref != n {
				t.Fatalf("normalizeOrigin(%q) = %q, but the reference says %q, %v", s, n, ref, ok)
			}
		}

		allow, ok := c.Allowed(s)
		if !ok {
			// Canonical spellings of listed origins must match.
			if listed[s] {
				t.Fatalf("listed origin %q refused", s)
			}
			return
		}
		if !listed[allow] {
			t.Fatalf("Allowed(%q) = %q, which is not listed", s, allow)
		}
		if ref, ok := referenceOrigin(s); !ok || ref != allow {
			t.Fatalf("Allowed(%q) = %q, but it normalises to %q, %v", s, allow, ref, ok)
		}
	})
}
