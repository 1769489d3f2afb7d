package clientip

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// proxies used by the tables: 10.0.0.0/8, an IPv6 /48, and an IPv4 range
// given as an IPv4-mapped IPv6 prefix (must behave as 192.168.0.0/16).
var testProxies = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("2001:db8:ffff::/48"),
	netip.MustParsePrefix("::ffff:192.168.0.0/112"),
}

func mustNew(t testing.TB, header string, proxies []netip.Prefix) *Resolver {
	t.Helper()
	r, err := New(Options{TrustedProxies: proxies, Header: header})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type resolveCase struct {
	name   string
	remote string
	lines  []string // field lines of the configured header, in order
	want   string   // "" means the invalid Addr
}

func runResolveCases(t *testing.T, header string, cases []resolveCase) {
	t.Helper()
	res := mustNew(t, header, testProxies)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, l := range tc.lines {
				r.Header.Add(header, l)
			}
			got := res.ClientIP(r)
			if tc.want == "" {
				if got.IsValid() {
					t.Fatalf("got %v, want the invalid Addr", got)
				}
				return
			}
			if want := netip.MustParseAddr(tc.want); got != want {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

const (
	trustedPeer = "10.0.0.1:4711"
	client      = "203.0.113.7"
	attacker    = "6.6.6.6"
)

func TestXForwardedFor(t *testing.T) {
	huge := strings.Repeat(attacker+", ", 100_000) + client
	hugeTrusted := strings.Repeat("10.0.0.9, ", 1000) + "10.0.0.8"
	hugeGarbage := strings.Repeat("x", 1<<20)
	runResolveCases(t, XForwardedFor, []resolveCase{
		{"no header: peer", trustedPeer, nil, "10.0.0.1"},
		{"untrusted peer: header ignored", "198.51.100.1:1234", []string{attacker}, "198.51.100.1"},
		{"untrusted IPv6 peer: header ignored", "[2001:db8:1::1]:443", []string{attacker}, "2001:db8:1::1"},
		{"one hop", trustedPeer, []string{client}, client},
		{"spoofed first entry", trustedPeer, []string{attacker + ", " + client}, client},
		{"spoofed chain of trusted-looking entries", trustedPeer, []string{"10.0.0.5, 10.0.0.6, " + client}, client},
		{"trusted chain", trustedPeer, []string{client + ", 10.0.0.2, 10.0.0.3"}, client},
		{"spoof left of trusted chain", trustedPeer, []string{attacker + ", " + client + ", 10.0.0.2"}, client},
		{"all trusted: leftmost", trustedPeer, []string{"10.0.0.5, 10.0.0.6"}, "10.0.0.5"},
		{"all trusted across v6 proxies", "[2001:db8:ffff::1]:80", []string{"2001:db8:ffff::2"}, "2001:db8:ffff::2"},
		{"two lines: spoof in the first", trustedPeer, []string{attacker, client + ", 10.0.0.2"}, client},
		{"two lines: spoof list in the first", trustedPeer, []string{attacker + ", 1.1.1.1", client}, client},
		{"two lines: walk crosses lines", trustedPeer, []string{client, "10.0.0.2"}, client},
		{"three lines", trustedPeer, []string{attacker, client, "10.0.0.2, 10.0.0.3"}, client},
		{"garbage stops at last trusted hop", trustedPeer, []string{attacker + ", garbage, 10.0.0.2"}, "10.0.0.2"},
		{"garbage right of attacker: peer", trustedPeer, []string{attacker + ", garbage"}, "10.0.0.1"},
		{"garbage left of client ignored", trustedPeer, []string{"garbage, " + client}, client},
		{"unknown", trustedPeer, []string{attacker + ", unknown"}, "10.0.0.1"},
		{"obfuscated", trustedPeer, []string{attacker + ", _hidden"}, "10.0.0.1"},
		{"quoted", trustedPeer, []string{`"` + attacker + `"`}, "10.0.0.1"},
		{"two addresses without comma", trustedPeer, []string{attacker + " " + client}, "10.0.0.1"},
		{"leading zero octet", trustedPeer, []string{"01.2.3.4"}, "10.0.0.1"},
		{"port out of range", trustedPeer, []string{client + ":99999"}, "10.0.0.1"},
		{"empty port", trustedPeer, []string{client + ":"}, "10.0.0.1"},
		{"hostname", trustedPeer, []string{"evil.example"}, "10.0.0.1"},
		{"CIDR", trustedPeer, []string{"203.0.113.0/24"}, "10.0.0.1"},
		{"IPv4 with port", trustedPeer, []string{client + ":80"}, client},
		{"IPv6 bare", trustedPeer, []string{"2001:db8::1"}, "2001:db8::1"},
		{"IPv6 bracketed", trustedPeer, []string{"[2001:db8::1]"}, "2001:db8::1"},
		{"IPv6 with port", trustedPeer, []string{"[2001:db8::1]:80"}, "2001:db8::1"},
		{"IPv6 loopback with port", trustedPeer, []string{"[::1]:80"}, "::1"},
		{"IPv6 unbalanced bracket", trustedPeer, []string{"[2001:db8::1"}, "10.0.0.1"},
		{"bracketed IPv4", trustedPeer, []string{"[" + client + "]"}, "10.0.0.1"},
		{"zone stripped", trustedPeer, []string{"fe80::1%eth0"}, "fe80::1"},
		{"IPv4-mapped entry", trustedPeer, []string{"::ffff:" + client}, client},
		{"IPv4-mapped entry with port", trustedPeer, []string{"[::ffff:" + client + "]:80"}, client},
		{"IPv4-mapped trusted hop", trustedPeer, []string{client + ", ::ffff:10.0.0.9"}, client},
		{"IPv4-mapped peer is trusted", "[::ffff:10.0.0.1]:4711", []string{client}, client},
		{"peer in mapped prefix", "192.168.3.4:80", []string{client}, client},
		{"mapped peer in mapped prefix", "[::ffff:192.168.3.4]:80", []string{client}, client},
		{"IPv4-mapped untrusted peer unmapped", "[::ffff:198.51.100.1]:80", []string{client}, "198.51.100.1"},
		{"zoned peer", "[fe80::1%eth0]:80", nil, "fe80::1"},
		{"bare peer", "10.0.0.1", []string{client}, client},
		{"empty elements ignored", trustedPeer, []string{client + ", , 10.0.0.2,"}, client},
		{"empty line", trustedPeer, []string{""}, "10.0.0.1"},
		{"only commas", trustedPeer, []string{" , ,"}, "10.0.0.1"},
		{"tabs", trustedPeer, []string{"\t" + client + "\t,\t10.0.0.2"}, client},
		{"huge header", trustedPeer, []string{huge}, client},
		{"huge trusted chain stops at hop limit", trustedPeer, []string{attacker + ", " + hugeTrusted}, "10.0.0.9"},
		{"huge garbage entry", trustedPeer, []string{hugeGarbage}, "10.0.0.1"},
		{"many lines", trustedPeer, append(strings.Split(strings.Repeat(attacker+"\n", 1000), "\n"), client), client},
		{"unix socket peer", "@", []string{client}, ""},
		{"empty peer", "", nil, ""},
	})
}

func TestForwarded(t *testing.T) {
	runResolveCases(t, Forwarded, []resolveCase{
		{"untrusted peer: header ignored", "198.51.100.1:1234", []string{"for=" + attacker}, "198.51.100.1"},
		{"one element", trustedPeer, []string{"for=" + client}, client},
		{"parameter name case", trustedPeer, []string{"For=" + client}, client},
		{"quoted with port", trustedPeer, []string{`for="` + client + `:4711"`}, client},
		{"IPv6 quoted with port", trustedPeer, []string{`for="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"IPv6 quoted", trustedPeer, []string{`for="[2001:db8:cafe::17]"`}, "2001:db8:cafe::17"},
		{"IPv4-mapped", trustedPeer, []string{`for="[::ffff:` + client + `]"`}, client},
		{"other params", trustedPeer, []string{"for=192.0.2.60;proto=http;by=203.0.113.43"}, "192.0.2.60"},
		{"params before for", trustedPeer, []string{"proto=https;For=192.0.2.60"}, "192.0.2.60"},
		{"whitespace around pairs", trustedPeer, []string{" for=" + client + " ; proto=https "}, client},
		{"spoofed element", trustedPeer, []string{"for=" + attacker + ", for=" + client + ";proto=https, for=10.0.0.2"}, client},
		{"two lines", trustedPeer, []string{"for=" + attacker, "for=" + client + ", for=10.0.0.2"}, client},
		{"all trusted: leftmost", trustedPeer, []string{"for=10.0.0.5, for=10.0.0.6"}, "10.0.0.5"},
		{"unknown", trustedPeer, []string{"for=" + attacker + ", for=unknown"}, "10.0.0.1"},
		{"unknown quoted upper", trustedPeer, []string{`for="UNKNOWN"`}, "10.0.0.1"},
		{"obfuscated node", trustedPeer, []string{"for=" + attacker + ", for=_hidden, for=10.0.0.2"}, "10.0.0.2"},
		{"obfuscated node quoted", trustedPeer, []string{`for="_gazonk"`}, "10.0.0.1"},
		{"obfuscated port", trustedPeer, []string{`for="` + client + `:_port1"`}, client},
		{"bad obfuscated port", trustedPeer, []string{`for="` + client + `:_p@rt"`}, "10.0.0.1"},
		{"no for parameter", trustedPeer, []string{"for=" + attacker + ", proto=https"}, "10.0.0.1"},
		{"repeated for", trustedPeer, []string{"for=" + client + ";for=" + attacker}, "10.0.0.1"},
		{"unquoted IPv6", trustedPeer, []string{"for=[2001:db8::1]"}, "10.0.0.1"},
		{"unbracketed IPv6", trustedPeer, []string{`for="2001:db8::1"`}, "10.0.0.1"},
		{"unquoted port", trustedPeer, []string{"for=" + client + ":80"}, "10.0.0.1"},
		{"empty value", trustedPeer, []string{`for=""`}, "10.0.0.1"},
		{"missing value", trustedPeer, []string{"for="}, "10.0.0.1"},
		{"no equals", trustedPeer, []string{"for"}, "10.0.0.1"},
		{"bare address", trustedPeer, []string{client}, "10.0.0.1"},
		{"attacker unbalanced quote, same line", trustedPeer, []string{`for="` + attacker + `, for=` + client}, client},
		{"attacker unbalanced quote, IPv6 appended", trustedPeer, []string{`for="x, for="[2001:db8::7]"`}, "2001:db8::7"},
		{"quoted comma", trustedPeer, []string{`for="[2001:db8::1]";host="a,b", for=10.0.0.2`}, "2001:db8::1"},
		{"escaped quote", trustedPeer, []string{`for="\"x", for=10.0.0.2`}, "10.0.0.2"},
		{"escaped backslash", trustedPeer, []string{`for="a\\", for=` + client}, client},
		{"trailing backslash in quote", trustedPeer, []string{`for="a\"`}, "10.0.0.1"},
		{"control char in quote", trustedPeer, []string{"for=\"1.2.3.4\x01\""}, "10.0.0.1"},
		{"empty elements", trustedPeer, []string{"for=" + client + ",,"}, client},
		{"huge", trustedPeer, []string{strings.Repeat("for="+attacker+",", 50_000) + "for=" + client}, client},
		{"huge unbalanced quote", trustedPeer, []string{`for="` + strings.Repeat("a", 1<<20)}, "10.0.0.1"},
	})
}

func TestXRealIP(t *testing.T) {
	runResolveCases(t, XRealIP, []resolveCase{
		{"untrusted peer", "198.51.100.1:1", []string{client}, "198.51.100.1"},
		{"set by proxy", trustedPeer, []string{client}, client},
		{"client's copy and proxy's", trustedPeer, []string{attacker, client}, client},
		{"garbage", trustedPeer, []string{"nope"}, "10.0.0.1"},
		{"IPv6 with port", trustedPeer, []string{"[2001:db8::2]:1"}, "2001:db8::2"},
	})
}

// TestOnlyConfiguredHeader: other forwarding headers are never read,
// whatever their precedence elsewhere.
func TestOnlyConfiguredHeader(t *testing.T) {
	for _, h := range []string{XForwardedFor, Forwarded, XRealIP} {
		t.Run(h, func(t *testing.T) {
			res := mustNew(t, h, testProxies)
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = trustedPeer
			for _, other := range []string{XForwardedFor, Forwarded, XRealIP} {
				if other != h {
					r.Header.Set(other, attacker)
					if other == Forwarded {
						r.Header.Set(other, "for="+attacker)
					}
				}
			}
			if got := res.ClientIP(r); got != netip.MustParseAddr("10.0.0.1") {
				t.Fatalf("got %v: a header other than %s was read", got, h)
			}
		})
	}
}

// TestHeaderNameCase sends raw requests whose field names are in odd cases
// through a real server.
func TestHeaderNameCase(t *testing.T) {
	for _, tc := range []struct {
		header, lines string
	}{
		{XForwardedFor, "x-forwarded-for: " + attacker + "\r\nX-FORWARDED-FOR: " + client + "\r\n"},
		{XForwardedFor, "X-Forwarded-For: " + attacker + ", " + client + "\r\n"},
		{Forwarded, "FORWARDED: for=" + attacker + "\r\nforwarded: For=" + client + "\r\n"},
		{XRealIP, "x-real-ip: " + client + "\r\n"},
	} {
		t.Run(tc.header, func(t *testing.T) {
			res := mustNew(t, strings.ToLower(tc.header), []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
			srv := httptest.NewServer(res.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				a, ok := FromContext(r.Context())
				if !ok {
					http.Error(w, "no address in context", 500)
					return
				}
				fmt.Fprint(w, a)
			})))
			defer srv.Close()
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n", tc.lines)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body strings.Builder
			_, _ = bufio.NewReader(resp.Body).WriteTo(&body)
			if body.String() != client {
				t.Fatalf("status %d, body %q, want %s", resp.StatusCode, body.String(), client)
			}
		})
	}
}

func TestZeroOptionsTrustNothing(t *testing.T) {
	res := mustNew(t, "", nil)
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:80"
	r.Header.Set(XForwardedFor, client)
	if got := res.ClientIP(r); got != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("got %v", got)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"unknown header", Options{Header: "X-Client-IP"}, `unknown header "X-Client-IP"`},
		{"invalid prefix", Options{TrustedProxies: []netip.Prefix{{}}}, "invalid trusted proxy prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"", "", ""},
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{"10.1.2.3/8, 192.0.2.1 ::1,2001:db8::/32", "10.0.0.0/8 192.0.2.1/32 ::1/128 2001:db8::/32", ""},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", ""},
		{"fe80::1%eth0", "fe80::1/128", ""},
		{"10.0.0.0/8,nope", "", `bad trusted proxy "nope"`},
		{"10.0.0.0/33", "", `bad trusted proxy "10.0.0.0/33"`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			ps, err := ParsePrefixes(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
			}
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestKey(t *testing.T) {
	for _, tc := range []struct {
		in   netip.Addr
		want string
	}{
		{netip.MustParseAddr("192.0.2.1"), "192.0.2.1"},
		{netip.MustParseAddr("::ffff:192.0.2.1"), "192.0.2.1"},
		{netip.MustParseAddr("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64"},
		{netip.MustParseAddr("2001:db8:1:2::ffff"), "2001:db8:1:2::/64"},
		{netip.MustParseAddr("fe80::1%eth0"), "fe80::/64"},
		{netip.Addr{}, "unknown"},
	} {
		t.Run(tc.in.String(), func(t *testing.T) {
			if got := Key(tc.in); got != tc.want {
				t.Fatalf("Key(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestContext(t *testing.T) {
	if _, ok := FromContext(context.Background()); ok {
		t.Fatal("empty context has an address")
	}
	a := netip.MustParseAddr(client)
	if got, ok := FromContext(NewContext(context.Background(), a)); !ok || got != a {
		t.Fatalf("got %v %v", got, ok)
	}
}

// FuzzResolve checks spoof resistance for arbitrary client-written header
// content: whatever the client sends, when a trusted proxy appends the
// client's real address (on the same field line or a new one), that
// address is the answer; and an untrusted peer is always the answer.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"", "1.2.3.4", "for=1.2.3.4", `for="`, `for="[::1]`, `"`, `\`, `for="\`, "unknown", "_x",
		"1.2.3.4, 10.0.0.2", "for=10.0.0.5\nfor=10.0.0.6", ",,,", "[", "]:80", `for=a;for=b`,
		`for="x\"y", by=z`, "::ffff:10.0.0.1", "10.0.0.1\n10.0.0.2",
	} {
		for h := range 3 {
			f.Add(s, uint8(h), false, false, "10.0.0.1:80")
			f.Add(s, uint8(h), true, true, "[2001:db8:ffff::1]:80")
		}
	}
	resolvers := []*Resolver{
		mustNew(f, XForwardedFor, testProxies),
		mustNew(f, Forwarded, testProxies),
		mustNew(f, XRealIP, testProxies),
	}
	f.Fuzz(func(t *testing.T, sent string, h uint8, newLine, v6 bool, remote string) {
		res := resolvers[int(h)%len(resolvers)]
		lines := strings.Split(sent, "\n")

		// Whatever the peer and header, resolving never panics and
		// gives an untrusted peer itself.
		got := res.resolve(remote, http.Header{res.header: lines})
		if peer, ok := parsePeer(remote); !ok {
			if got.IsValid() {
				t.Fatalf("unparseable peer %q gave %v", remote, got)
			}
		} else if !res.isTrusted(peer) && got != peer {
			t.Fatalf("untrusted peer %v: got %v", peer, got)
		}

		// A trusted proxy appends the real, untrusted client address.
		real, entry := netip.MustParseAddr("203.0.113.7"), "203.0.113.7"
		if v6 {
			real, entry = netip.MustParseAddr("2001:db8::7"), "[2001:db8::7]"
		}
		if res.forward {
			entry = "for=" + entry
			if v6 {
				entry = `for="[2001:db8::7]"`
			}
		}
		appended := append([]string(nil), lines...)
		if newLine {
			appended = append(appended, entry)
		} else {
			appended[len(appended)-1] += ", " + entry
		}
		if got := res.resolve("10.0.0.1:4711", http.Header{res.header: appended}); got != real {
			t.Fatalf("client sent %q, proxy appended %q: got %v, want %v", sent, entry, got, real)
		}
	})
}

func BenchmarkClientIP(b *testing.B) {
	res := mustNew(b, XForwardedFor, testProxies)
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = trustedPeer
	r.Header.Set(XForwardedFor, attacker+", "+client+", 10.0.0.2")
	b.ReportAllocs()
	for b.Loop() {
		if res.ClientIP(r) != netip.MustParseAddr(client) {
			b.Fatal("wrong")
		}
	}
}
