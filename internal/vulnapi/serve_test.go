package vulnapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestServeLoopbackOnly(t *testing.T) {
	tg, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	for _, tc := range []struct {
		so ServeOptions
		ok bool
	}{
		{ServeOptions{Addr: "0.0.0.0:0"}, false},
		{ServeOptions{Addr: ":0"}, false},
		{ServeOptions{Addr: "[::]:0"}, false},
		{ServeOptions{Addr: "192.0.2.1:0"}, false},
		{ServeOptions{Addr: "example.com:0"}, false},
		{ServeOptions{HTTP: true, HTTPAddr: "0.0.0.0:0"}, false},
		{ServeOptions{}, true},
		{ServeOptions{Addr: "localhost:0", HTTP: true, HTTPAddr: "[::1]:0"}, true},
	} {
		s, err := tg.Serve(tc.so)
		if (err == nil) != tc.ok {
			t.Errorf("Serve(%+v): err = %v", tc.so, err)
		}
		if s != nil {
			s.Close()
		}
	}
}

// TestCleanHTTPListener: the plain-HTTP port of the clean target
// redirects GET and HEAD, and refuses requests with credentials.
func TestCleanHTTPListener(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		method, token string
		want          int
	}{
		{"GET", "", http.StatusPermanentRedirect},
		{"HEAD", "", http.StatusPermanentRedirect},
		{"GET", "some-token", http.StatusBadRequest},
		{"POST", "", http.StatusBadRequest},
	} {
		r := e.do(tc.method, e.srv.HTTPURL+"/users/me?x=1", tc.token, nil, nil)
		if r.status != tc.want {
			t.Errorf("%s (token %q): %d, want %d", tc.method, tc.token, r.status, tc.want)
		}
		if tc.want == http.StatusPermanentRedirect && r.header.Get("Location") != e.srv.URL+"/users/me?x=1" {
			t.Errorf("Location %q", r.header.Get("Location"))
		}
	}
}

// TestCleanBehaviour: what a correct scanner checks on the clean target.
func TestCleanBehaviour(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.alice()
	r := e.get("/search?q=x", alice)
	for _, h := range []string{"Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy"} {
		if r.header.Get(h) == "" {
			t.Errorf("HTML page without %s", h)
		}
	}
	if r.header.Get("Server") != "" || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("banner or CORS: %v", r.header)
	}
	// identical failures, then 429 with Retry-After
	a, b := e.tokenRequest("nobody", "x-password-1"), e.tokenRequest(UserBob, "x-password-1")
	if a.status != b.status || a.body != b.body {
		t.Errorf("login failures differ: %d %s / %d %s", a.status, a.body, b.status, b.body)
	}
	var last result
	for range 5 {
		last = e.tokenRequest(UserBob, "x-password-2")
	}
	if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" {
		t.Errorf("after 6 failures: %d %v", last.status, last.header)
	}
	// a schema-negative request is a 4xx
	for _, body := range []string{`{"name":"x","price":"abc"}`, `{"name":"x"}`, `[]`, `null`, `{"name":"x","price":1,"id":5}`, `{"name":"x","price":-1}`, `{`} {
		if r := e.postJSON("POST", "/items/", alice, body); r.status < 400 || r.status >= 500 {
			t.Errorf("POST /items/ %s: %d", body, r.status)
		}
	}
	for _, p := range []string{"/items/abc", "/items/-1", "/items/99999999999999999999", "/items/?limit=abc", "/items/?limit=0", "/items/?sort=x", "/items/?limit=1&limit=2"} {
		if r := e.get(p, alice); r.status < 400 || r.status >= 500 {
			t.Errorf("GET %s: %d", p, r.status)
		}
	}
}

// TestHandlerAlone: the handler works without Serve (httptest).
func TestHandlerAlone(t *testing.T) {
	tg, err := New(Options{Flaws: Set{FlawBFLA: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	srv := httptest.NewServer(tg.Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/token", "application/x-www-form-urlencoded",
		strings.NewReader("grant_type=password&username=alice&password="+PasswordAlice))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("login: %d", resp.StatusCode)
	}
}
