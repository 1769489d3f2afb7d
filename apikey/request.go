package apikey

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Header is the header a key may be sent in besides Authorization.
const Header = "X-API-Key"

// Errors of FromRequest.
var (
	// ErrNoKey: the request carries no API key (it may carry another
	// credential).
	ErrNoKey = errors.New("apikey: no API key")
	// ErrAmbiguous: several keys, or X-API-Key next to an Authorization
	// header.
	ErrAmbiguous = errors.New("apikey: a request must carry one credential: one X-API-Key header and no Authorization header, or one Authorization header")
)

// FromRequest returns the API key of r, unparsed: the token of
// "Authorization: Bearer fak_..." or the value of X-API-Key. It returns
// ErrNoKey when r has neither (a bearer token that does not start with
// Prefix is not a key), ErrAmbiguous when it has several or both.
func FromRequest(r *http.Request) (string, error) {
	auth := r.Header.Values("Authorization")
	keys := r.Header.Values(Header)
	switch {
	case len(keys) > 1:
		return "", ErrAmbiguous
	case len(keys) == 1 && len(auth) > 0:
		return "", ErrAmbiguous
	case len(keys) == 1:
		return strings.TrimSpace(keys[0]), nil
	case len(auth) != 1:
		return "", ErrNoKey
	}
	scheme, tok, ok := strings.Cut(auth[0], " ")
	tok = strings.TrimLeft(tok, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(tok, Prefix) {
		return "", ErrNoKey
	}
	return tok, nil
}

// InURL reports whether u carries something that looks like an API key
// (Prefix followed by 16 or more key characters) in its path or query,
// raw or percent-decoded.
func InURL(u *url.URL) bool {
	for _, s := range []string{u.Path, u.RawPath, u.RawQuery} {
		if containsKey(s) {
			return true
		}
		if strings.IndexByte(s, '%') >= 0 && containsKey(unescapeLenient(s)) {
			return true
		}
	}
	return false
}

// unescapeLenient decodes the valid %XX escapes of s and leaves the rest
// as they are: one bad escape elsewhere in a query must not hide a key
// (url.QueryUnescape gives up on the whole string).
func unescapeLenient(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// containsKey reports whether s holds Prefix followed by at least IDLen
// characters of a key.
func containsKey(s string) bool {
	for {
		i := strings.Index(s, Prefix)
		if i < 0 {
			return false
		}
		s = s[i+len(Prefix):]
		n := 0
		for n < len(s) && (isBase62(s[n]) || s[n] == '_') {
			n++
		}
		if n >= IDLen {
			return true
		}
	}
}

// refusal is the problem+json (RFC 9457) RefuseInURL answers.
const refusal = `{"title":"Bad Request","status":400,"detail":"an API key must never be sent in a URL (proxies, browsers and logs keep URLs): send it in the X-API-Key or Authorization: Bearer header, and revoke this key, it may have been recorded"}`

// RefuseInURL answers 400 problem+json to a request whose URL holds an API
// key (InURL), without calling next: put it outermost, before any access
// log or router, so the URL is never logged nor routed. Other requests go
// to next.
func RefuseInURL(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if InURL(r.URL) {
			h := w.Header()
			h.Set("Content-Type", "application/problem+json")
			h.Set("Cache-Control", "no-store")
			h.Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(refusal))
			return
		}
		next.ServeHTTP(w, r)
	})
}
