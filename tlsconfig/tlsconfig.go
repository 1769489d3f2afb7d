package tlsconfig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Server returns a server tls.Config: TLS 1.2 minimum, ECDHE+AEAD suites
// only for TLS 1.2, post-quantum hybrid key exchange first, ALPN h2 and
// http/1.1. The caller sets Certificates or GetCertificate.
func Server() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256},
		NextProtos:       []string{"h2", "http/1.1"},
	}
}

// DevCertOptions tune DevCertificate; the zero value is fine.
type DevCertOptions struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Rand is the randomness for the key and serial (default crypto/rand).
	Rand io.Reader
	// Validity of a new certificate (default 90 days).
	Validity time.Duration
	// RenewBefore: a certificate with less validity left is replaced
	// (default 14 days).
	RenewBefore time.Duration
}

// DevCert is a development certificate on disk.
type DevCert struct {
	CertFile, KeyFile string
	Certificate       tls.Certificate
	// Fingerprint is the SHA-256 of the DER certificate, as colon-separated
	// upper-case hex (what browsers and openssl show).
	Fingerprint string
	NotAfter    time.Time
	// Created is true when this call wrote a new certificate.
	Created bool
	// Replaced says why an existing certificate was replaced ("" when
	// there was none, or it was reused): it was unreadable, for other
	// names, expiring, or a CA.
	Replaced string
	// ReplacedCA is true when the replaced certificate was a CA (as
	// fortapi's development certificates were before they became leaf
	// certificates): anyone holding its key could sign certificates for
	// any name, so it must be removed from every trust store it was
	// added to.
	ReplacedCA bool
}

// TLSConfig returns Server() serving the development certificate, for
// fortapi.ServerOptions.TLSConfig or http.Server.TLSConfig. The
// certificate is the one loaded when DevCertificate ran: call
// DevCertificate again (at start-up) to renew it.
func (dc *DevCert) TLSConfig() *tls.Config {
	tc := Server()
	tc.Certificates = []tls.Certificate{dc.Certificate}
	return tc
}

// devDNS and devIPs are the names a development certificate covers.
func devDNS() []string { return []string{"localhost"} }

func devIPs() []net.IP { return []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")} }

// DevCertificate loads the development certificate in dir (cert.pem,
// key.pem), or creates one when it is missing, unreadable, not for the
// development names, expiring within RenewBefore, or a CA.
//
// The certificate is a self-signed leaf: CA:FALSE, key usage
// digitalSignature only, extended key usage serverAuth, for localhost,
// 127.0.0.1 and ::1. Clients trust it directly (curl --cacert cert.pem,
// Go's x509 with it as a root): a leaf in the trust store verifies as
// itself, and nothing it signs verifies, so trusting it never lets the
// holder of key.pem impersonate other names.
func DevCertificate(dir string, opts DevCertOptions) (*DevCert, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Validity <= 0 {
		opts.Validity = 90 * 24 * time.Hour
	}
	if opts.RenewBefore <= 0 {
		opts.RenewBefore = 14 * 24 * time.Hour
	}
	dc := &DevCert{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}
	var ue *unusableError
	switch err := dc.load(opts); {
	case err == nil:
		return dc, nil
	case errors.As(err, &ue):
		dc.Replaced, dc.ReplacedCA = ue.reason, ue.ca
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlsconfig: creating %s: %w", dir, err)
	}
	if err := dc.create(opts); err != nil {
		return nil, err
	}
	if err := dc.load(opts); err != nil {
		return nil, fmt.Errorf("tlsconfig: reading back the new certificate: %w", err)
	}
	dc.Created = true
	return dc, nil
}

// unusableError is why an existing development certificate is replaced.
type unusableError struct {
	reason string
	ca     bool
}

func (e *unusableError) Error() string { return "unusable development certificate: " + e.reason }

func unusable(format string, a ...any) error {
	return &unusableError{reason: fmt.Sprintf(format, a...)}
}

func (dc *DevCert) load(opts DevCertOptions) error {
	pair, err := tls.LoadX509KeyPair(dc.CertFile, dc.KeyFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return unusable("%v", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return unusable("%v", err)
	}
	if leaf.IsCA || !leaf.BasicConstraintsValid || leaf.KeyUsage&x509.KeyUsageCertSign != 0 {
		return &unusableError{reason: "it is a CA certificate, which could sign certificates for any name", ca: true}
	}
	now := opts.Now()
	if now.Before(leaf.NotBefore) || leaf.NotAfter.Sub(now) < opts.RenewBefore {
		return unusable("it expires %s", leaf.NotAfter.Format(time.RFC3339))
	}
	if !slices.Equal(leaf.DNSNames, devDNS()) || len(leaf.IPAddresses) != len(devIPs()) {
		return unusable("it is not for the development names")
	}
	pair.Leaf = leaf
	sum := sha256.Sum256(leaf.Raw)
	dc.Certificate = pair
	dc.Fingerprint = colonHex(sum[:])
	dc.NotAfter = leaf.NotAfter
	return nil
}

func (dc *DevCert) create(opts DevCertOptions) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), opts.Rand)
	if err != nil {
		return fmt.Errorf("tlsconfig: generating a key: %w", err)
	}
	serial, err := rand.Int(opts.Rand, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return fmt.Errorf("tlsconfig: generating a serial number: %w", err)
	}
	now := opts.Now()
	// A self-signed leaf, not a CA: trusted as itself (curl --cacert and
	// Go both accept a trust anchor that is the server's own certificate),
	// it can sign nothing that verifies.
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"fortapi development"}, CommonName: "localhost"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(opts.Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		DNSNames:              devDNS(),
		IPAddresses:           devIPs(),
	}
	der, err := x509.CreateCertificate(opts.Rand, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("tlsconfig: creating the certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("tlsconfig: encoding the key: %w", err)
	}
	if err := writeFileAtomic(dc.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(dc.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFileAtomic writes through a temporary file and a rename, so that a
// crash never leaves half a key behind.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("tlsconfig: writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("tlsconfig: writing %s: %w", path, err)
	}
	return nil
}

func colonHex(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%02X", c)
	}
	return sb.String()
}
