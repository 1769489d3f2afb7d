package secheader

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fortapi/fortapi/internal/problem"
)

// DefaultAllowedMethods returns the methods a preflight may ask for when
// CORSOptions.AllowedMethods is nil: GET, HEAD, POST, PUT, PATCH, DELETE.
// Each call returns a new slice.
func DefaultAllowedMethods() []string {
	return []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
}

// DefaultAllowedHeaders returns the request headers a preflight may ask
// for when CORSOptions.AllowedHeaders is nil: Authorization, Content-Type,
// X-CSRF-Token, X-Request-Id. Each call returns a new slice.
func DefaultAllowedHeaders() []string {
	return []string{"Authorization", "Content-Type", "X-CSRF-Token", "X-Request-Id"}
}

// DefaultExposedHeaders returns the response headers cross-origin scripts
// may read when CORSOptions.ExposedHeaders is nil: the rate-limit fields
// package ratelimit writes (RateLimit, RateLimit-Policy and the
// pre-standard RateLimit-Limit, -Remaining, -Reset), Retry-After,
// X-Request-Id and Location (of a 201). Each call returns a new slice.
func DefaultExposedHeaders() []string {
	return []string{"RateLimit", "RateLimit-Policy", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After", "X-Request-Id", "Location"}
}

// DefaultMaxAge is how long browsers may cache a preflight answer when
// CORSOptions.MaxAge is zero.
const DefaultMaxAge = 600 * time.Second

// MaxMaxAge is the longest CORSOptions.MaxAge accepted: one day, what
// Firefox caps it to (Chromium caps it to two hours).
const MaxMaxAge = 24 * time.Hour

// maxAllowedHeaders bounds CORSOptions.AllowedHeaders (a preflight's
// requested headers are tracked in a uint64).
const maxAllowedHeaders = 64

// maxRequestHeadersLen bounds the Access-Control-Request-Headers a
// preflight may send; a longer one is refused.
const maxRequestHeadersLen = 4096

// Canonical header names (http.Header keys).
const (
	keyOrigin      = "Origin"
	keyVary        = "Vary"
	keyACAO        = "Access-Control-Allow-Origin"
	keyACAC        = "Access-Control-Allow-Credentials"
	keyACEH        = "Access-Control-Expose-Headers"
	keyACAM        = "Access-Control-Allow-Methods"
	keyACAH        = "Access-Control-Allow-Headers"
	keyACMA        = "Access-Control-Max-Age"
	keyACRM        = "Access-Control-Request-Method"
	keyACRH        = "Access-Control-Request-Headers"
	preflightVary  = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
	actualVary     = "Origin"
	credentialsVal = "true"
)

// CORSOptions configure CORS. The zero value allows no cross-origin access
// at all.
type CORSOptions struct {
	// AllowedOrigins are the origins whose scripts may read responses,
	// each exactly scheme://host[:port] (no path, no trailing "/", no
	// wildcard, never "null"). Entries are normalised as browsers
	// serialise origins (lower-case scheme and host, default port
	// dropped, IPv6 in RFC 5952 form) and compared whole: no prefix,
	// suffix or subdomain matching. Write internationalised names in
	// punycode. "*" alone allows every origin, and only without
	// credentials. WEAKENS, per entry: a script running on that origin
	// (including one injected there through XSS) can read your responses.
	AllowedOrigins []string

	// AllowCredentials lets scripts of the allowed origins send cookies,
	// HTTP authentication and client certificates and read the answers
	// (Access-Control-Allow-Credentials: true). WEAKENS: every allowed
	// origin then acts with your users' ambient credentials. Not with
	// "*"; and, unless AllowInsecureOrigins, not with an http:// origin
	// other than loopback (localhost, 127.0.0.0/8, [::1]).
	AllowCredentials bool

	// AllowInsecureOrigins permits http:// origins on other hosts than
	// loopback together with AllowCredentials. WEAKENS: anyone on the
	// network path to such an origin can inject a script there and read
	// your credentialed responses, defeating TLS.
	AllowInsecureOrigins bool

	// AllowedMethods are the methods a preflight may ask for, compared
	// case-sensitively as browsers do ("patch" is not "PATCH"). nil means
	// DefaultAllowedMethods(); an empty non-nil slice allows none. "*",
	// CONNECT, TRACE and TRACK are refused.
	AllowedMethods []string

	// AllowedHeaders are the request headers a preflight may ask for,
	// compared case-insensitively; at most 64. nil means
	// DefaultAllowedHeaders(); an empty non-nil slice allows none. "*" is
	// refused.
	AllowedHeaders []string

	// ExposedHeaders are the response headers, beyond the CORS-safelisted
	// ones, that cross-origin scripts may read. nil means
	// DefaultExposedHeaders(); an empty non-nil slice exposes none. "*" is
	// refused.
	ExposedHeaders []string

	// MaxAge is how long browsers may cache a preflight answer, in whole
	// seconds (a fraction is dropped): from 1 s to MaxMaxAge. Zero means
	// DefaultMaxAge (600 s). A longer cache delays the effect of
	// removing an origin, method or header.
	MaxAge time.Duration

	// Observer, when set, is told of every preflight the middleware
	// refuses (403): an origin, method or header not allowed (metrics).
	// Default: none.
	Observer CORSObserver
}

// CORSObserver is told of refused preflights (CORSOptions.Observer). It
// must be cheap and must not block.
type CORSObserver interface {
	CORSRejected()
}

// CORS is the cross-origin resource sharing middleware. Create it with
// NewCORS; the zero value allows no cross-origin access. It is safe for
// concurrent use.
type CORS struct {
	// origins maps each allowed origin, normalised, to itself.
	origins     map[string]string
	any         bool // "*"
	credentials bool
	methods     []string
	methodsVal  string
	headers     []string // allowed request headers as configured
	allHeaders  uint64   // mask of every allowed header
	headersVal  string   // all of them joined
	exposeVal   string   // "" exposes none
	maxAgeVal   string
	obs         CORSObserver // nil: none
}

// NewCORS returns CORS for o, or an error naming the first invalid entry.
func NewCORS(o CORSOptions) (*CORS, error) {
	c := &CORS{credentials: o.AllowCredentials, origins: make(map[string]string, len(o.AllowedOrigins)), obs: o.Observer}

	for _, e := range o.AllowedOrigins {
		if e == "*" {
			if o.AllowCredentials {
				return nil, errors.New(`secheader: CORS origin "*" with AllowCredentials: browsers refuse it, and reflecting the Origin instead would hand every site your users' credentials; list the origins`)
			}
			if len(o.AllowedOrigins) != 1 {
				return nil, errors.New(`secheader: CORS origin "*" must be the only entry`)
			}
			c.any = true
			continue
		}
		n, err := normalizeOrigin(e)
		if err != nil {
			return nil, fmt.Errorf("secheader: CORS origin %q: %w", e, err)
		}
		if o.AllowCredentials && !o.AllowInsecureOrigins && strings.HasPrefix(n, "http://") {
			host := n[len("http://"):]
			if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
				host = host[:i]
			}
			if !isLoopbackHost(host) {
				return nil, fmt.Errorf("secheader: CORS origin %q: plain http with AllowCredentials lets anyone on the network path read credentialed answers; use https or set AllowInsecureOrigins", e)
			}
		}
		c.origins[n] = n
	}

	methods := DefaultAllowedMethods()
	if o.AllowedMethods != nil {
		methods = o.AllowedMethods
	}
	for _, m := range methods {
		switch {
		case m == "*" || !isToken(m):
			return nil, fmt.Errorf("secheader: CORS method %q: want a method name (no wildcard)", m)
		case strings.EqualFold(m, "CONNECT") || strings.EqualFold(m, "TRACE") || strings.EqualFold(m, "TRACK"):
			return nil, fmt.Errorf("secheader: CORS method %q: browsers never send it (forbidden method)", m)
		}
		if !slices.Contains(c.methods, m) {
			c.methods = append(c.methods, m)
		}
	}
	c.methodsVal = strings.Join(c.methods, ", ")

	headers := DefaultAllowedHeaders()
	if o.AllowedHeaders != nil {
		headers = o.AllowedHeaders
	}
	for _, h := range headers {
		if h == "*" || !isToken(h) {
			return nil, fmt.Errorf("secheader: CORS allowed header %q: want a header name (no wildcard)", h)
		}
		if c.headerIndex(h) < 0 {
			c.headers = append(c.headers, h)
		}
	}
	if len(c.headers) > maxAllowedHeaders {
		return nil, fmt.Errorf("secheader: %d CORS allowed headers; at most %d", len(c.headers), maxAllowedHeaders)
	}
	c.allHeaders = 1<<len(c.headers) - 1 // all ones for 64 headers too
	c.headersVal = strings.Join(c.headers, ", ")

	expose := DefaultExposedHeaders()
	if o.ExposedHeaders != nil {
		expose = o.ExposedHeaders
	}
	for _, h := range expose {
		if h == "*" || !isToken(h) {
			return nil, fmt.Errorf("secheader: CORS exposed header %q: want a header name (no wildcard)", h)
		}
	}
	c.exposeVal = strings.Join(expose, ", ")

	age := o.MaxAge
	if age == 0 {
		age = DefaultMaxAge
	}
	if age < time.Second || age > MaxMaxAge {
		return nil, fmt.Errorf("secheader: CORS MaxAge %v: want 1s to %v", o.MaxAge, MaxMaxAge)
	}
	c.maxAgeVal = strconv.FormatInt(int64(age/time.Second), 10)
	return c, nil
}

// Allowed reports whether origin (an Origin header value) may read
// responses, and returns the value Access-Control-Allow-Origin gets: the
// normalised origin, or "*". WebSocket handshakes are not subject to CORS:
// a WebSocket handler that accepts credentials should refuse an Origin
// for which Allowed is false (and should not rely on it with "*").
func (c *CORS) Allowed(origin string) (allowOrigin string, ok bool) {
	if c.any {
		return "*", true
	}
	if v, ok := c.origins[origin]; ok {
		return v, true
	}
	n, err := normalizeOrigin(origin)
	if err != nil || n == origin {
		return "", false
	}
	v, ok := c.origins[n]
	return v, ok
}

// Handler returns next wrapped with CORS:
//
//   - A request without Origin goes to next untouched.
//   - A preflight (OPTIONS with Origin and Access-Control-Request-Method)
//     is answered here and never reaches next: 204 with the Allow headers
//     when the origin, the method and every requested header are allowed,
//     otherwise 403 application/problem+json without any of them.
//   - Any other request goes to next; when its origin is allowed, the
//     response carries Access-Control-Allow-Origin (that origin, or "*"),
//     Access-Control-Allow-Credentials when configured and
//     Access-Control-Expose-Headers. Otherwise it carries no CORS header,
//     and the browser keeps the answer from the calling script.
//
// Responses that depend on the Origin get it added to Vary.
func (c *CORS) Handler(next http.Handler) http.Handler {
	if c == nil {
		panic("secheader: CORS.Handler on a nil *CORS")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origins := r.Header[keyOrigin]
		if len(origins) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodOptions && len(r.Header[keyACRM]) > 0 {
			c.preflight(w, r, origins)
			return
		}
		c.actual(w.Header(), origins)
		next.ServeHTTP(w, r)
	})
}

// values hands out header values from one per-response backing array,
// each as a slice of length and capacity 1: a handler's append copies
// instead of overwriting a neighbour, and an in-place change stays within
// the response.
type values []string

func (v *values) set(h http.Header, key, val string) {
	*v = append(*v, val)
	n := len(*v)
	h[key] = (*v)[n-1 : n : n]
}

// addVary appends val to the Vary field of h.
func (v *values) addVary(h http.Header, val string) {
	if cur := h[keyVary]; len(cur) > 0 {
		h[keyVary] = append(cur, val)
		return
	}
	v.set(h, keyVary, val)
}

// actual sets the CORS headers of a request that is not a preflight.
func (c *CORS) actual(h http.Header, origins []string) {
	allow, ok := "", false
	if len(origins) == 1 { // several Origin fields: nobody's
		allow, ok = c.Allowed(origins[0])
	}
	vals := make(values, 0, 4)
	if !c.any {
		// The answer depends on the origin; with "*" it does not.
		vals.addVary(h, actualVary)
	}
	if !ok {
		return
	}
	vals.set(h, keyACAO, allow)
	if c.credentials {
		vals.set(h, keyACAC, credentialsVal)
	}
	if c.exposeVal != "" {
		vals.set(h, keyACEH, c.exposeVal)
	}
}

// preflight answers a CORS preflight request.
func (c *CORS) preflight(w http.ResponseWriter, r *http.Request, origins []string) {
	h := w.Header()
	vals := make(values, 0, 6)
	vals.addVary(h, preflightVary)

	allow, ok := "", false
	if len(origins) == 1 {
		allow, ok = c.Allowed(origins[0])
	}
	if !ok {
		c.rejected()
		problem.Write(w, r, http.StatusForbidden, "cross-origin requests from this origin are not allowed")
		return
	}
	if m := r.Header[keyACRM]; len(m) != 1 || !slices.Contains(c.methods, m[0]) {
		c.rejected()
		problem.Write(w, r, http.StatusForbidden, "the requested method is not allowed for cross-origin requests; allowed: "+c.methodsVal)
		return
	}
	reqHeaders, ok := c.requestedHeaders(r.Header[keyACRH])
	if !ok {
		c.rejected()
		problem.Write(w, r, http.StatusForbidden, "a requested header is not allowed for cross-origin requests; allowed: "+c.headersVal)
		return
	}

	vals.set(h, keyACAO, allow)
	if c.credentials {
		vals.set(h, keyACAC, credentialsVal)
	}
	vals.set(h, keyACAM, c.methodsVal)
	if reqHeaders != "" {
		vals.set(h, keyACAH, reqHeaders)
	}
	vals.set(h, keyACMA, c.maxAgeVal)
	// Access-Control-Request-Private-Network is never granted: no
	// Access-Control-Allow-Private-Network, so browsers enforcing Private
	// Network Access do not let public sites reach a private server.
	w.WriteHeader(http.StatusNoContent)
}

func (c *CORS) rejected() {
	if c.obs != nil {
		c.obs.CORSRejected()
	}
}

// requestedHeaders checks the Access-Control-Request-Headers field lines
// of a preflight: every listed name must be allowed. It returns the value
// of Access-Control-Allow-Headers, the requested names in their configured
// spelling (never the request's bytes), or ok=false.
func (c *CORS) requestedHeaders(lines []string) (allow string, ok bool) {
	var mask uint64
	total := 0
	for _, line := range lines {
		if total += len(line); total > maxRequestHeadersLen {
			return "", false
		}
		for name := range strings.SplitSeq(line, ",") {
			name = strings.Trim(name, " \t")
			if name == "" {
				continue
			}
			i := c.headerIndex(name)
			if i < 0 {
				return "", false
			}
			mask |= 1 << i
		}
	}
	switch mask {
	case 0:
		return "", true
	case c.allHeaders:
		return c.headersVal, true
	}
	var b strings.Builder
	b.Grow(len(c.headersVal))
	for i, name := range c.headers {
		if mask&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(name)
		}
	}
	return b.String(), true
}

// headerIndex returns the index of name in c.headers, compared
// case-insensitively, or -1.
func (c *CORS) headerIndex(name string) int {
	for i, h := range c.headers {
		if strings.EqualFold(h, name) {
			return i
		}
	}
	return -1
}
