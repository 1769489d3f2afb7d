package vulnapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"time"
)

// ServeOptions say where Serve listens. Only loopback addresses are
// accepted: 127.0.0.0/8, ::1 or localhost.
type ServeOptions struct {
	// Addr of the HTTPS listener; "" means 127.0.0.1:0.
	Addr string
	// HTTP starts a plain-HTTP listener as well. It redirects to HTTPS
	// (308 for GET and HEAD, 400 otherwise) on the clean target and serves
	// the API under FlawHTTPServesAPI, which starts it even when HTTP is false.
	HTTP bool
	// HTTPAddr of the plain-HTTP listener; "" means 127.0.0.1:0.
	HTTPAddr string
}

// Server is a running target.
type Server struct {
	// URL of the HTTPS listener, "https://127.0.0.1:PORT".
	URL string
	// HTTPURL of the plain-HTTP listener, "" when there is none.
	HTTPURL string
	// Certificate is the self-signed leaf the HTTPS listener presents
	// (expired under FlawTLSExpiredCert); CertPEM is its PEM encoding.
	Certificate *x509.Certificate
	CertPEM     []byte

	target *Target
	https  *http.Server
	http   *http.Server
	done   chan error
}

// Start builds a target with New and serves it with Serve; Close on the
// returned Server stops both and closes the target.
func Start(opts Options, so ServeOptions) (*Server, error) {
	t, err := New(opts)
	if err != nil {
		return nil, err
	}
	s, err := t.Serve(so)
	if err != nil {
		t.Close()
		return nil, err
	}
	s.target = t
	return s, nil
}

// checkLoopback refuses any address whose host is not a loopback one.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("vulnapi: address %q: %w", addr, err)
	}
	if !loopbackHost(host) {
		return fmt.Errorf("vulnapi: refusing to listen on %q: a vulnerable target listens on loopback only", addr)
	}
	return nil
}

// Serve listens on loopback (port 0 by default) with a fresh self-signed
// certificate, and on a plain-HTTP port when asked or when
// FlawHTTPServesAPI is planted. The transport flaws are planted here.
// Close the Server to stop it (it does not close the Target).
func (t *Target) Serve(so ServeOptions) (*Server, error) {
	if so.Addr == "" {
		so.Addr = "127.0.0.1:0"
	}
	if so.HTTPAddr == "" {
		so.HTTPAddr = "127.0.0.1:0"
	}
	withHTTP := so.HTTP || t.flaws.Has(FlawHTTPServesAPI)
	if err := checkLoopback(so.Addr); err != nil {
		return nil, err
	}
	if withHTTP {
		if err := checkLoopback(so.HTTPAddr); err != nil {
			return nil, err
		}
	}
	cert, leaf, certPEM, err := t.certificate()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", so.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{Certificate: leaf, CertPEM: certPEM, done: make(chan error, 2)}
	s.URL = "https://" + ln.Addr().String()
	s.https = &http.Server{
		Handler:           t.handler,
		TLSConfig:         t.tlsConfig(cert),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // refused handshakes are the point of some tests
	}
	tlsLn := tls.NewListener(ln, s.https.TLSConfig)
	go func() { s.done <- s.https.Serve(tlsLn) }()

	if withHTTP {
		hln, err := net.Listen("tcp", so.HTTPAddr)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.HTTPURL = "http://" + hln.Addr().String()
		var h http.Handler = t.handler
		if !t.flaws.Has(FlawHTTPServesAPI) {
			h = redirectToHTTPS(s.URL)
		}
		s.http = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
		go func() { s.done <- s.http.Serve(hln) }()
	}
	return s, nil
}

// redirectToHTTPS answers GET and HEAD without credentials with 308 to
// the same path on the HTTPS listener, and everything else with 400:
// credentials sent in clear are never forwarded.
func redirectToHTTPS(base string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		w.Header().Set("X-Frame-Options", "DENY")
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.Header.Get("Authorization") == "" && r.Header.Get("Cookie") == "" {
			u, _ := url.Parse(base)
			u.Path, u.RawPath, u.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
			http.Redirect(w, r, u.String(), http.StatusPermanentRedirect)
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"type":"about:blank","title":"Bad Request","status":400,"detail":"use HTTPS"}` + "\n"))
	})
}

// aeadSuites are the only TLS 1.2 suites of the clean target (the
// certificate is ECDSA). TLS 1.3 suites are not configurable and all AEAD.
func aeadSuites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	}
}

func cbcSuites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	}
}

// tlsConfig: TLS 1.2+ with AEAD suites on the clean target. FlawTLSCBC
// adds CBC suites on TLS 1.2. FlawTLSLegacy accepts TLS 1.0 and 1.1 (Go
// still implements them when MinVersion says so explicitly); a client that
// offers nothing above 1.1 gets the CBC suites, the only ones those
// versions have, while a TLS 1.2 client still gets AEAD only unless
// FlawTLSCBC is planted too. So each flaw shows alone.
func (t *Target) tlsConfig(cert tls.Certificate) *tls.Config {
	base := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: aeadSuites(),
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if t.flaws.Has(FlawTLSCBC) {
		base.CipherSuites = append(aeadSuites(), cbcSuites()...)
	}
	if !t.flaws.Has(FlawTLSLegacy) {
		return base
	}
	legacy := base.Clone()
	legacy.MinVersion = tls.VersionTLS10
	legacy.MaxVersion = tls.VersionTLS11
	legacy.CipherSuites = cbcSuites()
	outer := base.Clone()
	outer.MinVersion = tls.VersionTLS10
	outer.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		for _, v := range hello.SupportedVersions {
			if v >= tls.VersionTLS12 {
				return base, nil
			}
		}
		return legacy, nil
	}
	return outer
}

// certificate makes a self-signed ECDSA leaf for 127.0.0.1, ::1 and
// localhost, valid for a day (expired since yesterday under
// FlawTLSExpiredCert). It is not a CA.
func (t *Target) certificate() (tls.Certificate, *x509.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	now := t.now()
	notBefore, notAfter := now.Add(-time.Hour), now.Add(24*time.Hour)
	if t.flaws.Has(FlawTLSExpiredCert) {
		notBefore, notAfter = now.Add(-72*time.Hour), now.Add(-24*time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "vulnapi test target"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf,
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// Target returns the served target (nil when Serve was called directly).
func (s *Server) Target() *Target { return s.target }

// CertPool holds the server's certificate, for clients that verify it.
func (s *Server) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.Certificate)
	return p
}

// Client returns an HTTP client that trusts the server's certificate
// (verifying it at a time within its validity, so that it works under
// FlawTLSExpiredCert too) and does not follow redirects.
func (s *Server) Client() *http.Client {
	cfg := &tls.Config{RootCAs: s.CertPool(), MinVersion: tls.VersionTLS12}
	if time.Now().After(s.Certificate.NotAfter) {
		valid := s.Certificate.NotBefore.Add(time.Minute)
		cfg.Time = func() time.Time { return valid }
	}
	return &http.Client{
		Transport:     &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true},
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Close stops the listeners at once and, for a Server made by Start, closes the
// target.
func (s *Server) Close() error {
	var err error
	// Close, not Shutdown: a graceful stop would wait for clients to drop
	// their idle HTTP/2 connections, and a test target has nothing to save.
	if s.https != nil {
		err = errors.Join(err, s.https.Close())
	}
	if s.http != nil {
		err = errors.Join(err, s.http.Close())
	}
	if s.target != nil {
		err = errors.Join(err, s.target.Close())
	}
	return err
}
