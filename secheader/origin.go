package secheader

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// maxOriginLen bounds the origins parsed: a scheme, a 253-byte host and a
// port fit with room to spare, and a longer Origin header costs no more
// than a short one.
const maxOriginLen = 512

// Origin parsing errors. They say what is wrong without repeating the
// input; NewCORS adds the offending entry.
var (
	errOriginNull     = errors.New(`"null" is the origin of sandboxed frames, data: URLs, file: pages and redirects, which anyone can produce; it is never allowed`)
	errOriginSyntax   = errors.New(`not an origin: want scheme://host or scheme://host:port`)
	errOriginLong     = errors.New("longer than 512 bytes")
	errOriginChars    = errors.New("contains a space, a control or a non-ASCII character (write internationalised names in punycode, xn--...)")
	errOriginScheme   = errors.New("invalid scheme")
	errOriginPath     = errors.New(`has a path, query, fragment, user info or backslash: an origin is only scheme://host[:port], without a trailing "/"`)
	errOriginWildcard = errors.New(`wildcards are not supported: list every origin ("*" alone allows any origin, without credentials)`)
	errOriginHost     = errors.New("invalid host: want a DNS name of letters, digits, '-' and '_' in non-empty labels, a dotted-quad IPv4 address or a bracketed IPv6 address")
	errOriginIPv4     = errors.New("a host ending in a number is an IPv4 address to browsers: write it as four decimal parts without leading zeros")
	errOriginIPv6     = errors.New("invalid IPv6 address: zones and IPv4-mapped addresses are not origins a browser sends")
	errOriginPort     = errors.New("invalid port: want 1 to 65535 without leading zeros")
)

// normalizeOrigin returns the serialisation browsers use for the origin s
// (scheme://host[:port]): scheme and host in lower case, the port dropped
// when it is the scheme's default, IPv6 addresses in RFC 5952 form. It
// accepts nothing but scheme://host[:port]: no path (not even "/"), query,
// fragment or user info; no wildcard; no "null"; no byte outside printable
// ASCII. Host names are letters, digits, '-' and '_' in non-empty,
// dot-separated labels (no trailing dot: "example.com." is another origin
// than "example.com" to a browser, and not one worth allowing); a host
// whose last label is numeric must be a canonical dotted-quad IPv4 address,
// because a browser would read "0x7f.1" or "127.1" as one and send it in
// canonical form.
//
// normalizeOrigin(normalizeOrigin(s)) == normalizeOrigin(s) for every s it
// accepts, and two inputs it accepts denote the same origin to a browser
// exactly when their normal forms are equal.
func normalizeOrigin(s string) (string, error) {
	if len(s) > maxOriginLen {
		return "", errOriginLong
	}
	if s == "null" {
		return "", errOriginNull
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return "", errOriginChars
		}
	}
	i := strings.Index(s, "://")
	if i < 0 {
		return "", errOriginSyntax
	}
	scheme, rest := s[:i], s[i+3:]
	if !validScheme(scheme) {
		return "", errOriginScheme
	}
	if strings.ContainsAny(rest, "/?#@\\") {
		return "", errOriginPath
	}
	if strings.IndexByte(rest, '*') >= 0 {
		return "", errOriginWildcard
	}

	var host, port string
	hasPort := false
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return "", errOriginIPv6
		}
		host, rest = rest[:end+1], rest[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", errOriginSyntax
			}
			port, hasPort = rest[1:], true
		}
	} else {
		host = rest
		if c := strings.IndexByte(rest, ':'); c >= 0 {
			host, port, hasPort = rest[:c], rest[c+1:], true
		}
	}

	host, err := normalizeHost(host)
	if err != nil {
		return "", err
	}
	scheme = strings.ToLower(scheme)
	if hasPort {
		n, ok := parsePort(port)
		if !ok {
			return "", errOriginPort
		}
		if n == defaultPort(scheme) {
			hasPort = false
		}
	}

	// Build the result without allocating when s is already normal.
	if !hasPort {
		if len(s) == len(scheme)+3+len(host) && s[:len(scheme)] == scheme && s[len(scheme)+3:] == host {
			return s, nil
		}
		return scheme + "://" + host, nil
	}
	if len(s) == len(scheme)+3+len(host)+1+len(port) && s[:len(scheme)] == scheme && s[len(scheme)+3:len(scheme)+3+len(host)] == host {
		return s, nil
	}
	return scheme + "://" + host + ":" + port, nil
}

// validScheme reports whether s is an RFC 3986 scheme:
// ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	if s == "" || len(s) > 32 || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// normalizeHost checks a host (an IPv6 address still in brackets) and
// returns it in the form browsers serialise.
func normalizeHost(h string) (string, error) {
	if strings.HasPrefix(h, "[") {
		a, err := netip.ParseAddr(h[1 : len(h)-1])
		if err != nil || !a.Is6() || a.Zone() != "" || a.Is4In6() {
			return "", errOriginIPv6
		}
		n := "[" + a.String() + "]"
		if n == h {
			return h, nil
		}
		return n, nil
	}
	if h == "" || len(h) > 253 {
		return "", errOriginHost
	}
	label := 0 // length of the current label
	upper := false
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c == '.':
			if label == 0 {
				return "", errOriginHost
			}
			label = 0
			continue
		case 'A' <= c && c <= 'Z':
			upper = true
		case 'a' <= c && c <= 'z', isDigit(c), c == '-', c == '_':
		default:
			return "", errOriginHost
		}
		if label++; label > 63 {
			return "", errOriginHost
		}
	}
	if label == 0 { // trailing dot
		return "", errOriginHost
	}
	if upper {
		h = strings.ToLower(h)
	}
	// The WHATWG URL parser treats a host whose last label is a number
	// (decimal, or hex with 0x) as an IPv4 address.
	last := h[strings.LastIndexByte(h, '.')+1:]
	if allDigits(last) || strings.HasPrefix(last, "0x") && allHex(last[2:]) {
		a, err := netip.ParseAddr(h)
		if err != nil || !a.Is4() || a.String() != h {
			return "", errOriginIPv4
		}
	}
	return h, nil
}

// parsePort parses 1 to 65535 written without leading zeros.
func parsePort(p string) (int, bool) {
	if p == "" || len(p) > 5 || p[0] == '0' || !allDigits(p) {
		return 0, false
	}
	n, err := strconv.Atoi(p)
	if err != nil || n > 65535 {
		return 0, false
	}
	return n, true
}

// defaultPort is the port the WHATWG URL standard omits when it serialises
// an origin of scheme, or -1.
func defaultPort(scheme string) int {
	switch scheme {
	case "http", "ws":
		return 80
	case "https", "wss":
		return 443
	case "ftp":
		return 21
	}
	return -1
}

// isLoopbackHost reports whether a normalised host is one browsers treat
// as potentially trustworthy without TLS: localhost, *.localhost, 127/8
// and ::1.
func isLoopbackHost(h string) bool {
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && !('a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isToken reports whether s is an RFC 9110 token (a field name or a
// method).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlpha(c) || isDigit(c) {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// NormalizeOrigin returns the serialisation browsers use for the origin s
// (scheme://host[:port], scheme and host in lower case, a default port
// dropped), or an error saying what is wrong with it. It accepts exactly
// what CORS accepts as an allowed origin: no path, query, fragment, user
// info or wildcard, never "null". Two origins it accepts are the same to a
// browser exactly when their normal forms are equal, so other checks (the
// WebSocket feed's) can compare them with ==.
func NormalizeOrigin(s string) (string, error) { return normalizeOrigin(s) }
