package tlsconfig

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/fortapi/fortapi/internal/problem"
	"github.com/fortapi/fortapi/secheader"
)

// DefaultHSTSMaxAge is the max-age HSTS sends when none is given:
// secheader.DefaultHSTSMaxAge (two years, 63072000 seconds), so that an
// API's headers and this middleware agree.
const DefaultHSTSMaxAge = secheader.DefaultHSTSMaxAge

// RedirectHandler answers the plain-HTTP listener: GET and HEAD requests
// without credentials get 308 Permanent Redirect to the same host, path
// and query on HTTPS; everything else gets 400 application/problem+json
// saying to use HTTPS, and no Location:
//
//   - other methods (POST, PUT, DELETE, ...): a redirected POST /token
//     would succeed, and a misconfigured client would send passwords in
//     clear text for ever without noticing;
//   - any request carrying credentials, whatever the method: an
//     Authorization or X-API-Key header, or a cookie whose name has the
//     __Host- or __Secure- prefix (such cookies are Secure, so a browser
//     never sends them over HTTP: one that arrives here comes from a
//     misconfigured client sending a session cookie in clear text). They
//     have crossed the network in clear text already, and a redirect would
//     only hide that from the client, which must treat them as exposed.
//     Other cookies are not credentials a server may rely on (a browser
//     sends every non-Secure cookie of the host, whatever its port), so a
//     browser that holds one is still redirected.
//
// httpsPort is the port of the HTTPS listener ("" or "443" for the
// default, which is left out of the URL; a leading ':' is allowed). It
// panics on anything but a port number, a programming error.
//
// The redirect goes only to the server's own names, never to whatever
// the Host header says: allowedHosts are those names (DNS names, IP
// addresses; "*.example.com" allows one label under example.com, as in a
// certificate). When none are given, they are the development
// certificate's names, DevHosts: localhost, 127.0.0.1 and ::1, so that
// http://localhost:8080/ still redirects on a developer's machine. A Host
// that is not one of them, or is not a plain DNS name or IP address (user
// info, percent escapes, spaces, over 253 bytes), gets 400. The port of
// the Host header is replaced by httpsPort. No Strict-Transport-Security
// header is sent: browsers ignore it over HTTP (RFC 6797 §8.1), HSTS goes
// on the HTTPS responses.
func RedirectHandler(httpsPort string, allowedHosts ...string) http.Handler {
	if len(allowedHosts) == 0 {
		allowedHosts = DevHosts()
	}
	allowed := map[string]bool{}
	for _, a := range allowedHosts {
		wildcard := strings.HasPrefix(a, "*.")
		host, ok := configuredHost(strings.TrimPrefix(a, "*."))
		if !ok || wildcard && !validDNSName(host) {
			panic(fmt.Sprintf("tlsconfig.RedirectHandler: %q is not a host name", a))
		}
		if wildcard {
			host = "*." + host
		}
		allowed[host] = true
	}
	return newRedirect("RedirectHandler", httpsPort, func(host string) bool {
		if allowed[host] {
			return true
		}
		_, parent, ok := strings.Cut(host, ".")
		return ok && allowed["*."+parent]
	})
}

// RedirectToCertificate is RedirectHandler for the names the served
// certificate is valid for, looked up at each request (leaf returns the
// certificate now served, such as FileReloader.Leaf), so that a renewed
// certificate with other names needs no restart. The Host must pass
// x509.Certificate.VerifyHostname: one of its DNS or IP subject
// alternative names, wildcards matching one label.
func RedirectToCertificate(httpsPort string, leaf func() *x509.Certificate) http.Handler {
	if leaf == nil {
		panic("tlsconfig.RedirectToCertificate: nil leaf")
	}
	return newRedirect("RedirectToCertificate", httpsPort, func(host string) bool {
		c := leaf()
		return c != nil && c.VerifyHostname(host) == nil
	})
}

// DevHosts are the names of the development certificate: localhost,
// 127.0.0.1 and ::1.
func DevHosts() []string {
	hosts := devDNS()
	for _, ip := range devIPs() {
		hosts = append(hosts, ip.String())
	}
	return hosts
}

func newRedirect(name, httpsPort string, allow func(host string) bool) http.Handler {
	port := strings.TrimPrefix(httpsPort, ":")
	if port == "" {
		port = "443"
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		panic(fmt.Sprintf("tlsconfig.%s: %q is not a port", name, httpsPort))
	}
	return &redirectHandler{port: port, allow: allow}
}

type redirectHandler struct {
	port  string
	allow func(host string) bool // called with a canonical host
}

// credentialHeaders are the request headers that carry credentials: a
// request with any of them is never redirected.
func credentialHeaders() [2]string {
	return [...]string{"Authorization", "X-API-Key"}
}

// credential names what in r carries credentials ("" when nothing does):
// a credential header, or a cookie with a prefix that requires Secure.
func credential(r *http.Request) string {
	for _, name := range credentialHeaders() {
		if len(r.Header.Values(name)) > 0 {
			return "an " + name + " header"
		}
	}
	for _, c := range r.Cookies() {
		if strings.HasPrefix(c.Name, "__Host-") || strings.HasPrefix(c.Name, "__Secure-") {
			return "a " + c.Name[:strings.IndexByte(c.Name, '-')+1] + " cookie"
		}
	}
	return ""
}

func (h *redirectHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if what := credential(r); what != "" {
		problem.Write(w, r, http.StatusBadRequest, "use HTTPS: this request carried credentials ("+what+
			") over plain HTTP, where they can be read and changed on the way; it was not processed and is never redirected. Treat the credentials as exposed, and send requests to the https:// URL")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		problem.Write(w, r, http.StatusBadRequest, "use HTTPS: plain HTTP only redirects GET and HEAD requests; this "+
			r.Method+" request was not processed. Send it to the https:// URL")
		return
	}
	host, ok := canonicalHost(r.Host)
	if !ok || !h.allow(host) {
		problem.Write(w, r, http.StatusBadRequest, "unknown or invalid Host: plain HTTP redirects only to this server's own names over HTTPS")
		return
	}
	path := r.URL.EscapedPath()
	if !strings.HasPrefix(path, "/") { // "OPTIONS *" and the like
		problem.Write(w, r, http.StatusBadRequest, "use HTTPS")
		return
	}
	if strings.Contains(host, ":") { // IPv6
		host = "[" + host + "]"
	}
	if h.port != "443" {
		host += ":" + h.port
	}
	target := "https://" + host + path
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", target)
	w.Header().Set("Cache-Control", "no-store") // a cached 308 outlives a changed HTTPS port
	w.WriteHeader(http.StatusPermanentRedirect)
}

// configuredHost is canonicalHost for a configured name: a DNS name or an
// IP address (IPv6 without brackets), no port.
func configuredHost(a string) (string, bool) {
	if addr, err := netip.ParseAddr(a); err == nil {
		return addr.String(), addr.Zone() == ""
	}
	if strings.ContainsAny(a, ":[]") {
		return "", false
	}
	return canonicalHost(a)
}

// canonicalHost returns the lower-case host of a Host header (port
// removed, trailing dot removed, IPv6 without brackets), and whether it is
// a valid DNS name or IP address.
func canonicalHost(hostport string) (string, bool) {
	if hostport == "" || len(hostport) > 253+8 {
		return "", false
	}
	host := hostport
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return "", false
		}
		if rest := host[end+1:]; rest != "" && (rest[0] != ':' || !validPort(rest[1:])) {
			return "", false
		}
		addr, err := netip.ParseAddr(host[1:end])
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", false
		}
		return addr.String(), true
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		if !validPort(host[i+1:]) {
			return "", false
		}
		host = host[:i]
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if !addr.Is4() {
			return "", false // IPv6 needs brackets; IPv4-mapped forms are odd
		}
		return addr.String(), true
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if !validDNSName(host) {
		return "", false
	}
	return host, true
}

func validPort(p string) bool {
	if p == "" {
		return true // "host:" is allowed by RFC 3986
	}
	n, err := strconv.ParseUint(p, 10, 16)
	return err == nil && n > 0 && len(p) <= 5
}

// validDNSName accepts lower-case LDH names (letters, digits, hyphens;
// underscores too, which some internal names use), labels of 1 to 63
// bytes not starting or ending with a hyphen, at most 253 bytes, not all
// digits at the top level (that would be a malformed IPv4 address).
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	last := s[strings.LastIndexByte(s, '.')+1:]
	return strings.Trim(last, "0123456789") != ""
}

// HSTS sets Strict-Transport-Security on responses to requests that came
// over TLS (r.TLS != nil); plain-HTTP responses never carry it (RFC 6797
// §7.2). maxAge <= 0 means DefaultHSTSMaxAge (two years, secheader's); it
// is sent in whole seconds, and must be at least secheader.MinHSTSMaxAge
// (HSTS panics otherwise: a programming error). includeSubDomains extends
// the policy to every subdomain, exactly as asked: turn it on only when
// all of them serve HTTPS.
//
// The value is spelled by secheader.HSTSValue, the one implementation.
// An API built with fortapi already sends HSTS through secheader.Headers
// (Options.Headers); use this for other handlers. Behind a TLS-terminating
// proxy r.TLS is nil: let the proxy send the header, or use
// secheader.Options.AssumeTLS.
func HSTS(next http.Handler, maxAge time.Duration, includeSubDomains bool) http.Handler {
	value, err := secheader.HSTSValue(maxAge, includeSubDomains, false)
	if err != nil {
		panic("tlsconfig.HSTS: " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("Strict-Transport-Security", value)
		}
		next.ServeHTTP(w, r)
	})
}
