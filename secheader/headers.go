package secheader

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// HSTS limits. A max-age below MinHSTSMaxAge protects too briefly to be
// worth sending; DisableHSTS is the explicit way to send none.
const (
	DefaultHSTSMaxAge = 2 * 365 * 24 * time.Hour // 63072000 s
	MinHSTSMaxAge     = 24 * time.Hour
	// MinHSTSPreloadMaxAge is the shortest max-age the HSTS preload list
	// (hstspreload.org) accepts.
	MinHSTSPreloadMaxAge = 365 * 24 * time.Hour
)

// NonceBytes is how many random bytes make an HTML nonce: 144 bits, 24
// base64 characters without padding.
const NonceBytes = 18

// ReportEndpoint is the name of the Reporting-Endpoints entry that the CSP
// report-to directive names when Options.ReportURI is set.
const ReportEndpoint = "csp-endpoint"

// Fixed header values.
const (
	// APIPolicy is the Content-Security-Policy of every response that
	// does not call Headers.HTML: nothing may load, nothing may frame it,
	// and no form or <base> may point anywhere. A JSON document opened as
	// a page (or sniffed as HTML by a broken client) runs nothing.
	APIPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

	// PermissionsPolicy turns off, for the response and every frame in
	// it, the powerful features an API and its documentation never use.
	PermissionsPolicy = "accelerometer=(), autoplay=(), browsing-topics=(), camera=(), " +
		"display-capture=(), encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), " +
		"hid=(), idle-detection=(), interest-cohort=(), magnetometer=(), microphone=(), " +
		"midi=(), payment=(), picture-in-picture=(), screen-wake-lock=(), serial=(), usb=(), " +
		"xr-spatial-tracking=()"
)

// The strict HTML policy, around its two nonces:
//
//	default-src 'self'; script-src 'nonce-N' 'strict-dynamic'; style-src 'self' 'nonce-N';
//	img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self';
//	frame-ancestors 'none'
const (
	htmlPolicy1 = "default-src 'self'; script-src 'nonce-"
	htmlPolicy2 = "' 'strict-dynamic'; style-src 'self' 'nonce-"
	htmlPolicy3 = "'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

// Canonical header names (http.Header keys), so that values can be
// assigned without canonicalising on every response.
const (
	keySTS        = "Strict-Transport-Security"
	keyCTO        = "X-Content-Type-Options"
	keyReferrer   = "Referrer-Policy"
	keyFrame      = "X-Frame-Options"
	keyCOOP       = "Cross-Origin-Opener-Policy"
	keyCORP       = "Cross-Origin-Resource-Policy"
	keyPermission = "Permissions-Policy"
	keyCSP        = "Content-Security-Policy"
	keyReporting  = "Reporting-Endpoints"
	keyCache      = "Cache-Control"
)

// Options configure Headers. The zero value is the secure default.
type Options struct {
	// HSTSMaxAge is the max-age of Strict-Transport-Security, in whole
	// seconds (a fraction is dropped). Zero means DefaultHSTSMaxAge (two
	// years); anything else must be at least MinHSTSMaxAge (one day).
	HSTSMaxAge time.Duration

	// HSTSSubdomains says whether includeSubDomains is sent: by default
	// (SubdomainsAuto) for domain names but not for localhost, *.localhost
	// and IP addresses; SubdomainsInclude or SubdomainsExclude decide for
	// every host. The caller's choice is never overridden.
	HSTSSubdomains Subdomains

	// HSTSPreload adds "preload" to Strict-Transport-Security, consenting
	// to inclusion in the browsers' built-in HSTS list. It needs a max-age
	// of at least MinHSTSPreloadMaxAge and includeSubDomains (so not
	// SubdomainsExclude; with SubdomainsAuto, local hosts get neither).
	// Removal from that list takes months: set it only when every
	// subdomain serves HTTPS for good.
	HSTSPreload bool

	// DisableHSTS sends no Strict-Transport-Security at all. WEAKENS:
	// browsers will again try plain HTTP first, which an attacker on the
	// network can intercept (SSL stripping). HSTSMaxAge must then be zero.
	DisableHSTS bool

	// AssumeTLS sends Strict-Transport-Security on every response, not
	// only on those to requests that arrived over TLS: set it behind a
	// reverse proxy that terminates TLS and forwards plain HTTP. Browsers
	// ignore the header on responses received over plain HTTP (RFC 6797
	// §8.1), so it cannot lock anyone out.
	AssumeTLS bool

	// ReportURI, when set, is where browsers send reports of CSP
	// violations: both policies get "report-uri ReportURI; report-to
	// csp-endpoint" and every response a Reporting-Endpoints header
	// naming it. An absolute https URL without user info or fragment, or
	// an absolute path ("/csp-reports"). Off by default: reports carry
	// page URLs to whoever runs the endpoint.
	ReportURI string

	// Rand is the source of HTML nonces. It must be safe for concurrent
	// use and unpredictable. Default crypto/rand.Reader.
	Rand io.Reader
}

// Headers is the security-headers middleware. Create it with New; it is
// safe for concurrent use.
type Headers struct {
	// keys[i] gets vals[i]. keys[0] is Strict-Transport-Security (sent
	// on TLS only, or never when hsts is false), the last is
	// Cache-Control: no-store (sent on credentialed requests only); the
	// rest go on every response.
	keys []string
	vals []string
	hsts bool
	// stsLocal, when not "", is the HSTS value for local hosts
	// (SubdomainsAuto: without includeSubDomains and preload).
	stsLocal string
	// assumeTLS: send HSTS whatever the transport.
	assumeTLS bool
	// reportSuffix ends both policies ("" without ReportURI).
	reportSuffix string
	rand         io.Reader
}

// New returns Headers for o, or an error naming the invalid option.
func New(o Options) (*Headers, error) {
	h := &Headers{hsts: !o.DisableHSTS, assumeTLS: o.AssumeTLS, rand: o.Rand}
	if h.rand == nil {
		h.rand = rand.Reader
	}

	sts, err := h.hstsValues(o)
	if err != nil {
		return nil, err
	}

	var reporting string
	if o.ReportURI != "" {
		if err := checkReportURI(o.ReportURI); err != nil {
			return nil, fmt.Errorf("secheader: ReportURI %q: %w", o.ReportURI, err)
		}
		h.reportSuffix = "; report-uri " + o.ReportURI + "; report-to " + ReportEndpoint
		reporting = ReportEndpoint + `="` + o.ReportURI + `"`
	}

	h.keys = []string{keySTS, keyCTO, keyReferrer, keyFrame, keyCOOP, keyCORP, keyPermission, keyCSP}
	h.vals = []string{sts, "nosniff", "no-referrer", "DENY", "same-origin", "same-origin", PermissionsPolicy, APIPolicy + h.reportSuffix}
	if reporting != "" {
		h.keys = append(h.keys, keyReporting)
		h.vals = append(h.vals, reporting)
	}
	h.keys = append(h.keys, keyCache)
	h.vals = append(h.vals, "no-store")
	return h, nil
}

// hstsValues returns the Strict-Transport-Security value of o and sets
// h.stsLocal (hsts.go builds both).
func (h *Headers) hstsValues(o Options) (string, error) {
	if o.DisableHSTS {
		if o.HSTSMaxAge != 0 || o.HSTSPreload || o.HSTSSubdomains != SubdomainsAuto {
			return "", errors.New("secheader: DisableHSTS contradicts HSTSMaxAge, HSTSSubdomains or HSTSPreload; set only one")
		}
		return "", nil
	}
	if o.HSTSMaxAge < 0 {
		return "", fmt.Errorf("secheader: HSTSMaxAge %v is negative (set DisableHSTS to send no HSTS)", o.HSTSMaxAge)
	}
	if o.HSTSSubdomains > SubdomainsExclude {
		return "", fmt.Errorf("secheader: unknown HSTSSubdomains %d", o.HSTSSubdomains)
	}
	sts, err := HSTSValue(o.HSTSMaxAge, o.HSTSSubdomains != SubdomainsExclude, o.HSTSPreload)
	if err != nil {
		return "", err
	}
	if o.HSTSSubdomains == SubdomainsAuto {
		h.stsLocal, _ = HSTSValue(o.HSTSMaxAge, false, false)
	}
	return sts, nil
}

// checkReportURI accepts an absolute https URL without user info or
// fragment, or an absolute path, made of printable ASCII other than the
// characters that would end a CSP directive (;), a policy (,) or a
// structured-field string (" and \).
func checkReportURI(s string) error {
	if len(s) > 2048 {
		return errors.New("longer than 2048 bytes")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`;,"\'`, c) >= 0 {
			return errors.New(`contains a space, a control or non-ASCII character, or one of ; , " \ '`)
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	switch {
	case u.Fragment != "" || strings.IndexByte(s, '#') >= 0:
		return errors.New("has a fragment")
	case u.User != nil:
		return errors.New("has user info")
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//"):
		return nil
	}
	return errors.New(`want an absolute https URL or a path starting with "/"`)
}

// Handler returns next wrapped so that every response carries the
// security headers. They are set on the response header before next runs,
// so next may replace any of them (a documentation page sets its own
// Content-Security-Policy), except Cache-Control on credentialed
// requests, which is forced to no-store when the response header is sent.
//
// Each response gets its own header value slices (one allocation holds
// them all): a handler that modifies a value in place, as in
// w.Header()["X-Frame-Options"][0] = "SAMEORIGIN", changes its own
// response only, never the values other responses get.
func (h *Headers) Handler(next http.Handler) http.Handler {
	if h == nil || h.keys == nil {
		panic("secheader: Headers.Handler on Headers not made by New")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lo, hi := 1, len(h.keys)-1
		if h.hsts && (h.assumeTLS || r.TLS != nil) {
			lo = 0
		}
		cred := credentialed(r)
		if cred {
			hi++
		}
		// One backing array per response (inside the no-store writer
		// on credentialed requests: one allocation in all); each value
		// gets a slice of length and capacity 1, so that an append by
		// the handler (Header.Add) copies instead of writing into a
		// neighbour.
		var nw *noStoreWriter
		var vals []string
		if cred && hi-lo <= maxHeaders {
			nw = &noStoreWriter{ResponseWriter: w}
			vals = nw.vals[:hi-lo]
		} else {
			vals = make([]string, hi-lo)
		}
		copy(vals, h.vals[lo:hi])
		if lo == 0 && h.stsLocal != "" && localHost(r.Host) {
			vals[0] = h.stsLocal
		}
		hdr := w.Header()
		for i := range vals {
			hdr[h.keys[lo+i]] = vals[i : i+1 : i+1]
		}
		if !cred {
			next.ServeHTTP(w, r)
			return
		}
		if nw == nil {
			nw = &noStoreWriter{ResponseWriter: w}
		}
		// A handler that writes nothing (or panics, for a recovering
		// middleware to answer) leaves the header to be sent after it
		// returns: force it then too.
		defer nw.finish()
		next.ServeHTTP(nw, r)
	})
}

// credentialed reports whether r carries credentials a browser or client
// sends by itself or on purpose: an Authorization header, cookies, or a
// TLS client certificate. Responses to it must not be stored by any cache.
func credentialed(r *http.Request) bool {
	return len(r.Header["Authorization"]) > 0 || len(r.Header["Cookie"]) > 0 ||
		r.TLS != nil && len(r.TLS.PeerCertificates) > 0
}

// HTML replaces the Content-Security-Policy of the response w with the
// strict policy for HTML pages, around a fresh nonce, and returns the
// nonce. Call it before writing the response, and give the nonce to every
// <script> and <style> element the page itself contains:
//
//	<script nonce="{{.Nonce}}" src="/app.js"></script>
//
// Scripts those load may load others ('strict-dynamic'); scripts and
// styles without the nonce, inline event handlers (onerror=...) and
// javascript: URLs do not run. The nonce is NonceBytes random bytes from
// Options.Rand in standard base64; html/template may escape its '+' and
// '/' in attributes, which the browser undoes before comparing.
//
// When the randomness source fails HTML returns the error and leaves the
// header as it was (with Handler: APIPolicy, under which the page runs no
// script at all); answer 500.
func (h *Headers) HTML(w http.ResponseWriter) (nonce string, err error) {
	if h == nil || h.rand == nil {
		return "", errors.New("secheader: Headers.HTML on Headers not made by New")
	}
	var raw [NonceBytes]byte
	if _, err := io.ReadFull(h.rand, raw[:]); err != nil {
		return "", fmt.Errorf("secheader: reading a nonce: %w", err)
	}
	var enc [(NonceBytes + 2) / 3 * 4]byte
	base64.StdEncoding.Encode(enc[:], raw[:])

	// One allocation for the policy; the nonce is a substring of it.
	var b strings.Builder
	b.Grow(len(htmlPolicy1) + len(htmlPolicy2) + len(htmlPolicy3) + 2*len(enc) + len(h.reportSuffix))
	b.WriteString(htmlPolicy1)
	b.Write(enc[:])
	b.WriteString(htmlPolicy2)
	b.Write(enc[:])
	b.WriteString(htmlPolicy3)
	b.WriteString(h.reportSuffix)
	policy := b.String()
	w.Header()[keyCSP] = []string{policy}
	return policy[len(htmlPolicy1) : len(htmlPolicy1)+len(enc)], nil
}
