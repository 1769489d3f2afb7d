package csrf_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fortapi/fortapi/csrf"
)

// TestHeaderAuthHandler: for an application that authenticates a request
// with an Authorization header by that header alone, HeaderAuthHandler
// ignores the cookies of such a request — a bearer client holding an
// unrelated cookie is not refused — while every request a browser could
// forge on its own (no Authorization, or an ambient, empty or repeated
// one) is checked exactly as Handler checks it.
func TestHeaderAuthHandler(t *testing.T) {
	p := newProtector(t, func(o *csrf.Options) { o.Deny = reasonDeny })
	s1 := mint(t, p, "s1")
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux := http.NewServeMux()
	mux.Handle("/handler/", p.Handler(ok, sessionFromCookie))
	mux.Handle("/headerauth/", p.HeaderAuthHandler(ok, sessionFromCookie))
	ts := httptest.NewTLSServer(mux)
	t.Cleanup(ts.Close)

	const cross, same = "Sec-Fetch-Site: cross-site", "Sec-Fetch-Site: same-origin"
	session := "session=s1"
	tests := []struct {
		name                string
		s                   spec
		handler, headerAuth string // the reason each refuses with ("none": passes)
	}{
		{"bearer, unrelated cookie", spec{cookie: "theme=dark", headers: []string{same, "Authorization: Bearer t"}}, "missing", "none"},
		{"bearer, session cookie, cross-site", spec{cookie: session, headers: []string{cross, "Authorization: Bearer t"}}, "cross-origin", "none"},
		{"bearer, no cookie, cross-site", spec{headers: []string{cross, "Authorization: Bearer t"}}, "none", "none"},
		{"Basic, session cookie, cross-site", spec{cookie: session, headers: []string{cross, "Authorization: Basic dTpw"}}, "cross-origin", "cross-origin"},
		{"Basic, session cookie, same-origin", spec{cookie: session, headers: []string{same, "Authorization: Basic dTpw"}}, "missing", "none"},
		{"empty Authorization, cross-site", spec{cookie: session, headers: []string{cross, "Authorization:"}}, "cross-origin", "cross-origin"},
		{"two Authorization lines, cross-site", spec{cookie: session, headers: []string{cross, "Authorization: Bearer a", "Authorization: Bearer b"}}, "cross-origin", "cross-origin"},
		{"session cookie, no token", spec{cookie: session, headers: []string{same}}, "missing", "missing"},
		{"session cookie, cross-site", spec{cookie: session + "; __Host-csrf=" + s1, headers: []string{cross, "X-CSRF-Token: " + s1}}, "cross-origin", "cross-origin"},
		{"session cookie with its token", spec{cookie: session + "; __Host-csrf=" + s1, headers: []string{same, "X-CSRF-Token: " + s1}}, "none", "none"},
	}
	for _, tc := range tests {
		for _, route := range []struct{ path, want string }{{"/handler/x", tc.handler}, {"/headerauth/x", tc.headerAuth}} {
			t.Run(tc.name+route.path, func(t *testing.T) {
				s := tc.s
				s.path = route.path
				res := do(t, ts, s)
				got := res.reason
				if res.status == http.StatusOK && got == "" {
					got = "none"
				}
				if got != route.want {
					t.Fatalf("status %d reason %q, want %q (body %q)", res.status, res.reason, route.want, res.body)
				}
			})
		}
	}
}
