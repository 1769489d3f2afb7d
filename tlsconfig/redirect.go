package tlsconfig

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// DefaultHSTSMaxAge is the max-age HSTS sends when none is given: one year
// (31536000 seconds), the least that HSTS preload lists accept.
const DefaultHSTSMaxAge = 365 * 24 * time.Hour

// RedirectHandler answers every request on the plain-HTTP listener with
// 308 Permanent Redirect to the same host, path and query on HTTPS. 308
// keeps the method and body (a POST stays a POST); whatever the client
// sent in clear text has been sent already, the redirect only stops it
// from happening again.
//
// httpsPort is the port of the HTTPS listener ("" or "443" for the
// default, which is left out of the URL; a leading ':' is allowed). It
// panics on anything but a port number, a programming error.
//
// The Host header is the client's choice, so a redirect to another host
// only misleads the client that asked for it; still the host is checked
// to be a plain DNS name or IP address (no user info, no percent
// escapes, no spaces, at most 253 bytes) and refused with 400 otherwise.
// When allowedHosts are given (the server's names, such as its ACME
// domains), any other host gets 400 too, so that the listener never
// redirects anywhere but to the server itself. The port of the Host
// header is replaced by httpsPort. No Strict-Transport-Security header is
// sent: browsers ignore it over HTTP (RFC 6797 §8.1), HSTS goes on the
// HTTPS responses.
func RedirectHandler(httpsPort string, allowedHosts ...string) http.Handler {
	port := strings.TrimPrefix(httpsPort, ":")
	if port == "" {
		port = "443"
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		panic(fmt.Sprintf("tlsconfig.RedirectHandler: %q is not a port", httpsPort))
	}
	h := &redirectHandler{port: port}
	for _, a := range allowedHosts {
		host, ok := canonicalHost(a)
		if !ok {
			panic(fmt.Sprintf("tlsconfig.RedirectHandler: %q is not a host name", a))
		}
		if h.allowed == nil {
			h.allowed = map[string]bool{}
		}
		h.allowed[host] = true
	}
	return h
}

type redirectHandler struct {
	port    string
	allowed map[string]bool // nil: any syntactically valid host
}

func (h *redirectHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, ok := canonicalHost(r.Host)
	if !ok || h.allowed != nil && !h.allowed[host] {
		http.Error(w, "400 bad request: unknown or invalid Host", http.StatusBadRequest)
		return
	}
	path := r.URL.EscapedPath()
	if !strings.HasPrefix(path, "/") { // "OPTIONS *" and the like
		http.Error(w, "400 bad request: use HTTPS", http.StatusBadRequest)
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
// §7.2). maxAge <= 0 means DefaultHSTSMaxAge (one year); it is sent in
// whole seconds. includeSubDomains extends the policy to every subdomain:
// turn it on only when all of them serve HTTPS.
//
// Behind a TLS-terminating proxy r.TLS is nil: let the proxy send the
// header.
func HSTS(next http.Handler, maxAge time.Duration, includeSubDomains bool) http.Handler {
	if maxAge <= 0 {
		maxAge = DefaultHSTSMaxAge
	}
	value := "max-age=" + strconv.FormatInt(int64(maxAge/time.Second), 10)
	if includeSubDomains {
		value += "; includeSubDomains"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("Strict-Transport-Security", value)
		}
		next.ServeHTTP(w, r)
	})
}
