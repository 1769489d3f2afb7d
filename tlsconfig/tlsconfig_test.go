package tlsconfig

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
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
