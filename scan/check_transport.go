package scan

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// handshake opens a TLS connection to the target with cfg and returns its
// state; the connection is closed at once.
func (s *scanner) handshake(ctx context.Context, cfg *tls.Config) (tls.ConnectionState, error) {
	if err := s.spend(); err != nil {
		return tls.ConnectionState{}, err
	}
	if err := s.limiter.Wait(ctx); err != nil {
		return tls.ConnectionState{}, err
	}
	defer s.progress()
	if cfg.ServerName == "" && net.ParseIP(s.base.Hostname()) == nil {
		cfg.ServerName = s.base.Hostname()
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	c, err := d.DialContext(ctx, "tcp", s.base.Host)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState(), nil
}

// weakSuites are the TLS 1.2 suites without AEAD (CBC, RC4, 3DES) that
// Go can offer.
func weakSuites() []*tls.CipherSuite {
	var out []*tls.CipherSuite
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if strings.Contains(cs.Name, "_CBC_") || strings.Contains(cs.Name, "RC4") || strings.Contains(cs.Name, "3DES") {
			out = append(out, cs)
		}
	}
	return out
}

func allSuiteIDs() []uint16 {
	var ids []uint16
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		ids = append(ids, cs.ID)
	}
	return ids
}

func (s *scanner) checkTransport(ctx context.Context) error {
	if s.enabled("HTTP-NO-REDIRECT") {
		if err := s.checkHTTPRedirect(ctx); err != nil {
			return err
		}
	}
	if s.base.Scheme != "https" {
		s.note("the target is plain HTTP: TLS checks skipped (scan the HTTPS address, or the proxy in front)")
		return nil
	}
	if s.enabled("TLS-LEGACY-PROTOCOL") {
		for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
			// Go's client offers TLS 1.0 and 1.1 when asked explicitly,
			// with every suite those versions can use.
			st, err := s.handshake(ctx, &tls.Config{MinVersion: v, MaxVersion: v, InsecureSkipVerify: true, CipherSuites: allSuiteIDs()})
			if errors.Is(err, errBudget) || ctx.Err() != nil {
				return err
			}
			if err == nil {
				s.report("TLS-LEGACY-PROTOCOL", "", tls.VersionName(v), fmt.Sprintf("a handshake limited to %s completed (suite %s)", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)))
			}
		}
	}
	if s.enabled("TLS-WEAK-CIPHER") {
		var ids []uint16
		for _, cs := range weakSuites() {
			ids = append(ids, cs.ID)
		}
		for range 4 { // name each accepted suite, up to four
			if len(ids) == 0 {
				break
			}
			st, err := s.handshake(ctx, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true, CipherSuites: ids})
			if errors.Is(err, errBudget) || ctx.Err() != nil {
				return err
			}
			if err != nil {
				break
			}
			name := tls.CipherSuiteName(st.CipherSuite)
			s.report("TLS-WEAK-CIPHER", "", name, fmt.Sprintf("a handshake offering only non-AEAD suites completed: %s with %s", tls.VersionName(st.Version), name))
			ids = removeID(ids, st.CipherSuite)
		}
	}
	if s.enabled("TLS-CERT-INVALID") {
		if err := s.checkCert(ctx); err != nil {
			return err
		}
	}
	if s.enabled("HSTS-MISSING") {
		p := s.prefix + "/"
		if s.doc != nil && strings.HasPrefix(s.doc.source, "/") {
			p = s.doc.source
		}
		r, err := s.do(ctx, req{method: "GET", path: p})
		if err != nil {
			return err
		}
		if !hstsOK(r.header.Get("Strict-Transport-Security")) {
			s.report("HSTS-MISSING", "", "", "no Strict-Transport-Security with a positive max-age\n"+excerpt(r))
		}
	}
	return nil
}

func removeID(ids []uint16, id uint16) []uint16 {
	out := ids[:0:0]
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

func hstsOK(v string) bool {
	for _, d := range strings.Split(strings.ToLower(v), ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		if k == "max-age" {
			val = strings.Trim(val, `"`)
			return val != "" && val != "0" && strings.Trim(val, "0123456789") == ""
		}
	}
	return false
}

func (s *scanner) checkCert(ctx context.Context) error {
	st, err := s.handshake(ctx, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	if err != nil {
		if errors.Is(err, errBudget) || ctx.Err() != nil {
			return err
		}
		s.note("TLS handshake for the certificate check failed: %v", err)
		return nil
	}
	if len(st.PeerCertificates) == 0 {
		return nil
	}
	leaf := st.PeerCertificates[0]
	now := s.clock.Now()
	host := s.base.Hostname()
	subject := fmt.Sprintf("subject %q, issuer %q, valid %s to %s", leaf.Subject.String(), leaf.Issuer.String(), leaf.NotBefore.Format(time.DateOnly), leaf.NotAfter.Format(time.DateOnly))
	switch {
	case now.After(leaf.NotAfter):
		s.report("TLS-CERT-INVALID", "", "expired", "the certificate expired on "+leaf.NotAfter.UTC().Format(time.RFC3339)+"; "+subject)
		return nil
	case now.Before(leaf.NotBefore):
		s.report("TLS-CERT-INVALID", "", "not yet valid", "the certificate is valid only from "+leaf.NotBefore.UTC().Format(time.RFC3339)+"; "+subject)
		return nil
	}
	if err := leaf.VerifyHostname(host); err != nil {
		s.report("TLS-CERT-INVALID", "", "wrong name", fmt.Sprintf("the certificate is not for %s: %v; %s", host, err, subject))
		return nil
	}
	if s.opts.Insecure {
		return nil
	}
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: s.opts.RootCAs, Intermediates: inter, CurrentTime: now}); err != nil {
		s.report("TLS-CERT-INVALID", "", "untrusted", fmt.Sprintf("the certificate does not verify: %v; %s (use --insecure for a known self-signed certificate)", err, subject))
	}
	return nil
}

// checkHTTPRedirect asks the plain-HTTP address for the document (or /)
// and wants a redirect to HTTPS.
func (s *scanner) checkHTTPRedirect(ctx context.Context) error {
	hu := s.opts.HTTPURL
	if hu == "" {
		if s.base.Scheme == "https" && s.base.Port() == "443" {
			hu = "http://" + net.JoinHostPort(s.base.Hostname(), "80")
		} else {
			return nil
		}
	}
	u, err := url.Parse(hu)
	if err != nil || u.Scheme != "http" || !strings.EqualFold(u.Hostname(), s.base.Hostname()) {
		s.note("--http-url %q skipped: it must be http:// on the target's host", hu)
		return nil
	}
	p := s.prefix + "/"
	if s.doc != nil && strings.HasPrefix(s.doc.source, "/") {
		p = s.doc.source
	}
	if err := s.spend(); err != nil {
		return err
	}
	if err := s.limiter.Wait(ctx); err != nil {
		return err
	}
	hr, err := http.NewRequestWithContext(ctx, "GET", "http://"+u.Host+p, nil)
	if err != nil {
		return nil
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if s.opts.Transport != nil {
		c.Transport = s.opts.Transport
	}
	start := s.clock.Now()
	res, err := c.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.note("plain HTTP at %s: %v (no redirect listener, nothing served)", u.Host, err)
		return nil
	}
	defer res.Body.Close()
	r := &resp{status: res.StatusCode, header: res.Header, req: hr, dur: s.clock.Now().Sub(start)}
	loc := res.Header.Get("Location")
	switch {
	case res.StatusCode >= 300 && res.StatusCode < 400 && strings.HasPrefix(strings.ToLower(loc), "https://"):
	case res.StatusCode >= 200 && res.StatusCode < 300:
		s.report("HTTP-NO-REDIRECT", "", "", "plain HTTP serves content instead of redirecting to HTTPS\n"+excerpt(r))
	case res.StatusCode >= 300 && res.StatusCode < 400:
		s.report("HTTP-NO-REDIRECT", "", "", "plain HTTP redirects, but not to https://\n"+excerpt(r))
	}
	return nil
}
