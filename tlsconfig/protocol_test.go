package tlsconfig

import (
	"crypto/tls"
	"net"
	"slices"
	"testing"
	"time"
)

func TestServerConfig(t *testing.T) {
	c := Server()
	if c.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %s", tls.VersionName(c.MinVersion))
	}
	if c.MaxVersion != 0 {
		t.Errorf("MaxVersion %s caps TLS 1.3", tls.VersionName(c.MaxVersion))
	}
	aead := map[uint16]bool{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:       true,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:         true,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:       true,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:         true,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: true,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:   true,
	}
	for _, s := range c.CipherSuites {
		if !aead[s] {
			t.Errorf("suite %s is not ECDHE+AEAD", tls.CipherSuiteName(s))
		}
	}
	if len(c.CipherSuites) != len(aead) {
		t.Errorf("%d suites, want all %d ECDHE+AEAD suites", len(c.CipherSuites), len(aead))
	}
	if want := []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}; !slices.Equal(c.CurvePreferences, want) {
		t.Errorf("curves %v, want %v", c.CurvePreferences, want)
	}
	if want := []string{"h2", "http/1.1"}; !slices.Equal(c.NextProtos, want) {
		t.Errorf("ALPN %v, want %v", c.NextProtos, want)
	}
	if c.InsecureSkipVerify || c.Renegotiation != tls.RenegotiateNever {
		t.Error("unsafe option set")
	}
	// Each call returns a fresh config that callers may change.
	c.NextProtos[0] = "x"
	if Server().NextProtos[0] != "h2" {
		t.Error("Server() shares state between calls")
	}
}

// TestServerConfigRSA handshakes against an RSA certificate: static RSA key
// exchange, CBC and 3DES are refused even with AES-GCM; ECDHE-RSA with
// AEAD and TLS 1.3 succeed.
func TestServerConfigRSA(t *testing.T) {
	ca := newTestCA(t)
	l := ca.issue(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), rsaKey(t))
	cfg := Server()
	cfg.Certificates = []tls.Certificate{l.tls}
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
				c.SetDeadline(time.Now().Add(5 * time.Second))
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	tls12 := func(suites ...uint16) *tls.Config {
		return &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: suites}
	}
	tests := []struct {
		name   string
		client *tls.Config
		ok     bool
	}{
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, true},
		{"TLS 1.3 X25519MLKEM768 only", &tls.Config{MinVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.X25519MLKEM768}}, true},
		{"TLS 1.2 ECDHE-RSA AES-GCM", tls12(tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384), true},
		{"TLS 1.2 ECDHE-RSA ChaCha20", tls12(tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256), true},
		{"TLS 1.2 P-256 only", &tls.Config{MaxVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{tls.CurveP256}}, true},
		{"TLS 1.2 static RSA AES-GCM", tls12(tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384), false},
		{"TLS 1.2 ECDHE-RSA CBC", tls12(tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256), false},
		{"TLS 1.2 static RSA CBC", tls12(tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA256), false},
		{"TLS 1.2 3DES", tls12(tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA), false},
		{"TLS 1.2 RC4", tls12(tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA, tls.TLS_RSA_WITH_RC4_128_SHA), false},
		{"TLS 1.2 P-384 only", &tls.Config{MaxVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{tls.CurveP384}}, false},
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11}, false},
		{"TLS 1.0", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.client
			c.RootCAs = ca.pool
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
