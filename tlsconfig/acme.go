package tlsconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// LetsEncryptURL is the default ACME directory: Let's Encrypt production.
const LetsEncryptURL = autocert.DefaultACMEDirectory

// ACMEOptions configure ACME; Domains and CacheDir are required.
type ACMEOptions struct {
	// Domains are the names to obtain certificates for, in ASCII
	// (punycode for international names). Only these are ever requested:
	// a handshake for any other name fails before the CA is asked, so
	// that clients cannot burn the CA's rate limits with made-up names.
	Domains []string
	// CacheDir keeps the ACME account key, the certificates and their
	// private keys (created with mode 0700; an existing directory that
	// others may access is refused). Keep it across restarts, or the CA's
	// rate limits will soon refuse new certificates.
	CacheDir string
	// Email is the contact address the CA may use to warn about expiring
	// or revoked certificates (optional).
	Email string
	// DirectoryURL is the ACME directory (default LetsEncryptURL; use
	// Let's Encrypt's staging directory while trying things out).
	DirectoryURL string
	// HTTPClient talks to the CA (default http.DefaultClient); tests set
	// one that trusts their CA.
	HTTPClient *http.Client
	// RenewBefore renews certificates this long before they expire
	// (default autocert's: 30 days, or a third of a shorter lifetime).
	RenewBefore time.Duration
	// Now is the clock of ExpiresWithin (default time.Now).
	Now func() time.Time
}

// ACMEManager obtains and renews certificates from an ACME CA (Let's
// Encrypt by default) with golang.org/x/crypto/acme/autocert, answering
// the CA's tls-alpn-01 challenges on the HTTPS listener (TLSConfig) and
// its http-01 challenges on the HTTP listener (HTTPHandler). Using it
// accepts the CA's terms of service.
type ACMEManager struct {
	m       *autocert.Manager
	domains []string
	now     func() time.Time
}

// ACME returns a manager for opts.Domains with its cache in opts.CacheDir.
// Nothing is requested from the CA until the first handshake for a domain
// or a call to Obtain.
func ACME(opts ACMEOptions) (*ACMEManager, error) {
	if len(opts.Domains) == 0 {
		return nil, errors.New("tlsconfig: ACME needs at least one domain")
	}
	var domains []string
	for _, d := range opts.Domains {
		n, err := acmeDomain(d)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(domains, n) {
			domains = append(domains, n)
		}
	}
	if opts.CacheDir == "" {
		return nil, errors.New("tlsconfig: ACME needs a cache directory")
	}
	if err := os.MkdirAll(opts.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("tlsconfig: ACME cache: %w", err)
	}
	st, err := os.Stat(opts.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: ACME cache: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("tlsconfig: ACME cache %s has mode %04o but holds private keys: chmod 700 it", opts.CacheDir, perm)
	}
	if opts.DirectoryURL == "" {
		opts.DirectoryURL = LetsEncryptURL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &autocert.Manager{
		Prompt:      autocert.AcceptTOS,
		Cache:       autocert.DirCache(opts.CacheDir),
		HostPolicy:  hostPolicy(domains),
		RenewBefore: opts.RenewBefore,
		Email:       opts.Email,
		Client: &acme.Client{
			DirectoryURL: opts.DirectoryURL,
			HTTPClient:   opts.HTTPClient,
			UserAgent:    "fortapi",
		},
	}
	return &ACMEManager{m: m, domains: domains, now: opts.Now}, nil
}

// acmeDomain checks and lower-cases a domain for ACME: a DNS name with at
// least two labels, no wildcard, no IP address, no port.
func acmeDomain(d string) (string, error) {
	n := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
	switch {
	case strings.HasPrefix(n, "*."):
		return "", fmt.Errorf("tlsconfig: ACME domain %q: wildcards need the dns-01 challenge, which is not supported", d)
	case net.ParseIP(n) != nil:
		return "", fmt.Errorf("tlsconfig: ACME domain %q: IP addresses are not supported", d)
	case !validDNSName(n) || !strings.Contains(n, ".") || strings.Contains(n, "_"):
		return "", fmt.Errorf("tlsconfig: ACME domain %q is not a public DNS name (use punycode for international names)", d)
	}
	return n, nil
}

// hostPolicy allows exactly the domains; a port (in the Host header of an
// http-01 request on a non-default port) and a trailing dot are ignored.
func hostPolicy(domains []string) autocert.HostPolicy {
	return func(_ context.Context, host string) error {
		h := host
		if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[:i], ":") {
			h = h[:i]
		}
		h = strings.TrimSuffix(strings.ToLower(h), ".")
		if slices.Contains(domains, h) {
			return nil
		}
		return fmt.Errorf("tlsconfig: ACME: host %q is not one of the configured domains", host)
	}
}

// Domains are the names the manager obtains certificates for.
func (a *ACMEManager) Domains() []string { return slices.Clone(a.domains) }

// Manager is the underlying autocert.Manager, for what this type does not
// cover. Do not change its fields after the first handshake.
func (a *ACMEManager) Manager() *autocert.Manager { return a.m }

// GetCertificate is autocert's, for tls.Config.GetCertificate: a cached
// certificate, or a new one obtained during the handshake.
func (a *ACMEManager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return a.m.GetCertificate(hello)
}

// TLSConfig returns Server() with the manager's GetCertificate and ALPN
// protocols h2, http/1.1 and acme-tls/1 (for tls-alpn-01 challenges).
func (a *ACMEManager) TLSConfig() *tls.Config {
	c := Server()
	c.GetCertificate = a.m.GetCertificate
	c.NextProtos = append(c.NextProtos, acme.ALPNProto)
	return c
}

// HTTPHandler serves http-01 challenges under /.well-known/acme-challenge/
// (for the configured domains only) and hands every other request to
// fallback; a nil fallback is RedirectHandler("443", domains...). Mount it
// on the plain-HTTP listener, port 80 (where the CA looks).
func (a *ACMEManager) HTTPHandler(fallback http.Handler) http.Handler {
	if fallback == nil {
		fallback = RedirectHandler("443", a.domains...)
	}
	return a.m.HTTPHandler(fallback)
}

// Obtain makes sure every domain has a certificate, from the cache or from
// the CA, so that the first visitor does not wait for issuance; run it in
// the background after the listeners are up (the CA must reach them). It
// returns the first error, naming its domain.
func (a *ACMEManager) Obtain(ctx context.Context) error {
	for _, d := range a.domains {
		hello := &tls.ClientHelloInfo{
			ServerName:        d,
			CipherSuites:      []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
			SignatureSchemes:  []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
			SupportedCurves:   []tls.CurveID{tls.CurveP256},
			SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
		}
		done := make(chan error, 1)
		go func() { // autocert takes no context: it bounds itself at 5 minutes
			_, err := a.m.GetCertificate(hello)
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("tlsconfig: ACME certificate for %s: %w", d, err)
			}
		case <-ctx.Done():
			return fmt.Errorf("tlsconfig: ACME certificate for %s: %w", d, ctx.Err())
		}
	}
	return nil
}

// ErrNoCertificate is returned by NotAfter for a domain that has no
// certificate in the cache yet.
var ErrNoCertificate = errors.New("no certificate yet")

// NotAfter returns the earliest expiry among the domains' certificates in
// the cache (what the server serves), or an error wrapping
// ErrNoCertificate for a domain that has none yet.
func (a *ACMEManager) NotAfter(ctx context.Context) (time.Time, error) {
	var earliest time.Time
	for _, d := range a.domains {
		data, err := a.m.Cache.Get(ctx, d)
		if errors.Is(err, autocert.ErrCacheMiss) {
			return time.Time{}, fmt.Errorf("tlsconfig: ACME %s: %w", d, ErrNoCertificate)
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("tlsconfig: ACME cache %s: %w", d, err)
		}
		leaf, err := firstCertificate(data)
		if err != nil {
			return time.Time{}, fmt.Errorf("tlsconfig: ACME cache %s: %w", d, err)
		}
		if earliest.IsZero() || leaf.NotAfter.Before(earliest) {
			earliest = leaf.NotAfter
		}
	}
	return earliest, nil
}

// ExpiresWithin reports whether a domain's certificate expires within d;
// with autocert renewing 30 days ahead, true means renewal is failing.
func (a *ACMEManager) ExpiresWithin(ctx context.Context, d time.Duration) (bool, error) {
	na, err := a.NotAfter(ctx)
	if err != nil {
		return false, err
	}
	return na.Sub(a.now()) < d, nil
}

// firstCertificate finds the leaf in autocert's cache format: the private
// key and then the chain, all PEM.
func firstCertificate(data []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errNoCertificate
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}
