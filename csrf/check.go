package csrf

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
)

// SessionFunc returns the id of the session a request belongs to, or ok
// false for an anonymous visitor (whose id is then ""). The middleware
// runs before authentication, so it typically looks the session cookie up
// in the session store; it is called only for unsafe requests that the
// token check applies to. The id must be stable for the life of the
// session, unguessable or server-side, and new at every login.
type SessionFunc func(r *http.Request) (id string, ok bool)

// Check applies both checks to r as the middleware returned by Handler
// would, with sessionID as the current session ("" for anonymous), and
// returns nil or an error wrapping ErrCrossOrigin, ErrMissingToken,
// ErrBadToken, ErrFormTooLarge or ErrBadForm. Safe methods (GET, HEAD, OPTIONS)
// always pass; a request without a Cookie header skips the token check.
//
// For an application/x-www-form-urlencoded body without an X-CSRF-Token
// header, Check parses the body (at most Options.MaxFormBytes) into
// r.PostForm and r.Form, where the handler finds it; no other body is
// read.
func (p *Protector) Check(r *http.Request, sessionID string) error {
	return p.observed(p.check(nil, r, checkDefault, fixedSession(sessionID)))
}

// CheckRequired is Check for a route that always requires the token, as
// the middleware returned by Require does: a request without a Cookie
// header is refused rather than exempted.
func (p *Protector) CheckRequired(r *http.Request, sessionID string) error {
	return p.observed(p.check(nil, r, checkRequired, fixedSession(sessionID)))
}

// checkMode is what a route asks of the checks.
type checkMode uint8

const (
	// checkDefault: Handler and Check.
	checkDefault checkMode = iota
	// checkRequired: the token even without cookies (Require).
	checkRequired
	// checkHeaderAuth: a request with an Authorization header is judged
	// as if it had no cookies (HeaderAuthHandler).
	checkHeaderAuth
)

type fixedSession string

func (s fixedSession) id(*http.Request) (string, bool) { return string(s), true }

type sessioner interface {
	id(*http.Request) (string, bool)
}

type sessionFunc SessionFunc

func (f sessionFunc) id(r *http.Request) (string, bool) {
	if f == nil {
		return "", false
	}
	return f(r)
}

// IsSafeMethod reports whether method is GET, HEAD or OPTIONS, the
// methods neither check applies to. Handlers must not change state on
// them.
func IsSafeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

func (p *Protector) check(w http.ResponseWriter, r *http.Request, mode checkMode, s sessioner) error {
	if IsSafeMethod(r.Method) {
		return nil
	}
	required := mode == checkRequired
	hasCookie := len(r.Header["Cookie"]) > 0
	if mode == checkHeaderAuth && len(r.Header["Authorization"]) > 0 {
		// The application authenticates this request by its
		// Authorization header alone: its cookies are not credentials.
		hasCookie = false
	}

	// (a) Cross-origin, unless the request authenticates itself with a
	// header a browser does not attach on its own, and has no cookies.
	if hasCookie || !explicitAuthorization(r.Header["Authorization"]) {
		if err := p.origins.Check(r); err != nil {
			if r.Header.Get("Sec-Fetch-Site") != "" {
				return reasonSecFetchSite
			}
			return reasonOrigin
		}
	}

	// (b) Signed double-submit token, unless nothing ambient came along.
	if !hasCookie && !required {
		return nil
	}
	cookies := r.CookiesNamed(CookieName)
	if len(cookies) == 0 {
		return reasonNoCookie
	}
	token, err := p.submitted(w, r)
	if err != nil {
		return err
	}
	id, ok := s.id(r)
	if !ok {
		id = ""
	}
	if why := p.verify(id, token); why != 0 {
		return why
	}
	// Every cookie of that name is compared, in constant time, so that
	// a second one tossed in by a non-conforming browser cannot hide
	// ours; a match means the cookie holds this very token.
	for _, c := range cookies {
		if subtle.ConstantTimeCompare([]byte(c.Value), []byte(token)) == 1 {
			return nil
		}
	}
	return reasonMismatch
}

// submitted returns the token of the X-CSRF-Token header or, when there is
// no such header, of the csrf_token field of a url-encoded form body.
func (p *Protector) submitted(w http.ResponseWriter, r *http.Request) (string, error) {
	if v := r.Header.Values(HeaderName); len(v) > 0 {
		switch {
		case len(v) > 1:
			return "", reasonSeveral
		case v[0] == "":
			return "", reasonNoToken
		}
		return v[0], nil
	}
	if !isURLEncodedForm(r.Header.Get("Content-Type")) {
		return "", reasonNoToken
	}
	if r.PostForm == nil {
		if r.Body == nil || r.Body == http.NoBody {
			return "", reasonNoToken
		}
		r.Body = http.MaxBytesReader(w, r.Body, p.maxFormBytes)
		if err := r.ParseForm(); err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return "", reasonFormTooLarge
			}
			return "", reasonBadForm
		}
	}
	// PostForm only: a token in the URL query would leak through logs
	// and Referer.
	v := r.PostForm[FieldName]
	switch {
	case len(v) > 1:
		return "", reasonSeveral
	case len(v) == 0 || v[0] == "":
		return "", reasonNoToken
	}
	return v[0], nil
}

func isURLEncodedForm(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded")
}

// explicitAuthorization reports whether the Authorization field lines
// hold exactly one credential whose scheme browsers never attach by
// themselves. Basic, Digest, Negotiate and NTLM credentials are ambient:
// a browser that has them cached sends them with a cross-site form post.
func explicitAuthorization(v []string) bool {
	if len(v) != 1 {
		return false
	}
	scheme, _, _ := strings.Cut(strings.TrimSpace(v[0]), " ")
	if scheme == "" {
		return false
	}
	for _, ambient := range [...]string{"Basic", "Digest", "Negotiate", "NTLM"} {
		if strings.EqualFold(scheme, ambient) {
			return false
		}
	}
	return true
}
