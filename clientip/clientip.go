package clientip

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"
)

// Header names a forwarding header that trusted proxies write.
const (
	XForwardedFor = "X-Forwarded-For"
	Forwarded     = "Forwarded"
	XRealIP       = "X-Real-IP"
)

// maxHops bounds the entries examined per request, so that a huge header
// costs no more than a short one.
const maxHops = 32

// Options configure a Resolver. The zero value trusts no proxy: the client
// is always the TCP peer.
type Options struct {
	// TrustedProxies are the networks of the reverse proxies in front of
	// the server. Only when the TCP peer is inside one of them is Header
	// read. Default: none. IPv4-mapped IPv6 prefixes (::ffff:10.0.0.0/104)
	// are treated as their IPv4 equivalents.
	TrustedProxies []netip.Prefix

	// Header is the one forwarding header the trusted proxies write:
	// XForwardedFor (the default), Forwarded or XRealIP, matched without
	// regard to case. The others are never read.
	Header string
}

// Resolver finds client addresses. It is safe for concurrent use.
type Resolver struct {
	trusted []netip.Prefix
	header  string // canonical form (http.Header map key)
	forward bool   // header is Forwarded (RFC 7239 syntax)
}

// New returns a Resolver for opts, or an error naming an invalid prefix or
// an unknown header.
func New(opts Options) (*Resolver, error) {
	r := &Resolver{header: XForwardedFor}
	if opts.Header != "" {
		switch h := textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(opts.Header)); h {
		case XForwardedFor, textproto.CanonicalMIMEHeaderKey(XRealIP):
			r.header = h
		case Forwarded:
			r.header, r.forward = h, true
		default:
			return nil, fmt.Errorf("clientip: unknown header %q (want %s, %s or %s)", opts.Header, XForwardedFor, Forwarded, XRealIP)
		}
	}
	for _, p := range opts.TrustedProxies {
		if !p.IsValid() {
			return nil, fmt.Errorf("clientip: invalid trusted proxy prefix %q", p.String())
		}
		r.trusted = append(r.trusted, normalizePrefix(p))
	}
	return r, nil
}

// normalizePrefix masks p and turns an IPv4-mapped IPv6 prefix of at least
// 96 bits into the IPv4 prefix it denotes, because addresses are unmapped
// before they are compared.
func normalizePrefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// ParsePrefixes parses a comma- or space-separated list of CIDR prefixes
// and bare addresses (a bare address means just that host), as given to
// a --trusted-proxies flag. The empty string gives an empty list. Errors
// quote the offending entry.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		var p netip.Prefix
		var err error
		if strings.Contains(f, "/") {
			p, err = netip.ParsePrefix(f)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(f)
			if err == nil {
				a = a.WithZone("")
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("clientip: bad trusted proxy %q: not an address or CIDR prefix", f)
		}
		out = append(out, normalizePrefix(p))
	}
	return out, nil
}

// ClientIP returns the client's address for r: the TCP peer, or, when the
// peer is a trusted proxy, the rightmost untrusted address of the
// configured header (see the package documentation). It returns the
// invalid Addr when RemoteAddr is not an IP address.
func (res *Resolver) ClientIP(r *http.Request) netip.Addr {
	return res.resolve(r.RemoteAddr, r.Header)
}

func (res *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range res.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (res *Resolver) resolve(remoteAddr string, h http.Header) netip.Addr {
	peer, ok := parsePeer(remoteAddr)
	if !ok {
		return netip.Addr{}
	}
	if len(res.trusted) == 0 || !res.isTrusted(peer) {
		return peer
	}
	lines := h[res.header] // net/http canonicalizes received field names
	last := peer           // the last trusted hop reached
	hops := 0
	for i := len(lines) - 1; i >= 0; i-- {
		rest := lines[i]
		for more := true; more; {
			var elem string
			if res.forward {
				rest, elem, more = splitLastForwarded(rest)
			} else {
				rest, elem, more = splitLastList(rest)
			}
			elem = trimOWS(elem)
			if elem == "" {
				continue // empty list element: ignored (RFC 9110 §5.6.1)
			}
			if hops++; hops > maxHops {
				return last
			}
			var a netip.Addr
			if res.forward {
				a, ok = parseForwardedElement(elem)
			} else {
				a, ok = parseListEntry(elem)
			}
			if !ok {
				return last
			}
			if !res.isTrusted(a) {
				return a
			}
			last = a
		}
	}
	return last
}

// normalize unmaps IPv4-mapped IPv6 addresses and drops zones.
func normalize(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

// parsePeer parses Request.RemoteAddr: "ip:port", "[ip]:port" or a bare
// address.
func parsePeer(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalize(ap.Addr()), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return normalize(a), true
	}
	return netip.Addr{}, false
}

func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}

// splitLastList splits off the last comma-separated element of s.
func splitLastList(s string) (rest, elem string, more bool) {
	if i := strings.LastIndexByte(s, ','); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return "", s, false
}

// splitLastForwarded splits off the last element of a Forwarded field
// value, skipping commas inside quoted strings. It scans from the right, so
// the elements appended by trusted proxies are separated correctly whatever
// the client put to their left (an unbalanced quote there cannot swallow
// them). An unbalanced quote met on the way makes the rest one element,
// which then fails to parse.
func splitLastForwarded(s string) (rest, elem string, more bool) {
	i := len(s) - 1
	for i >= 0 {
		switch s[i] {
		case ',':
			return s[:i], s[i+1:], true
		case '"':
			j := i - 1
			for ; j >= 0; j-- {
				if s[j] != '"' {
					continue
				}
				k := j - 1
				for k >= 0 && s[k] == '\\' {
					k--
				}
				if (j-1-k)%2 == 0 { // not escaped
					break
				}
			}
			if j < 0 {
				return "", s, false
			}
			i = j - 1
		default:
			i--
		}
	}
	return "", s, false
}

// parseListEntry parses one X-Forwarded-For / X-Real-IP entry: an IPv4 or
// IPv6 address, optionally with a port, IPv6 optionally bracketed.
func parseListEntry(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return normalize(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalize(ap.Addr()), true
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() {
			return normalize(a), true
		}
	}
	return netip.Addr{}, false
}

// parseForwardedElement returns the address of the for= parameter of one
// RFC 7239 forwarded-element. ok is false for syntax errors, a missing or
// repeated for=, "unknown" and obfuscated identifiers.
func parseForwardedElement(elem string) (netip.Addr, bool) {
	var node string
	found := false
	s := elem
	for {
		s = trimOWS(s)
		if s == "" {
			break
		}
		// token "=" value
		eq := 0
		for eq < len(s) && isTchar(s[eq]) {
			eq++
		}
		if eq == 0 || eq >= len(s) || s[eq] != '=' {
			return netip.Addr{}, false
		}
		name := s[:eq]
		s = s[eq+1:]
		var val string
		if s != "" && s[0] == '"' {
			var ok bool
			val, s, ok = unquote(s)
			if !ok {
				return netip.Addr{}, false
			}
		} else {
			n := 0
			for n < len(s) && isTchar(s[n]) {
				n++
			}
			if n == 0 {
				return netip.Addr{}, false
			}
			val, s = s[:n], s[n:]
		}
		if strings.EqualFold(name, "for") {
			if found {
				return netip.Addr{}, false
			}
			found, node = true, val
		}
		s = trimOWS(s)
		if s == "" {
			break
		}
		if s[0] != ';' {
			return netip.Addr{}, false
		}
		s = s[1:]
	}
	if !found {
		return netip.Addr{}, false
	}
	return parseNode(node)
}

// parseNode parses an RFC 7239 node: IPv4, "[" IPv6 "]", optionally
// followed by ":" port or obfuscated port. "unknown" and obfuscated node
// names are not addresses.
func parseNode(s string) (netip.Addr, bool) {
	var host string
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		host = s[1:end]
		if !validPort(s[end+1:]) {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return netip.Addr{}, false
		}
		return normalize(a), true
	}
	host, port := s, ""
	if i := strings.IndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i:]
	}
	if !validPort(port) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false // includes "unknown", "_hidden"
	}
	return a, true
}

// validPort accepts "", ":" 1*5DIGIT (at most 65535) and ":" obfport
// ("_" followed by ALPHA / DIGIT / "." / "_" / "-").
func validPort(p string) bool {
	if p == "" {
		return true
	}
	if p[0] != ':' || len(p) < 2 {
		return false
	}
	p = p[1:]
	if p[0] == '_' {
		for i := 1; i < len(p); i++ {
			c := p[i]
			if !(isAlnum(c) || c == '.' || c == '_' || c == '-') {
				return false
			}
		}
		return len(p) > 1
	}
	if len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n <= 65535
}

// unquote reads a quoted-string at the start of s and returns its content
// and what follows it.
func unquote(s string) (val, rest string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return b.String(), s[i+1:], true
		case c == '\\':
			if i+1 >= len(s) {
				return "", "", false
			}
			i++
			b.WriteByte(s[i])
		case c == '\t' || (c >= 0x20 && c != 0x7f):
			b.WriteByte(c)
		default:
			return "", "", false
		}
	}
	return "", "", false
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// isTchar reports whether c is an RFC 9110 token character.
func isTchar(c byte) bool {
	if isAlnum(c) {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// Key returns the rate-limit key of a client address: the address itself
// for IPv4 ("192.0.2.1"), its /64 for IPv6 ("2001:db8:1:2::/64"), and
// "unknown" for the invalid Addr. IPv4-mapped addresses count as IPv4.
func Key(a netip.Addr) string {
	return string(AppendKey(make([]byte, 0, 24), a))
}

// AppendKey appends Key(a) to b.
func AppendKey(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, "unknown"...)
	}
	a = normalize(a)
	if a.Is4() {
		return a.AppendTo(b)
	}
	p, _ := a.Prefix(64) // cannot fail for IPv6
	return p.AppendTo(b)
}

type ctxKey struct{}

// NewContext returns ctx carrying the client address a.
func NewContext(ctx context.Context, a netip.Addr) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// FromContext returns the client address stored by Middleware (or
// NewContext) and whether there was one.
func FromContext(ctx context.Context) (netip.Addr, bool) {
	a, ok := ctx.Value(ctxKey{}).(netip.Addr)
	return a, ok
}

// Middleware resolves the client address once per request and stores it
// in the request context for FromContext.
func (res *Resolver) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), res.ClientIP(r))))
	})
}
