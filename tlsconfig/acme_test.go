package tlsconfig

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/testutil"
)

// skipOrFail skips, or fails under FORTAPI_TEST_STRICT=1 (CI), when a
// tool a test needs is missing.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("FORTAPI_TEST_STRICT") == "1" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// pebbleBinary builds Let's Encrypt's ACME test server, a tool of this
// module (go.mod: tool github.com/letsencrypt/pebble/v2/cmd/pebble), and
// returns the cached binary.
func pebbleBinary(t *testing.T) string {
	if testing.Short() {
		t.Skip("ACME end-to-end test skipped in -short mode")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		skipOrFail(t, "no go command to build pebble: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, goBin, "tool", "-n", "pebble")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		skipOrFail(t, "cannot build pebble (go tool -n pebble): %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// serveFakeDNS answers every A query with 127.0.0.1 and every other query
// with no records, so that pebble's validation reaches this test's
// listeners for any domain. Pebble asks over TCP (RFC 1035 §4.2.2: each
// message after a two-byte length).
func serveFakeDNS(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				for {
					var n [2]byte
					if _, err := io.ReadFull(c, n[:]); err != nil {
						return
					}
					q := make([]byte, binary.BigEndian.Uint16(n[:]))
					if _, err := io.ReadFull(c, q); err != nil {
						return
					}
					resp := dnsAnswer(q)
					if resp == nil {
						return
					}
					if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(resp))), resp...)); err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

func dnsAnswer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	if i+5 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i+1:])
	qEnd := i + 5
	answers := byte(0)
	if qtype == 1 { // A
		answers = 1
	}
	resp := []byte{q[0], q[1], 0x84 | q[2]&0x01, 0x80, 0, 1, 0, answers, 0, 0, 0, 0}
	resp = append(resp, q[12:qEnd]...)
	if answers == 1 {
		resp = append(resp, 0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1)
	}
	return resp
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// switchProxy forwards TCP connections to target, or closes them at once
// while target is empty.
type switchProxy struct {
	ln     net.Listener
	target atomic.Pointer[string]
}

func newSwitchProxy(t *testing.T) *switchProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{ln: ln}
	p.target.Store(new(string))
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			target := *p.target.Load()
			if target == "" {
				c.Close()
				continue
			}
			wg.Go(func() {
				defer c.Close()
				u, err := net.DialTimeout("tcp", target, 5*time.Second)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { io.Copy(u, c); u.Close() }()
				io.Copy(c, u)
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return p
}

func (p *switchProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

type pebbleEnv struct {
	dirURL     string
	client     *http.Client // trusts pebble's API certificate
	management string
}

// startPebble runs pebble on loopback with validation sent to httpPort
// (http-01) and tlsPort (tls-alpn-01) of whatever dnsAddr resolves to.
func startPebble(t *testing.T, bin, dnsAddr string, httpPort, tlsPort int) *pebbleEnv {
	dir := t.TempDir()
	api, err := DevCertificate(filepath.Join(dir, "api"), DevCertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	listen, mgmt := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":           listen,
		"managementListenAddress": mgmt,
		"certificate":             api.CertFile,
		"privateKey":              api.KeyFile,
		"httpPort":                httpPort,
		"tlsPort":                 tlsPort,
		"ocspResponderURL":        "",
		"keyAlgorithm":            "ecdsa",
		"retryAfter":              map[string]int{"authz": 1, "order": 1},
		"profiles":                map[string]any{"default": map[string]any{"description": "test", "validityPeriod": 7776000}},
	}}
	cfgJSON, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgFile, cfgJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	var out testutil.Buffer
	cmd := exec.Command(bin, "-config", cfgFile, "-dnsserver", dnsAddr)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("pebble output:\n%s", out.String())
		}
	})
	pool := x509.NewCertPool()
	pool.AddCert(api.Certificate.Leaf)
	env := &pebbleEnv{
		dirURL:     "https://" + listen + "/dir",
		management: "https://" + mgmt,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		}},
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := env.client.Get(env.dirURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return env
			}
		}
		select {
		case <-exited:
			t.Fatalf("pebble exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble not ready: %v\n%s", err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// roots returns pebble's issuing root, fetched from its management API.
func (e *pebbleEnv) roots(t *testing.T) *x509.CertPool {
	resp, err := e.client.Get(e.management + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(body) {
		t.Fatalf("no root in %q", body)
	}
	return pool
}

// httpsGet requests https://domain/ from the server at addr, verifying
// its certificate against roots.
func httpsGet(ctx context.Context, addr, domain string, roots *x509.CertPool) (*http.Response, error) {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: domain},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+domain+"/", nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// countingHandler counts ACME http-01 requests before passing them on.
type countingHandler struct {
	challenges atomic.Int64
	next       atomic.Pointer[http.Handler]
}

func (c *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
		c.challenges.Add(1)
	}
	(*c.next.Load()).ServeHTTP(w, r)
}

func (c *countingHandler) set(h http.Handler) { c.next.Store(&h) }

// TestACMEWithPebble obtains certificates end to end from pebble, Let's
// Encrypt's ACME test server, on loopback: once through http-01 answered
// by HTTPHandler (tls-alpn-01 made to fail, so autocert falls back), once
// through tls-alpn-01 answered by TLSConfig. Validation is real: pebble
// resolves the test domains through a fake DNS server to 127.0.0.1 and
// fetches the challenge responses from this test's listeners.
func TestACMEWithPebble(t *testing.T) {
	t.Parallel() // mostly waits on pebble's polls (a second each): the package's other tests run meanwhile
	bin := pebbleBinary(t)
	dnsAddr := serveFakeDNS(t)

	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var httpFront countingHandler
	httpFront.set(http.NotFoundHandler())
	httpSrv := &http.Server{Handler: &httpFront, ReadHeaderTimeout: 5 * time.Second}
	go httpSrv.Serve(httpLn)
	t.Cleanup(func() { httpSrv.Close() })
	alpn := newSwitchProxy(t)

	pebble := startPebble(t, bin, dnsAddr, httpLn.Addr().(*net.TCPAddr).Port, alpn.port())
	roots := pebble.roots(t)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })

	t.Run("http-01", func(t *testing.T) {
		const domain = "h1.fortapi.test"
		cacheDir := filepath.Join(t.TempDir(), "acme")
		m, err := ACME(ACMEOptions{
			Domains:      []string{"H1.fortapi.test.", domain},
			CacheDir:     cacheDir,
			Email:        "ops@fortapi.test",
			DirectoryURL: pebble.dirURL,
			HTTPClient:   pebble.client,
		})
		if err != nil {
			t.Fatal(err)
		}
		if d := m.Domains(); len(d) != 1 || d[0] != domain {
			t.Fatalf("domains %v", d)
		}
		httpFront.set(m.HTTPHandler(nil))
		alpn.target.Store(new(string)) // tls-alpn-01 cannot connect
		addr := serveTLS(t, m.TLSConfig(), ok)
		if _, err := m.NotAfter(context.Background()); !errors.Is(err, ErrNoCertificate) {
			t.Errorf("NotAfter before issuance: %v", err)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		resp, err := httpsGet(ctx, addr, domain, roots) // the first handshake obtains the certificate
		if err != nil {
			t.Fatal(err)
		}
		leaf := resp.TLS.PeerCertificates[0]
		if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != domain || len(resp.TLS.VerifiedChains) == 0 {
			t.Errorf("certificate for %v, verified chains %d", leaf.DNSNames, len(resp.TLS.VerifiedChains))
		}
		if n := httpFront.challenges.Load(); n == 0 {
			t.Error("no http-01 challenge request reached HTTPHandler")
		}
		if resp.Proto != "HTTP/2.0" {
			t.Errorf("protocol %s, want HTTP/2.0 (ALPN h2)", resp.Proto)
		}
		na, err := m.NotAfter(ctx)
		if err != nil || !na.Equal(leaf.NotAfter) {
			t.Errorf("NotAfter = %v, %v; leaf %v", na, err, leaf.NotAfter)
		}
		if soon, err := m.ExpiresWithin(ctx, ExpiryWarning); soon || err != nil {
			t.Errorf("ExpiresWithin(14 days) = %v, %v for a new certificate", soon, err)
		}
		if st, err := os.Stat(cacheDir); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("cache dir mode %v (%v)", st.Mode().Perm(), err)
		}

		// Names outside the list are refused before the CA is asked.
		if _, err := httpsGet(ctx, addr, "other.fortapi.test", roots); err == nil {
			t.Error("a handshake for an unlisted name succeeded")
		}
		// The HTTP listener redirects GET to the domain; a POST is refused.
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, tc := range []struct {
			method   string
			status   int
			location string
		}{{"GET", 308, "https://" + domain + "/items?x=1"}, {"POST", 400, ""}} {
			req, _ := http.NewRequestWithContext(ctx, tc.method, "http://"+httpLn.Addr().String()+"/items?x=1", strings.NewReader("{}"))
			req.Host = domain
			r2, err := noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r2.Body.Close()
			if r2.StatusCode != tc.status || r2.Header.Get("Location") != tc.location {
				t.Errorf("HTTP fallback, %s: %d %q, want %d %q", tc.method, r2.StatusCode, r2.Header.Get("Location"), tc.status, tc.location)
			}
		}

		// A restarted server serves from the cache without the CA.
		again, err := ACME(ACMEOptions{Domains: []string{domain}, CacheDir: cacheDir, DirectoryURL: "https://127.0.0.1:1/dir"})
		if err != nil {
			t.Fatal(err)
		}
		if err := again.Obtain(ctx); err != nil {
			t.Fatalf("Obtain from the cache: %v", err)
		}
		resp, err = httpsGet(ctx, serveTLS(t, again.TLSConfig(), ok), domain, roots)
		if err != nil {
			t.Fatal(err)
		}
		if !resp.TLS.PeerCertificates[0].Equal(leaf) {
			t.Error("the restarted manager serves another certificate")
		}
	})

	t.Run("tls-alpn-01", func(t *testing.T) {
		const domain = "t1.fortapi.test"
		m, err := ACME(ACMEOptions{
			Domains:      []string{domain},
			CacheDir:     filepath.Join(t.TempDir(), "acme"),
			DirectoryURL: pebble.dirURL,
			HTTPClient:   pebble.client,
		})
		if err != nil {
			t.Fatal(err)
		}
		httpFront.set(http.NotFoundHandler()) // only tls-alpn-01 can work
		before := httpFront.challenges.Load()
		addr := serveTLS(t, m.TLSConfig(), ok)
		alpn.target.Store(&addr)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := m.Obtain(ctx); err != nil {
			t.Fatal(err)
		}
		resp, err := httpsGet(ctx, addr, domain, roots)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.TLS.PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != domain {
			t.Errorf("certificate for %v", got)
		}
		if httpFront.challenges.Load() != before {
			t.Error("http-01 was used; want tls-alpn-01")
		}
	})
}

func TestACMEOptions(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o755)
	tests := []struct {
		name   string
		opts   ACMEOptions
		errHas string
	}{
		{"ok", ACMEOptions{Domains: []string{"api.example.com"}, CacheDir: filepath.Join(dir, "a")}, ""},
		{"no domains", ACMEOptions{CacheDir: dir}, "at least one domain"},
		{"no cache", ACMEOptions{Domains: []string{"api.example.com"}}, "cache directory"},
		{"wildcard", ACMEOptions{Domains: []string{"*.example.com"}, CacheDir: dir}, "dns-01"},
		{"IP", ACMEOptions{Domains: []string{"192.0.2.1"}, CacheDir: dir}, "IP addresses"},
		{"single label", ACMEOptions{Domains: []string{"localhost"}, CacheDir: dir}, "not a public DNS name"},
		{"unicode", ACMEOptions{Domains: []string{"bücher.example"}, CacheDir: dir}, "punycode"},
		{"port", ACMEOptions{Domains: []string{"api.example.com:443"}, CacheDir: dir}, "not a public DNS name"},
		{"open cache dir", ACMEOptions{Domains: []string{"api.example.com"}, CacheDir: open}, "chmod 700"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ACME(tt.opts)
			if tt.errHas == "" {
				if err != nil {
					t.Fatal(err)
				}
				c := m.TLSConfig()
				if c.MinVersion != tls.VersionTLS12 || c.GetCertificate == nil || len(c.CipherSuites) != len(Server().CipherSuites) {
					t.Error("TLSConfig does not build on Server()")
				}
				if want := []string{"h2", "http/1.1", "acme-tls/1"}; strings.Join(c.NextProtos, ",") != strings.Join(want, ",") {
					t.Errorf("ALPN %v, want %v", c.NextProtos, want)
				}
				if m.Manager().Client.DirectoryURL != LetsEncryptURL {
					t.Errorf("directory %s", m.Manager().Client.DirectoryURL)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("err = %v, want %q", err, tt.errHas)
			}
		})
	}
	policy := hostPolicy([]string{"api.example.com"})
	for host, ok := range map[string]bool{
		"api.example.com": true, "API.example.com.": true, "api.example.com:5002": true,
		"example.com": false, "evil.api.example.com": false, "[::1]:80": false, "": false,
	} {
		if err := policy(context.Background(), host); (err == nil) != ok {
			t.Errorf("policy(%q) = %v", host, err)
		}
	}
}
