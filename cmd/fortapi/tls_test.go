package main

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi/tlsconfig"
)

func TestTLSFlagErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"cert without key", []string{"--tls-cert", "c.pem"}, nil, "--tls-cert needs --tls-key"},
		{"key without cert", []string{"--tls-key", "k.pem"}, nil, "--tls-key needs --tls-cert"},
		{"key without cert from env", nil, map[string]string{"FORTAPI_TLS_KEY": "k.pem"}, "--tls-key needs --tls-cert"},
		{"files and ACME", []string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--acme-domain", "api.example.com"}, nil, "mutually exclusive"},
		{"insecure HTTP and files", []string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--insecure-http"}, nil, "--insecure-http serves no TLS"},
		{"insecure HTTP and ACME", []string{"--acme-domain", "api.example.com", "--insecure-http"}, nil, "--insecure-http serves no TLS"},
		{"wildcard domain", []string{"--acme-domain", "api.example.com,*.example.com"}, nil, `invalid --acme-domain "*.example.com"`},
		{"IP address domain", []string{"--acme-domain", "192.0.2.1"}, nil, `invalid --acme-domain "192.0.2.1"`},
		{"single label domain", []string{"--acme-domain", "localhost"}, nil, `invalid --acme-domain "localhost"`},
		{"domain with a port", []string{"--acme-domain", "api.example.com:443"}, nil, `invalid --acme-domain "api.example.com:443"`},
		{"only commas", []string{"--acme-domain", ", ,"}, nil, `invalid --acme-domain ", ,": no domain in it`},
		{"email without ACME", []string{"--acme-email", "ops@example.com"}, nil, "--acme-email needs --acme-domain"},
		{"directory without ACME", []string{"--acme-directory", "https://acme.example.com/dir"}, nil, "--acme-directory needs --acme-domain"},
		{"bad email", []string{"--acme-domain", "api.example.com", "--acme-email", "ops"}, nil, `invalid --acme-email "ops"`},
		{"plain HTTP directory", []string{"--acme-domain", "api.example.com", "--acme-directory", "http://acme.example.com/dir"}, nil, `invalid --acme-directory "http://acme.example.com/dir"`},
		{"bad HTTP address", []string{"--http-addr", "8080"}, nil, `invalid --http-addr "8080"`},
		{"bad HTTP address from env", nil, map[string]string{"FORTAPI_HTTP_ADDR": "localhost"}, `invalid --http-addr "localhost"`},
		{"reload too often", []string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-reload-interval", "100ms"}, nil, "invalid --tls-reload-interval 100ms"},
		{"bad env", []string{"--env", "staging"}, nil, `invalid --env "staging"`},
		{"bad env from env", nil, map[string]string{"FORTAPI_ENV": "prod"}, `invalid --env "prod"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, append([]string{"serve"}, tt.args...), tt.env)
			if code != exitUsage || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d", code, out, errOut, exitUsage)
			}
			if !strings.Contains(errOut, tt.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("stderr %q, want one line with %q", errOut, tt.want)
			}
		})
	}
}

func TestTLSFlagsParsed(t *testing.T) {
	var stderr strings.Builder
	cfg, _, ok := parseServe(nil, env(map[string]string{
		"FORTAPI_ACME_DOMAIN": " API.example.com, www.example.com. ", "FORTAPI_ACME_EMAIL": "ops@example.com",
		"FORTAPI_ACME_DIRECTORY": "https://127.0.0.1:14000/dir", "FORTAPI_HTTP_ADDR": ":80", "FORTAPI_ENV": "production",
	}), io.Discard, &stderr)
	if !ok {
		t.Fatal(stderr.String())
	}
	if strings.Join(cfg.acmeDomains, " ") != "api.example.com www.example.com" || cfg.acmeEmail != "ops@example.com" ||
		cfg.acmeDirectory != "https://127.0.0.1:14000/dir" || cfg.httpAddr != ":80" || cfg.env != envProduction {
		t.Errorf("%+v", cfg)
	}
	cfg, _, ok = parseServe(nil, env(nil), io.Discard, &stderr)
	if !ok || cfg.httpAddr != ":8080" || cfg.env != envDevelopment || cfg.acmeDirectory != tlsconfig.LetsEncryptURL || cfg.reloadInterval != 5*time.Second {
		t.Errorf("defaults: %+v", cfg)
	}
}

// logField returns field of the first JSON log line whose msg is msg.
func logField(log, msg, field string) string {
	for _, line := range strings.Split(log, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			s, _ := m[field].(string)
			return s
		}
	}
	return ""
}

// certPair makes a development certificate in a directory of its own.
func certPair(t *testing.T, opts tlsconfig.DevCertOptions) *tlsconfig.DevCert {
	t.Helper()
	dc, err := tlsconfig.DevCertificate(filepath.Join(t.TempDir(), "tls"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return dc
}

// install copies a pair to cert and key, each file replaced atomically.
func install(t *testing.T, dc *tlsconfig.DevCert, cert, key string) {
	t.Helper()
	for _, f := range [][2]string{{dc.KeyFile, key}, {dc.CertFile, cert}} {
		b, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		tmp := f[1] + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f[1]); err != nil {
			t.Fatal(err)
		}
	}
}

// trusting is an HTTPS client trusting the given self-signed certificates,
// on a new connection for every request.
func trusting(t *testing.T, pairs ...*tlsconfig.DevCert) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	for _, p := range pairs {
		pool.AddCert(p.Certificate.Leaf)
	}
	return &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func leafFingerprint(resp *http.Response) string {
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		return ""
	}
	sum := sha256.Sum256(resp.TLS.PeerCertificates[0].Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// TestServeCertificateFilesHotReload serves certificate files, replaces
// them while serving, and gets the new certificate within the poll
// interval; a broken pair keeps the old one. Also: HSTS over HTTPS, the
// redirect listener's 308 without HSTS, and /readyz's certificate expiry.
func TestServeCertificateFilesHotReload(t *testing.T) {
	t.Parallel()
	a := certPair(t, tlsconfig.DevCertOptions{})
	b := certPair(t, tlsconfig.DevCertOptions{})
	files := t.TempDir()
	cert, key := filepath.Join(files, "cert.pem"), filepath.Join(files, "key.pem")
	install(t, a, cert, key)
	dir := t.TempDir()
	s := startServe(t, dir, "--tls-cert", cert, "--tls-key", key, "--tls-reload-interval", "1s", "--http-addr", "127.0.0.1:0")
	c := trusting(t, a, b)

	resp, body := get(t, c, s.url+"/readyz")
	if resp.StatusCode != 200 || leafFingerprint(resp) != a.Fingerprint {
		t.Fatalf("/readyz: %d %s, certificate %s, want %s", resp.StatusCode, body, leafFingerprint(resp), a.Fingerprint)
	}
	var ready struct {
		Status   string    `json:"status"`
		NotAfter time.Time `json:"certificate_not_after"`
		Warnings []string  `json:"warnings"`
	}
	if err := json.Unmarshal(body, &ready); err != nil || ready.Status != "ready" || !ready.NotAfter.Equal(a.NotAfter.Truncate(time.Second)) || len(ready.Warnings) != 0 {
		t.Errorf("/readyz %s (%v), want not_after %v", body, err, a.NotAfter)
	}
	t.Run("HSTS over HTTPS", func(t *testing.T) {
		resp, _ := get(t, c, s.url+"/healthz")
		// A local address: no includeSubDomains (secheader.SubdomainsAuto).
		if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=63072000" {
			t.Errorf("Strict-Transport-Security %q", got)
		}
	})
	t.Run("HTTP redirects with 308", func(t *testing.T) {
		redirect := logField(s.log.String(), "redirecting HTTP to HTTPS", "url")
		if !strings.HasPrefix(redirect, "http://127.0.0.1:") {
			t.Fatalf("redirect listener URL %q not logged:\n%s", redirect, s.log.String())
		}
		for _, tc := range []struct {
			method   string
			status   int
			location string
		}{{"GET", http.StatusPermanentRedirect, s.url + "/items/?limit=5&q=a%20b"}, {"POST", http.StatusBadRequest, ""}} {
			resp, _ := send(t, c, tc.method, redirect+"/items/?limit=5&q=a%20b", nil, "")
			if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location {
				t.Errorf("%s: %d Location %q, want %d %q", tc.method, resp.StatusCode, resp.Header.Get("Location"), tc.status, tc.location)
			}
			if resp.Header.Get("Strict-Transport-Security") != "" {
				t.Error("HSTS over plain HTTP")
			}
		}
		// Only to the certificate's names (localhost, 127.0.0.1, ::1).
		req, _ := http.NewRequest("GET", redirect+"/", nil)
		req.Host = "evil.example"
		if resp, err := c.Do(req); err != nil {
			t.Fatal(err)
		} else if resp.Body.Close(); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("Host evil.example: %d %q, want 400", resp.StatusCode, resp.Header.Get("Location"))
		}
		// The redirect goes where it says: the API over HTTPS.
		resp, _ := get(t, c, redirect+"/healthz")
		if resp.StatusCode != 308 {
			t.Fatalf("%d", resp.StatusCode)
		}
		resp, _ = get(t, c, resp.Header.Get("Location"))
		if resp.StatusCode != 200 {
			t.Errorf("following the redirect: %d", resp.StatusCode)
		}
	})
	t.Run("broken files keep the old certificate", func(t *testing.T) {
		if err := os.WriteFile(key, []byte("-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		// Wait until the reloader has seen the broken pair (it says so in
		// /readyz), rather than for a fixed time.
		var resp *http.Response
		var body []byte
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			resp, body = get(t, c, s.url+"/readyz")
			if strings.Contains(string(body), "refused") || time.Now().After(deadline) {
				break
			}
		}
		if resp.StatusCode != 200 || leafFingerprint(resp) != a.Fingerprint || !strings.Contains(string(body), "refused") {
			t.Errorf("/readyz: %d %s with %s", resp.StatusCode, body, leafFingerprint(resp))
		}
		if strings.Contains(string(body), files) {
			t.Errorf("/readyz, which is public, names the files: %s", body)
		}
	})
	t.Run("a new pair is served within the poll interval", func(t *testing.T) {
		start := time.Now()
		install(t, b, cert, key)
		for {
			resp, _ := get(t, c, s.url+"/healthz")
			if leafFingerprint(resp) == b.Fingerprint {
				break
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("still serving %s after %v", leafFingerprint(resp), time.Since(start))
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("new certificate served after %v", time.Since(start).Round(time.Millisecond))
		_, body := get(t, c, s.url+"/readyz")
		if strings.Contains(string(body), "warnings") {
			t.Errorf("/readyz still warns after a good pair: %s", body)
		}
	})
	if code := s.stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if logField(s.log.String(), "certificate from files, reloaded when they change", "sha256") != a.Fingerprint {
		t.Errorf("the certificate is not logged at start:\n%s", s.log.String())
	}
}

// TestServeCertificateExpiringSoon: a certificate expiring within 14 days
// is logged at start and reported by /readyz, which stays 200.
func TestServeCertificateExpiringSoon(t *testing.T) {
	t.Parallel()
	soon := certPair(t, tlsconfig.DevCertOptions{Validity: 5 * 24 * time.Hour, RenewBefore: time.Hour})
	s := startServe(t, t.TempDir(), "--tls-cert", soon.CertFile, "--tls-key", soon.KeyFile)
	resp, body := get(t, trusting(t, soon), s.url+"/readyz")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "expires within 14 days") {
		t.Errorf("/readyz: %d %s", resp.StatusCode, body)
	}
	s.stop()
	if !strings.Contains(s.log.String(), `"level":"WARN","msg":"the TLS certificate expires within 14 days"`) {
		t.Errorf("not logged:\n%s", s.log.String())
	}
}

func TestServeCertificateFilesRefused(t *testing.T) {
	a, b := certPair(t, tlsconfig.DevCertOptions{}), certPair(t, tlsconfig.DevCertOptions{})
	for _, tt := range []struct {
		name, cert, key, want string
	}{
		{"missing", filepath.Join(t.TempDir(), "nope.pem"), a.KeyFile, "--tls-cert/--tls-key: "},
		{"key of another certificate", a.CertFile, b.KeyFile, "--tls-cert/--tls-key: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCmd(t, []string{"serve", "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0", "--http-addr", "", "--tls-cert", tt.cert, "--tls-key", tt.key}, nil)
			if code != exitError || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q", code, errOut)
			}
		})
	}
}

func TestNoRedirectListenerWithInsecureHTTP(t *testing.T) {
	t.Parallel()
	s := startServe(t, t.TempDir(), "--insecure-http", "--http-addr", "127.0.0.1:0")
	resp, _ := get(t, http.DefaultClient, s.url+"/healthz")
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain HTTP")
	}
	s.stop()
	log := s.log.String()
	if logField(log, "redirecting HTTP to HTTPS", "url") != "" || !strings.Contains(log, "no HTTP redirect listener with --insecure-http") {
		t.Errorf("redirect listener started with --insecure-http:\n%s", log)
	}
}

// TestServeACMEWiring starts serve with ACME against a directory nobody
// answers (tlsconfig's own tests run pebble end to end): the server
// starts, logs the failed issuance, keeps its cache in DATA-DIR/acme, and
// its HTTP listener answers challenges and redirects only to the ACME
// domains.
func TestServeACMEWiring(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServe(t, dir, "--acme-domain", "api.fortapi.test,www.fortapi.test", "--acme-email", "ops@fortapi.test",
		"--acme-directory", "https://127.0.0.1:1/dir", "--http-addr", "127.0.0.1:0")
	redirect := logField(s.log.String(), "redirecting HTTP to HTTPS", "url")
	if redirect == "" {
		t.Fatalf("no redirect listener:\n%s", s.log.String())
	}
	_, httpsPort, _ := strings.Cut(strings.TrimPrefix(s.url, "https://"), ":")
	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct {
		host, path string
		status     int
		location   string
	}{
		{"api.fortapi.test", "/items/?a=1", 308, "https://api.fortapi.test:" + httpsPort + "/items/?a=1"},
		{"www.fortapi.test:8080", "/", 308, "https://www.fortapi.test:" + httpsPort + "/"},
		{"evil.example", "/", 400, ""},
		{"api.fortapi.test", "/.well-known/acme-challenge/unknown-token", 404, ""},
	} {
		req, _ := http.NewRequest("GET", redirect+tt.path, nil)
		req.Host = tt.host
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
			t.Errorf("%s%s: %d %q, want %d %q", tt.host, tt.path, resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.log.String(), "ACME: obtaining a certificate failed") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	log := s.log.String()
	for _, want := range []string{`"msg":"certificates from ACME (the CA's terms of service are accepted)","domains":"api.fortapi.test,www.fortapi.test"`,
		"ACME: no certificate in the cache yet", "ACME: obtaining a certificate failed", `"acme_http01":true`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "acme")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("DATA-DIR/acme: %v %v", st, err)
	}
}

func TestServeHelpListsTransportFlags(t *testing.T) {
	code, out, _ := runCmd(t, []string{"serve", "--help"}, nil)
	for _, w := range []string{"--http-addr", "FORTAPI_HTTP_ADDR", `(default ":8080")`, "--tls-cert", "FORTAPI_TLS_CERT", "--tls-key", "FORTAPI_TLS_KEY",
		"--tls-reload-interval", `(default "5s")`, "--acme-domain", "FORTAPI_ACME_DOMAIN", "--acme-email", "--acme-directory", "--env", "FORTAPI_ENV", `(default "development")`} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("help lacks %q", w)
		}
	}
}
