package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/e2e"
)

// writeOldDevCA puts in dataDir/tls what older versions of fortapi wrote
// there: a self-signed development certificate that is an unconstrained
// CA, and its key.
func writeOldDevCA(t *testing.T, dataDir string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"fortapi development"}, CommonName: "localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(90 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(dataDir, "tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for name, data := range map[string][]byte{
		"key.pem":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		"cert.pem": certPEM,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certPEM
}

// TestServeTransport starts serve on a data dir holding an old-style
// development CA, with the redirect listener, and attacks both: the CA is
// replaced by a leaf (logged at WARN), and POST /token sent to http:// is
// answered 400 without a Location, even by a client that follows
// redirects, so a misconfigured client notices at once.
func TestServeTransport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	oldCert := writeOldDevCA(t, dir)
	const adminPW = "transport test passphrase"
	s := startServeEnv(t, dir, map[string]string{"FORTAPI_ADMIN_PASSWORD": adminPW}, "--http-addr", "127.0.0.1:0")
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(s.log.String())
		}
	})

	t.Run("the old development CA is replaced by a leaf", func(t *testing.T) {
		now, err := os.ReadFile(filepath.Join(dir, "tls", "cert.pem"))
		if err != nil {
			t.Fatal(err)
		}
		if string(now) == string(oldCert) {
			t.Fatal("the old CA certificate is still in cert.pem")
		}
		block, _ := pem.Decode(now)
		leaf, err := x509.ParseCertificate(block.Bytes)
		if err != nil || leaf.IsCA || leaf.KeyUsage&x509.KeyUsageCertSign != 0 {
			t.Errorf("cert.pem: CA %v, key usage %b (%v)", leaf.IsCA, leaf.KeyUsage, err)
		}
		if !strings.Contains(s.log.String(), `"level":"WARN","msg":"replaced the development certificate, which was an unconstrained CA`) {
			t.Error("the replacement is not logged at WARN")
		}
		// The server serves the new leaf, and clients trusting it connect.
		if resp, _ := get(t, e2e.TLSClient(t, dir, nil), s.url+"/healthz"); resp.StatusCode != 200 {
			t.Errorf("/healthz over HTTPS: %d", resp.StatusCode)
		}
	})

	redirect := logField(s.log.String(), "redirecting HTTP to HTTPS", "url")
	if !strings.HasPrefix(redirect, "http://127.0.0.1:") {
		t.Fatalf("redirect listener URL %q not logged", redirect)
	}
	follow := e2e.TLSClient(t, dir, nil) // follows redirects, as curl -L and most HTTP libraries do
	noFollow := e2e.TLSClient(t, dir, nil)
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	login := url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {adminPW}}.Encode()

	t.Run("POST /token over http:// is refused, not redirected", func(t *testing.T) {
		for name, c := range map[string]*http.Client{"following": follow, "not following": noFollow} {
			resp, body := send(t, c, "POST", redirect+"/token", formHeader, login)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || resp.Request.URL.Scheme != "http" {
				t.Fatalf("%s: %d at %s, Location %q: %s", name, resp.StatusCode, resp.Request.URL, resp.Header.Get("Location"), body)
			}
			var p struct {
				Title, Detail string
				Status        int
			}
			if resp.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal([]byte(body), &p) != nil ||
				p.Status != 400 || !strings.Contains(p.Detail, "use HTTPS") {
				t.Errorf("%s: %q %s", name, resp.Header.Get("Content-Type"), body)
			}
			if strings.Contains(body, "access_token") || strings.Contains(body, adminPW) {
				t.Errorf("%s: %s", name, body)
			}
		}
	})
	t.Run("credentials are never redirected", func(t *testing.T) {
		for _, h := range []map[string]string{
			{"Authorization": "Bearer x.y.z"},
			{"Cookie": "__Host-fortapi_session=abc"},
			{"X-API-Key": "fk_abc"},
		} {
			resp, body := send(t, noFollow, "GET", redirect+"/users/me", h, "")
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(body, "use HTTPS") {
				t.Errorf("%v: %d %q %s", h, resp.StatusCode, resp.Header.Get("Location"), body)
			}
		}
	})
	t.Run("GET is redirected to the development names only", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.url, "https://"))
		_, httpPort, _ := net.SplitHostPort(strings.TrimPrefix(redirect, "http://"))
		for _, tt := range []struct {
			host     string
			status   int
			location string
		}{
			{"", 308, s.url + "/healthz"},
			{"localhost:" + httpPort, 308, "https://localhost:" + port + "/healthz"},
			{"[::1]:" + httpPort, 308, "https://[::1]:" + port + "/healthz"},
			{"evil.example", 400, ""},
		} {
			req, _ := http.NewRequest("GET", redirect+"/healthz", nil)
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, err := noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
				t.Errorf("Host %q: %d %q, want %d %q", tt.host, resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
			}
		}
		if resp, _ := get(t, follow, redirect+"/healthz"); resp.StatusCode != 200 || resp.Request.URL.Scheme != "https" {
			t.Errorf("following the redirect: %d at %s", resp.StatusCode, resp.Request.URL)
		}
	})
	if code := s.stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
