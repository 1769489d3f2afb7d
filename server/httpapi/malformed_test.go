package httpapi_test

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi/csrf"
)

// rawTLS sends req to the environment's server over a new TLS connection
// exactly as written (net/http's client refuses to send broken framing)
// and reads one answer.
func (e *authEnv) rawTLS(req string) (*http.Response, string) {
	e.t.Helper()
	cfg := e.srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", e.srv.Listener.Addr().String(), cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	// A bound, not a timing assertion: a hung server fails this test
	// instead of the whole package.
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		e.t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestMalformedBodiesOnEveryPath attacks every way the server reads a
// request body — huma's JSON decoding (POST /items/), huma's raw form body
// (POST /token), the CSRF middleware's form parsing and the login
// handler's own (POST /login) — with a chunked body whose chunk size
// overflows (ffffffffffffffffff, the outside audit's finding) or is not
// hex, and with forms over the login's cap. Each answer is a precise 4xx,
// problem+json where the path answers JSON, and nothing reaches the log
// as an ERROR.
func TestMalformedBodiesOnEveryPath(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	tok := e.login("alice", alicePass).AccessToken
	b := &browser{e: e, cookies: map[string]string{}}
	csrfTok := b.loginForm()
	cookie := csrf.CookieName + "=" + b.cookies[csrf.CookieName]

	const formType = "application/x-www-form-urlencoded"
	head := func(path, ctype string, extra ...string) string {
		h := "POST " + path + " HTTP/1.1\r\nHost: " + e.srv.Listener.Addr().String() + "\r\nContent-Type: " + ctype + "\r\n"
		for i := 0; i+1 < len(extra); i += 2 {
			h += extra[i] + ": " + extra[i+1] + "\r\n"
		}
		return h + "Transfer-Encoding: chunked\r\n\r\n"
	}
	overflow := "ffffffffffffffffff\r\nab\r\n0\r\n\r\n"
	notHex := "zz\r\nab\r\n0\r\n\r\n"
	// chunk is one well-formed chunk of data.
	chunk := func(data string) string { return strconv.FormatInt(int64(len(data)), 16) + "\r\n" + data + "\r\n" }
	bigForm := chunk("csrf_token="+csrfTok+"&username=alice&password=") + chunk(strings.Repeat("p", 10<<10)) + "0\r\n\r\n"

	bearerHdr := []string{"Authorization", "Bearer " + tok}
	loginHdr := []string{"Cookie", cookie, "Sec-Fetch-Site", "same-origin"}
	loginWithHeader := append(loginHdr[:len(loginHdr):len(loginHdr)], csrf.HeaderName, csrfTok)
	tests := []struct {
		name    string
		req     string
		status  int
		problem bool // the answer is problem+json (else a page)
	}{
		{"JSON operation, chunk size overflows", head("/items/", "application/json", bearerHdr...) + overflow, 400, true},
		{"JSON operation, chunk size not hex", head("/items/", "application/json", bearerHdr...) + notHex, 400, true},
		{"token form, chunk size overflows", head("/token", formType) + overflow, 400, true},
		{"token form, chunk size not hex", head("/token", formType) + notHex, 400, true},
		// The CSRF middleware reads the form for its csrf_token field.
		{"login form read by CSRF, chunk size overflows", head("/login", formType, loginHdr...) + overflow, 400, false},
		{"login form read by CSRF, chunk size not hex", head("/login", formType, loginHdr...) + notHex, 400, false},
		// With the token in the header, the login handler reads the form.
		{"login form read by the handler, chunk size overflows", head("/login", formType, loginWithHeader...) + overflow, 400, false},
		{"login form read by the handler, too large", head("/login", formType, loginWithHeader...) + bigForm, 413, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			resp, body := e.rawTLS(tt.req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tt.status, body)
			}
			ct := resp.Header.Get("Content-Type")
			if !tt.problem {
				if ct != "text/html; charset=utf-8" {
					t.Errorf("Content-Type %q, want a page", ct)
				}
				return
			}
			var p struct {
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if ct != "application/problem+json" || json.Unmarshal([]byte(body), &p) != nil || p.Status != tt.status {
				t.Fatalf("not a %d problem: %s %s", tt.status, ct, body)
			}
			if !strings.Contains(p.Detail, "chunked") {
				t.Errorf("detail %q does not say what is wrong", p.Detail)
			}
		})
	}
	e.t = t
	if strings.Contains(e.logs.String(), `"level":"ERROR"`) {
		t.Errorf("a malformed body was logged as an error:\n%s", e.logs.String())
	}
}

// TestRepeatedQueryParametersEverywhere: POST /token refuses a repeated
// form parameter (RFC 6749 §3.2); every operation of the server refuses a
// repeated query parameter the same way, instead of silently taking the
// first value (?limit=1&limit=3 listed one item).
func TestRepeatedQueryParametersEverywhere(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	user := bearer(e.login("alice", alicePass).AccessToken)
	admin := bearer(e.login("root", adminPass).AccessToken)
	tokenForm := "grant_type=password&username=alice&password=" + strings.ReplaceAll(alicePass, " ", "+")
	tests := []struct {
		method, target, ctype, body string
		hdr                         map[string]string
		param                       string // "" : accepted
	}{
		{"GET", "/items/?limit=1&limit=3", "", "", user, "limit"},
		{"GET", "/items/?cursor=a&cursor=b", "", "", user, "cursor"},
		{"GET", "/users?limit=1&limit=3", "", "", admin, "limit"},
		{"GET", "/admin/audit?type=login&type=logout", "", "", admin, "type"},
		{"GET", "/users/me?x=1&x=1", "", "", user, "x"},
		{"GET", "/healthz?a&a", "", "", nil, "a"},
		{"POST", "/token?scope=a&scope=b", form, tokenForm, nil, "scope"},
		{"POST", "/items/?limit=1&limit=1", "application/json", `{"name":"x","price":1}`, user, "limit"},
		{"GET", "/items/?limit=1", "", "", user, ""},
		{"GET", "/admin/audit?type=login&limit=2", "", "", admin, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			e.t = t
			resp, b := e.call(tt.method, tt.target, tt.ctype, tt.body, tt.hdr)
			if tt.param == "" {
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %s", resp.StatusCode, b)
				}
				return
			}
			var p struct {
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(b, &p) != nil {
				t.Fatalf("status %d %s, want a 400 problem: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
			if !strings.Contains(p.Detail, strconv.Quote(tt.param)) {
				t.Errorf("detail %q does not name %q", p.Detail, tt.param)
			}
		})
	}
}
