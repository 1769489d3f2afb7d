package csrf

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Names of the cookie, the form field and the request header that carry
// the token.
const (
	// CookieName is the token cookie. The __Host- prefix makes browsers
	// refuse it unless it is Secure, has Path=/ and no Domain, so a
	// sibling subdomain cannot set or overwrite it (cookie tossing).
	CookieName = "__Host-csrf"
	// FieldName is the form field of an application/x-www-form-urlencoded
	// body that carries the token.
	FieldName = "csrf_token"
	// HeaderName is the request header that carries the token.
	HeaderName = "X-CSRF-Token"
)

const (
	// MinKeyBytes is the shortest Options.Key New accepts.
	MinKeyBytes = 32
	// DefaultMaxFormBytes is the default Options.MaxFormBytes: 64 KiB.
	DefaultMaxFormBytes = 64 << 10
)

// Options configures a Protector. Key is required; the zero value of every
// other field selects its default.
type Options struct {
	// Key is the HMAC-SHA256 key that binds tokens to sessions: at least
	// MinKeyBytes random bytes, not all zero. New copies it. Use a key
	// for this purpose only; rotating it invalidates every outstanding
	// token.
	Key []byte

	// TrustedOrigins are origins ("scheme://host[:port]", no path, query,
	// fragment or user info) whose cross-origin unsafe requests pass the
	// cross-origin check. Scheme and host are compared case-insensitively
	// and a default port (:443 for https, :80 for http) may be written or
	// left out. Trusting an origin does not exempt its requests from the
	// token check.
	TrustedOrigins []string

	// Rand is the source of the random half of each token; default
	// crypto/rand.Reader. Reads from it are serialised, so it need not be
	// safe for concurrent use.
	Rand io.Reader

	// MaxFormBytes caps the bytes of an application/x-www-form-urlencoded
	// body the middleware reads when it looks for the csrf_token field;
	// default DefaultMaxFormBytes. A larger body is refused with
	// ErrFormTooLarge (413).
	MaxFormBytes int64

	// Deny answers refused requests; default DefaultDeny. It is called
	// with the refused request, whose context carries the reason (see
	// Reason). It must not echo request data into the response.
	Deny http.Handler

	// Observer, when set, is told the reason of every refusal the
	// middleware makes (metrics). Default: none.
	Observer Observer
}

// A Protector mints and checks CSRF tokens and provides the middleware.
// It is safe for concurrent use and must not be copied.
type Protector struct {
	key          []byte
	rand         io.Reader
	maxFormBytes int64
	deny         http.Handler
	obs          Observer // nil: none
	origins      *http.CrossOriginProtection
	// b64 is unpadded base64url that decodes strictly: zero trailing
	// bits, so that every token has exactly one spelling.
	b64  *base64.Encoding
	macs sync.Pool // of *macState: HMAC-SHA256 under key
}

// New checks o and returns a Protector. The error names the option (and,
// for TrustedOrigins, the offending origin) that is wrong.
func New(o Options) (*Protector, error) {
	switch {
	case len(o.Key) == 0:
		return nil, errors.New("csrf: Options.Key is required")
	case len(o.Key) < MinKeyBytes:
		return nil, fmt.Errorf("csrf: Options.Key has %d bytes; at least %d are required", len(o.Key), MinKeyBytes)
	case allZero(o.Key):
		return nil, errors.New("csrf: Options.Key is all zero bytes; use random bytes")
	case o.MaxFormBytes < 0:
		return nil, fmt.Errorf("csrf: Options.MaxFormBytes is negative (%d)", o.MaxFormBytes)
	}
	p := &Protector{
		key:          append([]byte(nil), o.Key...),
		rand:         rand.Reader,
		maxFormBytes: o.MaxFormBytes,
		deny:         o.Deny,
		obs:          o.Observer,
		origins:      http.NewCrossOriginProtection(),
		b64:          base64.RawURLEncoding.Strict(),
	}
	if o.Rand != nil {
		p.rand = &lockedReader{r: o.Rand}
	}
	if p.maxFormBytes == 0 {
		p.maxFormBytes = DefaultMaxFormBytes
	}
	if p.deny == nil {
		p.deny = http.HandlerFunc(DefaultDeny)
	}
	for _, s := range o.TrustedOrigins {
		origin, err := normalizeOrigin(s)
		if err != nil {
			return nil, fmt.Errorf("csrf: Options.TrustedOrigins: %q: %s", s, err)
		}
		if err := p.origins.AddTrustedOrigin(origin); err != nil {
			return nil, fmt.Errorf("csrf: Options.TrustedOrigins: %q: %w", s, err)
		}
	}
	key := p.key
	p.macs.New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	return p, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// normalizeOrigin checks that s is "scheme://host[:port]" and returns it
// the way browsers serialise an Origin header: scheme and host in lower
// case, without the scheme's default port.
func normalizeOrigin(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty; want scheme://host[:port]")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return "", errors.New("contains a space, a control or a non-ASCII character (write an IDN host in its xn-- form)")
		}
	}
	if strings.ContainsAny(s, "*#?\\") {
		return "", errors.New("wildcards, queries, fragments and backslashes are not allowed; want scheme://host[:port]")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", errors.New("not a URL; want scheme://host[:port]")
	case u.Scheme == "":
		return "", errors.New("no scheme; want scheme://host[:port]")
	case u.Opaque != "" || !strings.HasPrefix(s[len(u.Scheme):], "://"):
		return "", errors.New("no //host; want scheme://host[:port]")
	case u.User != nil:
		return "", errors.New("user info is not allowed; want scheme://host[:port]")
	case u.Host == "" || u.Hostname() == "":
		return "", errors.New("no host; want scheme://host[:port]")
	case u.Path != "" || u.RawPath != "":
		return "", errors.New("a path (even a trailing /) is not allowed; want scheme://host[:port]")
	case strings.HasSuffix(u.Host, ":"):
		return "", errors.New("empty port; want scheme://host[:port]")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return "", errors.New("port must be 1 to 65535 without leading zeros")
		}
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	switch {
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	}
	return scheme + "://" + host, nil
}

// lockedReader serialises reads from a caller's io.Reader.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(b)
}

// macState is a pooled HMAC with scratch space, so that a MAC costs no
// allocation.
type macState struct {
	h   hash.Hash
	buf []byte
	sum [macBytes]byte
}

// maxPooledBuf bounds the scratch kept in the pool after a long session id.
const maxPooledBuf = 1024

// sum writes HMAC-SHA256(key, label ‖ uint64be(len(sessionID)) ‖ sessionID
// ‖ rnd) to dst. The length prefix keeps (sessionID, rnd) pairs apart even
// if rnd ever changed length.
func (p *Protector) sum(dst *[macBytes]byte, sessionID string, rnd *[randBytes]byte) {
	st := p.macs.Get().(*macState)
	b := append(st.buf[:0], macLabel...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(sessionID)))
	b = append(b, sessionID...)
	b = append(b, rnd[:]...)
	st.h.Write(b)
	*dst = [macBytes]byte(st.h.Sum(st.sum[:0]))
	st.h.Reset()
	if cap(b) <= maxPooledBuf {
		st.buf = b
	} else {
		st.buf = nil
	}
	p.macs.Put(st)
}
