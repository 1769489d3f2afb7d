package tlsconfig

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestDevCertificateLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	first, err := DevCertificate(dir, DevCertOptions{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if !first.Created {
		t.Error("a fresh directory did not create a certificate")
	}
	leaf := first.Certificate.Leaf
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "localhost" || len(leaf.IPAddresses) != 2 {
		t.Errorf("names %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(host); err != nil {
			t.Errorf("not valid for %s: %v", host, err)
		}
	}
	if leaf.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("key algorithm %v, want ECDSA", leaf.PublicKeyAlgorithm)
	}
	for name, want := range map[string]os.FileMode{"key.pem": 0o600} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v (%v)", name, st.Mode().Perm(), want, err)
		}
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v", st.Mode().Perm())
	}

	tests := []struct {
		name    string
		advance time.Duration
		mangle  func()
		created bool
	}{
		{"reused", 24 * time.Hour, nil, false},
		{"reused until 14 days are left", 75 * 24 * time.Hour, nil, false},
		{"renewed when expiring", 77 * 24 * time.Hour, nil, true},
		{"recreated when the key is corrupt", 0, func() { _ = os.WriteFile(filepath.Join(dir, "key.pem"), []byte("garbage"), 0o600) }, true},
		{"recreated when the certificate is missing", 0, func() { _ = os.Remove(filepath.Join(dir, "cert.pem")) }, true},
	}
	prev := first
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = now.Add(tt.advance)
			if tt.mangle != nil {
				tt.mangle()
			}
			got, err := DevCertificate(dir, DevCertOptions{Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			if got.Created != tt.created {
				t.Errorf("created = %v, want %v", got.Created, tt.created)
			}
			same := got.Fingerprint == prev.Fingerprint
			if same == tt.created {
				t.Errorf("fingerprint changed = %v, want %v", !same, tt.created)
			}
			prev = got
		})
	}
	if len(prev.Fingerprint) != 32*3-1 {
		t.Errorf("fingerprint %q is not colon-separated SHA-256", prev.Fingerprint)
	}
}

func TestDevCertificateUnwritableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := DevCertificate(filepath.Join(file, "tls"), DevCertOptions{}); err == nil {
		t.Error("a directory under a file was accepted")
	}
}

// TestServerConfigRefusesWeakClients handshakes with real crypto/tls
// clients: old protocol versions and CBC suites fail, modern ones succeed.
func TestServerConfigRefusesWeakClients(t *testing.T) {
	dc, err := DevCertificate(t.TempDir(), DevCertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Server()
	cfg.Certificates = []tls.Certificate{dc.Certificate}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	pem, _ := os.ReadFile(dc.CertFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)

	tests := []struct {
		name   string
		client *tls.Config
		ok     bool
	}{
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, true},
		{"TLS 1.2 AEAD", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
		{"TLS 1.2 ChaCha20", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}, true},
		{"TLS 1.2 CBC only", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}}, false},
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11}, false},
		{"TLS 1.0", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.client
			c.RootCAs = pool
			c.ServerName = "localhost"
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), c)
			if err == nil {
				state := conn.ConnectionState()
				conn.Close()
				if !tt.ok {
					t.Fatalf("handshake succeeded with %s / %s", tls.VersionName(state.Version), tls.CipherSuiteName(state.CipherSuite))
				}
				return
			}
			if tt.ok {
				t.Fatalf("handshake failed: %v", err)
			}
		})
	}
}

func TestDevCertificateWritesAtomically(t *testing.T) {
	dir := t.TempDir()
	if _, err := DevCertificate(dir, DevCertOptions{}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 || !bytes.Equal([]byte(names[0]+names[1]), []byte("cert.pemkey.pem")) {
		t.Errorf("directory holds %v; temporary files left behind?", names)
	}
}

// mintWithDevKey signs a certificate for evil.example with the private key
// of the development certificate dc, as whoever reads key.pem could.
func mintWithDevKey(t *testing.T, dc *DevCert) (der []byte, key *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(666),
		Subject:      pkix.Name{CommonName: "evil.example"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"evil.example"},
	}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, dc.Certificate.Leaf, &key.PublicKey, dc.Certificate.PrivateKey)
	if err != nil {
		t.Fatal(err) // Go signs with any key; the verifier must refuse
	}
	return der, key
}

// TestDevCertificateIsNotACA attacks the development certificate as a
// developer who trusts it (curl --cacert, or system-wide) would be
// attacked: a certificate for evil.example signed with its key must not
// verify with the development certificate as the only root.
func TestDevCertificateIsNotACA(t *testing.T) {
	dc, err := DevCertificate(t.TempDir(), DevCertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	leaf := dc.Certificate.Leaf
	if leaf.IsCA || !leaf.BasicConstraintsValid || leaf.KeyUsage&x509.KeyUsageCertSign != 0 {
		t.Errorf("CA %v (basic constraints %v), key usage %b: want a leaf, CA:FALSE, without certSign", leaf.IsCA, leaf.BasicConstraintsValid, leaf.KeyUsage)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("extended key usage %v, want serverAuth only", leaf.ExtKeyUsage)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("the development certificate does not verify as its own root for %s: %v", host, err)
		}
	}
	der, _ := mintWithDevKey(t, dc)
	evil, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if chains, err := evil.Verify(x509.VerifyOptions{Roots: roots, DNSName: "evil.example"}); err == nil {
		t.Errorf("a certificate for evil.example signed with the development key verifies (chain of %d): the development certificate is a CA", len(chains[0]))
	}
}

// TestDevCertificateWithCurl checks with the system's curl (OpenSSL) what
// the development certificate is for: curl --cacert cert.pem reaches the
// server, and refuses a server whose certificate was signed with key.pem.
func TestDevCertificateWithCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl on this machine")
	}
	dc, err := DevCertificate(t.TempDir(), DevCertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	cfg := Server()
	cfg.Certificates = []tls.Certificate{dc.Certificate}
	good := serveTLS(t, cfg, ok)
	der, key := mintWithDevKey(t, dc)
	evilCfg := Server()
	evilCfg.Certificates = []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}
	evil := serveTLS(t, evilCfg, ok)
	_, goodPort, _ := net.SplitHostPort(good)
	_, evilPort, _ := net.SplitHostPort(evil)
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"localhost", []string{"https://localhost:" + goodPort + "/"}, true},
		{"127.0.0.1", []string{"https://127.0.0.1:" + goodPort + "/"}, true},
		{"evil.example signed with key.pem", []string{"--resolve", "evil.example:" + evilPort + ":127.0.0.1", "https://evil.example:" + evilPort + "/"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			args := append([]string{"-sS", "--max-time", "5", "--noproxy", "*", "--cacert", dc.CertFile}, tt.args...)
			out, err := exec.CommandContext(ctx, curl, args...).CombinedOutput()
			if got := err == nil && string(out) == "ok"; got != tt.ok {
				t.Errorf("curl %v: %q %v, want success %v", tt.args, out, err, tt.ok)
			}
		})
	}
}

// writeOldDevCA writes to dir the development certificate as fortapi made
// it before it became a leaf: a self-signed, unconstrained CA for the
// development names.
func writeOldDevCA(t *testing.T, dir string) {
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
		DNSNames:              devDNS(),
		IPAddresses:           devIPs(),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeAtomic(t, filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	writeAtomic(t, filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestDevCertificateReplacesOldCA: a development certificate that is a CA
// (what older versions wrote) is replaced by a leaf, with a new key, and
// the caller is told why.
func TestDevCertificateReplacesOldCA(t *testing.T) {
	dir := t.TempDir()
	writeOldDevCA(t, dir)
	oldKey, _ := os.ReadFile(filepath.Join(dir, "key.pem"))
	dc, err := DevCertificate(dir, DevCertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !dc.Created || !dc.ReplacedCA || dc.Replaced == "" {
		t.Fatalf("created %v, replaced CA %v (%q): the old CA was kept", dc.Created, dc.ReplacedCA, dc.Replaced)
	}
	if dc.Certificate.Leaf.IsCA {
		t.Error("the replacement is a CA")
	}
	if newKey, _ := os.ReadFile(filepath.Join(dir, "key.pem")); bytes.Equal(oldKey, newKey) {
		t.Error("the old CA's key is still in key.pem")
	}
	again, err := DevCertificate(dir, DevCertOptions{})
	if err != nil || again.Created || again.Replaced != "" || again.ReplacedCA {
		t.Errorf("the new leaf is not reused: created %v, replaced %q, %v", again.Created, again.Replaced, err)
	}
}
