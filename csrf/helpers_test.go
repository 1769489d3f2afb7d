package csrf_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/csrf"
)

// testKey is 32 bytes, not all zero.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// otherKey is a different valid key.
var otherKey = []byte("fedcba9876543210fedcba9876543210")

func newProtector(tb testing.TB, mod ...func(*csrf.Options)) *csrf.Protector {
	tb.Helper()
	o := csrf.Options{Key: testKey}
	for _, m := range mod {
		m(&o)
	}
	p, err := csrf.New(o)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return p
}

func mint(tb testing.TB, p *csrf.Protector, sessionID string) string {
	tb.Helper()
	t, err := p.Token(sessionID)
	if err != nil {
		tb.Fatalf("Token(%q): %v", sessionID, err)
	}
	return t
}

// sessionFromCookie is the test SessionFunc: the "session" cookie's value
// is the session id.
func sessionFromCookie(r *http.Request) (string, bool) {
	c, err := r.Cookie("session")
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// sentinelName names the sentinel err wraps, for the X-Test-Reason header.
func sentinelName(err error) string {
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, csrf.ErrCrossOrigin):
		return "cross-origin"
	case errors.Is(err, csrf.ErrMissingToken):
		return "missing"
	case errors.Is(err, csrf.ErrBadToken):
		return "bad"
	case errors.Is(err, csrf.ErrFormTooLarge):
		return "too-large"
	case errors.Is(err, csrf.ErrBadForm):
		return "bad-form"
	}
	return "unknown"
}

// reasonDeny reports the reason in X-Test-Reason and then answers as
// DefaultDeny does.
var reasonDeny = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Test-Reason", sentinelName(csrf.Reason(r.Context())))
	csrf.DefaultDeny(w, r)
})

// newServer serves, over TLS:
//
//	/api/...  p.Handler: answers "ok amount=<PostForm amount> form=<FormValue amount>"
//	/login    p.Require: GET Ensures an anonymous token and prints it;
//	          POST logs in as session "s-new", issues its token and prints it.
func newServer(t *testing.T, p *csrf.Protector) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/api/", p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "handler could not parse form", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "ok amount=%s form=%s", r.PostForm.Get("amount"), r.FormValue("amount"))
	}), sessionFromCookie))
	mux.Handle("/login", p.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			id, _ := sessionFromCookie(r)
			tok, err := p.Ensure(w, r, id)
			if err != nil {
				http.Error(w, "no token", http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, tok)
			return
		}
		if r.PostForm.Get("user") != "alice" {
			http.Error(w, "who?", http.StatusUnauthorized)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s-new", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		tok, err := p.Issue(w, "s-new")
		if err != nil {
			http.Error(w, "no token", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, tok)
	}), sessionFromCookie))
	ts := httptest.NewTLSServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

// spec describes one request sent by hand, so that every header is under
// the test's control.
type spec struct {
	method  string
	path    string   // default /api/x
	cookie  string   // whole Cookie header; "" sends none
	headers []string // "Name: value" lines, repeated names allowed
	form    string   // url-encoded body; sets Content-Type
	body    string   // raw body, with its own Content-Type in headers
}

func (s spec) request(tb testing.TB, base string) *http.Request {
	tb.Helper()
	method := s.method
	if method == "" {
		method = http.MethodPost
	}
	path := s.path
	if path == "" {
		path = "/api/x"
	}
	var body io.Reader
	switch {
	case s.form != "":
		body = strings.NewReader(s.form)
	case s.body != "":
		body = strings.NewReader(s.body)
	}
	r, err := http.NewRequest(method, base+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	if s.form != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if s.cookie != "" {
		r.Header.Set("Cookie", s.cookie)
	}
	for _, h := range s.headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			tb.Fatalf("bad header line %q", h)
		}
		r.Header.Add(k, strings.TrimSpace(v))
	}
	return r
}

type result struct {
	status int
	reason string
	header http.Header
	body   string
}

func do(tb testing.TB, ts *httptest.Server, s spec) result {
	tb.Helper()
	c := ts.Client()
	// No redirects, no jar: exactly the headers the spec names.
	resp, err := c.Do(s.request(tb, ts.URL))
	if err != nil {
		tb.Fatalf("%s %s: %v", s.method, s.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("reading body: %v", err)
	}
	return result{status: resp.StatusCode, reason: resp.Header.Get("X-Test-Reason"), header: resp.Header, body: string(b)}
}

// errReader fails every read.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

// countingReader yields 0x01, 0x02, ... so that tokens are reproducible.
type countingReader struct{ n byte }

func (c *countingReader) Read(b []byte) (int, error) {
	for i := range b {
		c.n++
		b[i] = c.n
	}
	return len(b), nil
}
