package csrf

import (
	"errors"
	"github.com/fortapi/fortapi/internal/accept"
	"net/http"
	"strconv"
	"strings"

	"github.com/fortapi/fortapi/internal/problem"
)

// Handler returns middleware that applies both checks to every unsafe
// request (see the package documentation for the exemptions) and passes
// it to next, or refuses it through Options.Deny. session names the
// current session; nil means every visitor is anonymous.
//
// Put it in front of authentication and of anything that reads the body.
// It reads the body only when it is application/x-www-form-urlencoded and
// carries no X-CSRF-Token header, and then leaves the parsed form in
// r.PostForm and r.Form for next.
func (p *Protector) Handler(next http.Handler, session SessionFunc) http.Handler {
	return p.middleware(next, session, checkDefault)
}

// HeaderAuthHandler is Handler for an application that authenticates a
// request carrying an Authorization header by that header alone and
// ignores its cookies (fortapi's API does, and refuses a cookie session
// for such a request). Its cookies are then no credential a forger could
// borrow, so they play no part here either: the token check is skipped,
// and the cross-origin check runs only when the Authorization header is
// itself ambient (Basic, Digest, Negotiate, NTLM, which browsers attach on
// their own), empty or repeated. A bearer-token client that also holds an
// unrelated cookie is therefore not refused.
//
// Use it only when that is true of the authentication: an application
// that may accept a session cookie from a request with an Authorization
// header must use Handler.
func (p *Protector) HeaderAuthHandler(next http.Handler, session SessionFunc) http.Handler {
	return p.middleware(next, session, checkHeaderAuth)
}

// Require is Handler for routes that must always present a token, cookies
// or not: the login form (login CSRF) and any other form an anonymous
// visitor posts. A request without a Cookie header is refused instead of
// exempted. Safe methods still pass, so the same route can serve the form.
func (p *Protector) Require(next http.Handler, session SessionFunc) http.Handler {
	return p.middleware(next, session, checkRequired)
}

func (p *Protector) middleware(next http.Handler, session SessionFunc, mode checkMode) http.Handler {
	s := sessionFunc(session)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := p.observed(p.check(w, r, mode, s)); err != nil {
			p.deny.ServeHTTP(w, r.WithContext(withReason(r.Context(), err)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// DefaultDeny is the default Options.Deny. It answers 413 for
// ErrFormTooLarge, 400 for ErrBadForm and 403 otherwise: with a small fixed text/html page
// when the request is a form post or its Accept header prefers text/html
// to JSON, else with an RFC 9457 application/problem+json document whose
// detail is the fixed text of the reason. Nothing from the request, and
// never the token, appears in the response.
func DefaultDeny(w http.ResponseWriter, r *http.Request) {
	status := http.StatusForbidden
	detail := "The request could not be verified as coming from this site."
	if err := Reason(r.Context()); err != nil {
		switch {
		case errors.Is(err, ErrFormTooLarge):
			status = http.StatusRequestEntityTooLarge
		case errors.Is(err, ErrBadForm):
			status = http.StatusBadRequest
		}
		if rs, ok := errors.AsType[reason](err); ok {
			detail = "CSRF check failed: " + rs.text() + "."
		}
	}
	if wantsHTML(r) {
		writeHTML(w, r, status)
		return
	}
	problem.Write(w, r, status, detail)
}

func writeHTML(w http.ResponseWriter, r *http.Request, status int) {
	msg := "This request could not be verified as coming from this site. Go back, reload the page and try again."
	switch status {
	case http.StatusRequestEntityTooLarge:
		msg = "The submitted form is too large."
	case http.StatusBadRequest:
		msg = "The submitted form could not be read. Go back, reload the page and try again."
	}
	title := strconv.Itoa(status) + " " + http.StatusText(status)
	body := "<!doctype html>\n<html lang=\"en\">\n<meta charset=\"utf-8\">\n<title>" + title +
		"</title>\n<h1>" + title + "</h1>\n<p>" + msg + "</p>\n</html>\n"
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

// wantsHTML reports whether r is an HTML form post or prefers text/html
// (or XHTML) to JSON in its Accept header. Ties and wildcards go to JSON.
func wantsHTML(r *http.Request) bool {
	mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	mt = strings.TrimSpace(mt)
	if strings.EqualFold(mt, "application/x-www-form-urlencoded") || strings.EqualFold(mt, "multipart/form-data") {
		return true
	}
	return accept.PrefersHTML(r)
}
