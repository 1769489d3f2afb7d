package csrf_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/csrf"
)

// TestCrossOrigin attacks layer (a). Every request that is meant to reach
// the handler carries a valid cookie and header token, so only the
// cross-origin check can refuse it; the exemption cases carry none.
func TestCrossOrigin(t *testing.T) {
	p := newProtector(t, func(o *csrf.Options) {
		o.Deny = reasonDeny
		o.TrustedOrigins = []string{"https://app.example", "HTTPS://Partner.Example:443"}
	})
	ts := newServer(t, p)
	tok := mint(t, p, "s1")
	cookie := "session=s1; __Host-csrf=" + tok
	hdr := "X-CSRF-Token: " + tok
	tests := []struct {
		name       string
		s          spec
		wantStatus int
		wantReason string
	}{
		{"cross-site form post", spec{cookie: cookie, form: "amount=1&csrf_token=" + tok, headers: []string{"Sec-Fetch-Site: cross-site", "Origin: https://evil.example"}}, 403, "cross-origin"},
		{"cross-site fetch with token", spec{cookie: cookie, headers: []string{hdr, "Sec-Fetch-Site: cross-site"}}, 403, "cross-origin"},
		{"same-site sibling", spec{cookie: cookie, headers: []string{hdr, "Sec-Fetch-Site: same-site", "Origin: https://sub.127.0.0.1"}}, 403, "cross-origin"},
		{"same-origin", spec{cookie: cookie, headers: []string{hdr, "Sec-Fetch-Site: same-origin"}}, 200, ""},
		{"user-initiated (none)", spec{cookie: cookie, headers: []string{hdr, "Sec-Fetch-Site: none"}}, 200, ""},
		{"old browser, Origin matches Host", spec{cookie: cookie, headers: []string{hdr, "Origin: " + ts.URL}}, 200, ""},
		{"old browser, Origin mismatch", spec{cookie: cookie, headers: []string{hdr, "Origin: https://evil.example"}}, 403, "cross-origin"},
		{"old browser, Origin null", spec{cookie: cookie, headers: []string{hdr, "Origin: null"}}, 403, "cross-origin"},
		{"neither header (non-browser)", spec{cookie: cookie, headers: []string{hdr}}, 200, ""},
		{"trusted origin", spec{cookie: cookie, headers: []string{hdr, "Sec-Fetch-Site: cross-site", "Origin: https://app.example"}}, 200, ""},
		{"trusted origin, normalised config", spec{cookie: cookie, headers: []string{hdr, "Sec-Fetch-Site: cross-site", "Origin: https://partner.example"}}, 200, ""},
		{"trusted origin needs the token too", spec{cookie: cookie, headers: []string{"Sec-Fetch-Site: cross-site", "Origin: https://app.example"}}, 403, "missing"},
		{"untrusted look-alike origin", spec{cookie: cookie, headers: []string{hdr, "Sec-Fetch-Site: cross-site", "Origin: https://app.example.evil"}}, 403, "cross-origin"},
		{"trusted origin other scheme", spec{cookie: cookie, headers: []string{hdr, "Sec-Fetch-Site: cross-site", "Origin: http://app.example"}}, 403, "cross-origin"},
		{"PUT cross-site", spec{method: http.MethodPut, cookie: cookie, headers: []string{hdr, "Sec-Fetch-Site: cross-site"}}, 403, "cross-origin"},
		{"PATCH cross-site", spec{method: http.MethodPatch, cookie: cookie, headers: []string{hdr, "Sec-Fetch-Site: cross-site"}}, 403, "cross-origin"},
		{"DELETE cross-site", spec{method: http.MethodDelete, cookie: cookie, headers: []string{hdr, "Sec-Fetch-Site: cross-site"}}, 403, "cross-origin"},
		{"custom method cross-site", spec{method: "PURGE", cookie: cookie, headers: []string{hdr, "Sec-Fetch-Site: cross-site"}}, 403, "cross-origin"},

		// Safe methods: neither layer, no token at all.
		{"GET cross-site", spec{method: http.MethodGet, cookie: "session=s1", headers: []string{"Sec-Fetch-Site: cross-site", "Origin: https://evil.example"}}, 200, ""},
		{"HEAD cross-site", spec{method: http.MethodHead, cookie: "session=s1", headers: []string{"Sec-Fetch-Site: cross-site"}}, 200, ""},
		{"OPTIONS cross-site", spec{method: http.MethodOptions, cookie: "session=s1", headers: []string{"Sec-Fetch-Site: cross-site", "Origin: https://evil.example"}}, 200, ""},

		// Exemptions.
		{"bearer only, cross-site, no token", spec{headers: []string{"Authorization: Bearer abc", "Sec-Fetch-Site: cross-site", "Origin: https://evil.example"}}, 200, ""},
		{"custom scheme only, cross-site", spec{headers: []string{"Authorization: ApiKey abc", "Sec-Fetch-Site: cross-site"}}, 200, ""},
		{"bearer and cookie, cross-site", spec{cookie: cookie, headers: []string{hdr, "Authorization: Bearer abc", "Sec-Fetch-Site: cross-site"}}, 403, "cross-origin"},
		{"bearer and cookie, same-origin, no token", spec{cookie: "session=s1", headers: []string{"Authorization: Bearer abc", "Sec-Fetch-Site: same-origin"}}, 403, "missing"},
		{"bearer and cookie, same-origin, token", spec{cookie: cookie, headers: []string{hdr, "Authorization: Bearer abc", "Sec-Fetch-Site: same-origin"}}, 200, ""},
		{"bearer and empty Cookie header", spec{headers: []string{"Cookie: ", "Authorization: Bearer abc", "Sec-Fetch-Site: cross-site"}}, 403, "cross-origin"},
		{"basic auth is ambient, cross-site", spec{headers: []string{"Authorization: Basic YTpi", "Sec-Fetch-Site: cross-site"}}, 403, "cross-origin"},
		{"digest is ambient, old browser", spec{headers: []string{"Authorization: digest username=a", "Origin: https://evil.example"}}, 403, "cross-origin"},
		{"negotiate is ambient", spec{headers: []string{"Authorization: Negotiate abc", "Sec-Fetch-Site: cross-site"}}, 403, "cross-origin"},
		{"NTLM is ambient", spec{headers: []string{"Authorization: NTLM abc", "Sec-Fetch-Site: cross-site"}}, 403, "cross-origin"},
		{"two Authorization headers", spec{headers: []string{"Authorization: Bearer a", "Authorization: Bearer b", "Sec-Fetch-Site: cross-site"}}, 403, "cross-origin"},
		{"empty Authorization", spec{headers: []string{"Authorization: ", "Sec-Fetch-Site: cross-site"}}, 403, "cross-origin"},
		{"basic auth, same-origin, no cookie: token exempt", spec{headers: []string{"Authorization: Basic YTpi", "Sec-Fetch-Site: same-origin"}}, 200, ""},
		{"no cookie, no auth, cross-site", spec{headers: []string{"Sec-Fetch-Site: cross-site"}}, 403, "cross-origin"},
		{"no cookie, same-origin, no token", spec{headers: []string{"Sec-Fetch-Site: same-origin"}}, 200, ""},
		{"Require route: no cookie, no token", spec{path: "/login", form: "user=alice", headers: []string{"Sec-Fetch-Site: same-origin"}}, 403, "missing"},
		{"Require route: bearer, no cookie, no token", spec{path: "/login", form: "user=alice", headers: []string{"Authorization: Bearer abc"}}, 403, "missing"},
		{"Require route: cross-site login", spec{path: "/login", cookie: "__Host-csrf=" + mint(t, p, ""), form: "user=alice&csrf_token=" + mint(t, p, ""), headers: []string{"Sec-Fetch-Site: cross-site"}}, 403, "cross-origin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, ts, tc.s)
			if res.status != tc.wantStatus || res.reason != tc.wantReason {
				t.Fatalf("status %d reason %q, want %d %q (body %q)", res.status, res.reason, tc.wantStatus, tc.wantReason, res.body)
			}
		})
	}
}

// TestTokenCheck attacks layer (b) through a real server. Sec-Fetch-Site
// is same-origin throughout, so layer (a) passes.
func TestTokenCheck(t *testing.T) {
	p := newProtector(t, func(o *csrf.Options) { o.Deny = reasonDeny })
	ts := newServer(t, p)
	s1 := mint(t, p, "s1")
	s1b := mint(t, p, "s1")
	s2 := mint(t, p, "s2")
	anon := mint(t, p, "")
	otherKey := mint(t, newProtector(t, func(o *csrf.Options) { o.Key = otherKey }), "s1")
	rnd, mac, _ := strings.Cut(s1, ".")
	tamperedMAC := rnd + "." + flipChar(mac, 10)
	tamperedRand := flipChar(rnd, 10) + "." + mac
	same := "Sec-Fetch-Site: same-origin"
	ck := func(session, tok string) string { return "session=" + session + "; __Host-csrf=" + tok }
	tests := []struct {
		name       string
		s          spec
		wantStatus int
		wantReason string
	}{
		{"valid header", spec{cookie: ck("s1", s1), headers: []string{same, "X-CSRF-Token: " + s1}}, 200, ""},
		{"valid form field", spec{cookie: ck("s1", s1), form: "amount=42&csrf_token=" + s1, headers: []string{same}}, 200, ""},
		{"valid form, charset parameter", spec{cookie: ck("s1", s1), body: "amount=42&csrf_token=" + s1, headers: []string{same, "Content-Type: Application/X-WWW-Form-Urlencoded; charset=utf-8"}}, 200, ""},
		{"valid, anonymous", spec{cookie: "__Host-csrf=" + anon, headers: []string{same, "X-CSRF-Token: " + anon}}, 200, ""},
		{"header wins over form", spec{cookie: ck("s1", s1), form: "csrf_token=garbage", headers: []string{same, "X-CSRF-Token: " + s1}}, 200, ""},
		{"missing cookie", spec{cookie: "session=s1", headers: []string{same, "X-CSRF-Token: " + s1}}, 403, "missing"},
		{"cookie under another name", spec{cookie: "session=s1; csrf=" + s1, headers: []string{same, "X-CSRF-Token: " + s1}}, 403, "missing"},
		{"missing field", spec{cookie: ck("s1", s1), form: "amount=42", headers: []string{same}}, 403, "missing"},
		{"missing header, JSON body", spec{cookie: ck("s1", s1), body: `{"csrf_token":"` + s1 + `"}`, headers: []string{same, "Content-Type: application/json"}}, 403, "missing"},
		{"empty header", spec{cookie: ck("s1", s1), headers: []string{same, "X-CSRF-Token: "}}, 403, "missing"},
		{"empty field", spec{cookie: ck("s1", s1), form: "csrf_token=", headers: []string{same}}, 403, "missing"},
		{"token only in URL query", spec{path: "/api/x?csrf_token=" + s1, cookie: ck("s1", s1), form: "amount=1", headers: []string{same}}, 403, "missing"},
		{"multipart form is not read", spec{cookie: ck("s1", s1), body: "--b\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n" + s1 + "\r\n--b--\r\n", headers: []string{same, "Content-Type: multipart/form-data; boundary=b"}}, 403, "missing"},
		{"cookie differs from field", spec{cookie: ck("s1", s1), form: "csrf_token=" + s1b, headers: []string{same}}, 403, "bad"},
		{"cookie differs from header", spec{cookie: ck("s1", s1b), headers: []string{same, "X-CSRF-Token: " + s1}}, 403, "bad"},
		{"cookie garbage, header valid", spec{cookie: ck("s1", "garbage"), headers: []string{same, "X-CSRF-Token: " + s1}}, 403, "bad"},
		{"token for another session", spec{cookie: ck("s1", s2), headers: []string{same, "X-CSRF-Token: " + s2}}, 403, "bad"},
		{"anonymous token after login", spec{cookie: ck("s1", anon), headers: []string{same, "X-CSRF-Token: " + anon}}, 403, "bad"},
		{"session token without session", spec{cookie: "__Host-csrf=" + s1, headers: []string{same, "X-CSRF-Token: " + s1}}, 403, "bad"},
		{"tampered MAC", spec{cookie: ck("s1", tamperedMAC), headers: []string{same, "X-CSRF-Token: " + tamperedMAC}}, 403, "bad"},
		{"tampered random", spec{cookie: ck("s1", tamperedRand), headers: []string{same, "X-CSRF-Token: " + tamperedRand}}, 403, "bad"},
		{"other key", spec{cookie: ck("s1", otherKey), headers: []string{same, "X-CSRF-Token: " + otherKey}}, 403, "bad"},
		{"overlong", spec{cookie: ck("s1", s1+"AAAA"), headers: []string{same, "X-CSRF-Token: " + s1 + "AAAA"}}, 403, "bad"},
		{"very long", spec{cookie: ck("s1", s1), headers: []string{same, "X-CSRF-Token: " + strings.Repeat("A", 4000)}}, 403, "bad"},
		{"garbage", spec{cookie: ck("s1", "garbage"), headers: []string{same, "X-CSRF-Token: garbage"}}, 403, "bad"},
		{"non-base64 of the right length", spec{cookie: ck("s1", strings.Repeat("*", 87)), headers: []string{same, "X-CSRF-Token: " + strings.Repeat("*", 87)}}, 403, "bad"},
		{"standard base64 alphabet", spec{cookie: ck("s1", s1), headers: []string{same, "X-CSRF-Token: " + toStd(s1)}}, 403, "bad"},
		{"padded", spec{cookie: ck("s1", s1+"="), headers: []string{same, "X-CSRF-Token: " + s1 + "="}}, 403, "bad"},
		{"two headers", spec{cookie: ck("s1", s1), headers: []string{same, "X-CSRF-Token: " + s1, "X-CSRF-Token: " + s1}}, 403, "bad"},
		{"two fields", spec{cookie: ck("s1", s1), form: "csrf_token=" + s1 + "&csrf_token=" + s1, headers: []string{same}}, 403, "bad"},
		{"tossed cookie beside ours", spec{cookie: "session=s1; __Host-csrf=" + anon + "; __Host-csrf=" + s1, headers: []string{same, "X-CSRF-Token: " + s1}}, 200, ""},
		{"tossed cookie alone", spec{cookie: ck("s1", anon), headers: []string{same, "X-CSRF-Token: " + s1}}, 403, "bad"},
		// An unreadable form is the client's error, not a forgery.
		{"malformed form body", spec{cookie: ck("s1", s1), form: "amount=%zz&csrf_token=" + s1, headers: []string{same}}, 400, "bad-form"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, ts, tc.s)
			if res.status != tc.wantStatus || res.reason != tc.wantReason {
				t.Fatalf("status %d reason %q, want %d %q (body %q)", res.status, res.reason, tc.wantStatus, tc.wantReason, res.body)
			}
			for _, tok := range []string{s1, s1b, s2, anon, otherKey} {
				if res.status != 200 && strings.Contains(res.body, tok) {
					t.Fatal("the refusal echoes a token")
				}
			}
		})
	}
}

func flipChar(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// toStd respells a base64url token in the standard alphabet, or changes
// one character to '+' if it has no - or _.
func toStd(s string) string {
	t := strings.NewReplacer("-", "+", "_", "/").Replace(s)
	if t == s {
		t = "+" + s[1:]
	}
	return t
}

// TestFormStaysReadable checks that the handler sees the form the
// middleware parsed.
func TestFormStaysReadable(t *testing.T) {
	p := newProtector(t)
	ts := newServer(t, p)
	s1 := mint(t, p, "s1")
	res := do(t, ts, spec{cookie: "session=s1; __Host-csrf=" + s1, form: "amount=42&csrf_token=" + s1 + "&note=x"})
	if res.status != 200 || res.body != "ok amount=42 form=42" {
		t.Fatalf("got %d %q, want 200 \"ok amount=42 form=42\"", res.status, res.body)
	}
}

func TestOversizedForm(t *testing.T) {
	p := newProtector(t, func(o *csrf.Options) { o.Deny = reasonDeny; o.MaxFormBytes = 1024 })
	ts := newServer(t, p)
	s1 := mint(t, p, "s1")
	ck := "session=s1; __Host-csrf=" + s1
	big := "pad=" + strings.Repeat("x", 2000) + "&csrf_token=" + s1
	tests := []struct {
		name       string
		s          spec
		wantStatus int
		wantReason string
	}{
		{"oversized form, token in it", spec{cookie: ck, form: big}, 413, "too-large"},
		{"oversized form, HTML", spec{cookie: ck, form: big, headers: []string{"Accept: text/html"}}, 413, "too-large"},
		{"oversized form, JSON", spec{cookie: ck, form: big, headers: []string{"Accept: application/json"}}, 413, "too-large"},
		{"just under the cap", spec{cookie: ck, form: "csrf_token=" + s1 + "&pad=" + strings.Repeat("x", 1024-len("csrf_token=&pad=")-len(s1))}, 200, ""},
		// With the header the middleware does not read the body; the
		// handler's own ParseForm (10 MB limit) reads it.
		{"oversized form, header token", spec{cookie: ck, form: big, headers: []string{"X-CSRF-Token: " + s1}}, 200, ""},
		{"oversized JSON is not read", spec{cookie: ck, body: `{"pad":"` + strings.Repeat("x", 5000) + `"}`, headers: []string{"Content-Type: application/json", "X-CSRF-Token: " + s1}}, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, ts, tc.s)
			if res.status != tc.wantStatus || res.reason != tc.wantReason {
				t.Fatalf("status %d reason %q, want %d %q (body %q)", res.status, res.reason, tc.wantStatus, tc.wantReason, res.body)
			}
		})
	}
}

func TestRefusalFormats(t *testing.T) {
	p := newProtector(t)
	ts := newServer(t, p)
	s1 := mint(t, p, "s1")
	s2 := mint(t, p, "s2")
	const xss = "<script>alert(1)</script>"
	ck := "session=s1; __Host-csrf=" + s2
	tests := []struct {
		name     string
		s        spec
		wantType string
	}{
		{"JSON client", spec{cookie: ck, headers: []string{"Accept: application/json", "X-CSRF-Token: " + s2}}, "application/problem+json"},
		{"problem+json client", spec{cookie: ck, headers: []string{"Accept: application/problem+json", "X-CSRF-Token: " + s2}}, "application/problem+json"},
		{"no Accept", spec{cookie: ck, headers: []string{"X-CSRF-Token: " + s2}}, "application/problem+json"},
		{"Accept */*", spec{cookie: ck, headers: []string{"Accept: */*", "X-CSRF-Token: " + s2}}, "application/problem+json"},
		{"JSON preferred to HTML", spec{cookie: ck, headers: []string{"Accept: text/html;q=0.5, application/json", "X-CSRF-Token: " + s2}}, "application/problem+json"},
		{"tie goes to JSON", spec{cookie: ck, headers: []string{"Accept: text/html, application/json", "X-CSRF-Token: " + s2}}, "application/problem+json"},
		{"bad q ignored", spec{cookie: ck, headers: []string{"Accept: text/html;q=NaN, application/json;q=0.1", "X-CSRF-Token: " + s2}}, "application/problem+json"},
		{"browser navigation", spec{cookie: ck, headers: []string{"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "X-CSRF-Token: " + s2}}, "text/html; charset=utf-8"},
		{"form post without Accept", spec{cookie: ck, form: "csrf_token=" + s2}, "text/html; charset=utf-8"},
		{"cross-site form post", spec{cookie: "session=s1; __Host-csrf=" + s1, form: "csrf_token=" + s1, headers: []string{"Sec-Fetch-Site: cross-site", "Accept: text/html"}}, "text/html; charset=utf-8"},
		{"cross-site JSON", spec{cookie: "session=s1; __Host-csrf=" + s1, headers: []string{"X-CSRF-Token: " + s1, "Sec-Fetch-Site: cross-site"}}, "application/problem+json"},
		{"HTML with hostile input", spec{path: "/api/" + url.PathEscape(xss) + "?q=" + url.QueryEscape(xss), cookie: ck + "; x=" + url.QueryEscape(xss), form: "csrf_token=" + url.QueryEscape(xss), headers: []string{"Accept: text/html", "Referer: https://evil.example/" + xss}}, "text/html; charset=utf-8"},
		{"JSON with hostile input", spec{path: "/api/" + url.PathEscape(xss), cookie: ck, headers: []string{"X-CSRF-Token: " + xss}}, "application/problem+json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, ts, tc.s)
			if res.status != http.StatusForbidden {
				t.Fatalf("status %d, want 403 (body %q)", res.status, res.body)
			}
			if ct := res.header.Get("Content-Type"); ct != tc.wantType {
				t.Fatalf("Content-Type %q, want %q", ct, tc.wantType)
			}
			for _, bad := range []string{s1, s2, "script", "evil"} {
				if strings.Contains(res.body, bad) {
					t.Fatalf("body reflects %q: %q", bad, res.body)
				}
			}
			if res.header.Get("X-Content-Type-Options") != "nosniff" || res.header.Get("Cache-Control") != "no-store" {
				t.Errorf("missing nosniff/no-store: %v", res.header)
			}
			switch tc.wantType {
			case "application/problem+json":
				var doc struct {
					Title  string `json:"title"`
					Status int    `json:"status"`
					Detail string `json:"detail"`
				}
				if err := json.Unmarshal([]byte(res.body), &doc); err != nil {
					t.Fatalf("problem body %q: %v", res.body, err)
				}
				if doc.Status != 403 || doc.Title != "Forbidden" || !strings.HasPrefix(doc.Detail, "CSRF check failed: ") {
					t.Errorf("problem = %+v", doc)
				}
			default:
				if !strings.Contains(res.body, "<title>403 Forbidden</title>") || len(res.body) > 1024 {
					t.Errorf("HTML body %q", res.body)
				}
				if res.header.Get("Content-Security-Policy") != "default-src 'none'" {
					t.Errorf("no CSP on the HTML page")
				}
			}
		})
	}
}

// TestCheckErrors calls Check directly and tells the errors apart.
func TestCheckErrors(t *testing.T) {
	p := newProtector(t)
	s1 := mint(t, p, "s1")
	s1b := mint(t, p, "s1")
	sentinels := []error{csrf.ErrCrossOrigin, csrf.ErrMissingToken, csrf.ErrBadToken, csrf.ErrFormTooLarge, csrf.ErrBadForm}
	req := func(method, cookie, token string, h ...string) *http.Request {
		r := httptest.NewRequest(method, "https://app.example/api/x", nil)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		if token != "" {
			r.Header.Set("X-CSRF-Token", token)
		}
		for i := 0; i+1 < len(h); i += 2 {
			r.Header.Set(h[i], h[i+1])
		}
		return r
	}
	form := func(cookie, body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "https://app.example/api/x", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Cookie", cookie)
		return r
	}
	tests := []struct {
		name     string
		r        *http.Request
		required bool
		want     error
	}{
		{"valid", req("POST", "__Host-csrf="+s1, s1), false, nil},
		{"valid form", form("__Host-csrf="+s1, "csrf_token="+s1), false, nil},
		{"GET", req("GET", "", "", "Sec-Fetch-Site", "cross-site"), true, nil},
		{"cross-site", req("POST", "__Host-csrf="+s1, s1, "Sec-Fetch-Site", "cross-site"), false, csrf.ErrCrossOrigin},
		{"Origin mismatch", req("POST", "__Host-csrf="+s1, s1, "Origin", "https://evil.example"), false, csrf.ErrCrossOrigin},
		{"no cookie header", req("POST", "", ""), false, nil},
		{"no cookie header, required", req("POST", "", ""), true, csrf.ErrMissingToken},
		{"no csrf cookie", req("POST", "a=b", s1), false, csrf.ErrMissingToken},
		{"no token", req("POST", "__Host-csrf="+s1, ""), false, csrf.ErrMissingToken},
		{"mismatch", req("POST", "__Host-csrf="+s1, s1b), false, csrf.ErrBadToken},
		{"malformed", req("POST", "__Host-csrf=x", "x"), false, csrf.ErrBadToken},
		{"too large", form("__Host-csrf="+s1, "csrf_token="+s1+"&pad="+strings.Repeat("x", csrf.DefaultMaxFormBytes)), false, csrf.ErrFormTooLarge},
		{"unreadable form", form("__Host-csrf="+s1, "csrf_token="+s1+"&a=%zz"), false, csrf.ErrBadForm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check := p.Check
			if tc.required {
				check = p.CheckRequired
			}
			err := check(tc.r, "s1")
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			for _, s := range sentinels {
				if errors.Is(err, s) != (s == tc.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, s, !(s == tc.want))
				}
			}
			for _, part := range append(strings.Split(s1, "."), strings.Split(s1b, ".")...) {
				if strings.Contains(err.Error(), part) {
					t.Fatalf("error text %q contains token material", err)
				}
			}
		})
	}
}

func TestCustomDenyGetsReason(t *testing.T) {
	var got error
	p := newProtector(t, func(o *csrf.Options) {
		o.Deny = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = csrf.Reason(r.Context())
			w.WriteHeader(http.StatusTeapot)
		})
	})
	h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("handler ran for a refused request")
	}), nil)
	r := httptest.NewRequest(http.MethodPost, "https://app.example/x", nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusTeapot || !errors.Is(got, csrf.ErrCrossOrigin) {
		t.Fatalf("code %d reason %v", w.Code, got)
	}
	if csrf.Reason(r.Context()) != nil {
		t.Fatal("Reason of a context without one is not nil")
	}
}

// TestLoginFlow runs the whole login-CSRF defence with a cookie jar, as a
// browser would: the anonymous token logs in, and stops working after.
func TestLoginFlow(t *testing.T) {
	p := newProtector(t, func(o *csrf.Options) { o.Deny = reasonDeny })
	ts := newServer(t, p)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := ts.Client()
	c.Jar = jar
	send := func(method, path, body string, h ...string) (int, string, string) {
		t.Helper()
		r, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		for i := 0; i+1 < len(h); i += 2 {
			r.Header.Set(h[i], h[i+1])
		}
		resp, err := c.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("X-Test-Reason"), string(b)
	}
	code, _, anon := send("GET", "/login", "")
	if code != 200 || !p.Valid("", anon) {
		t.Fatalf("GET /login: %d %q", code, anon)
	}
	if code, _, again := send("GET", "/login", ""); code != 200 || again != anon {
		t.Fatalf("second GET /login minted a new token (%d); Ensure should reuse the cookie", code)
	}
	steps := []struct {
		name       string
		method     string
		path, body string
		h          []string
		wantStatus int
		wantReason string
	}{
		{"login without token", "POST", "/login", "user=alice", nil, 403, "missing"},
		{"login with wrong token", "POST", "/login", "user=alice&csrf_token=" + mint(t, p, ""), nil, 403, "bad"},
		{"cross-site login with token", "POST", "/login", "user=alice&csrf_token=" + anon, []string{"Sec-Fetch-Site", "cross-site"}, 403, "cross-origin"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			code, reason, _ := send(st.method, st.path, st.body, st.h...)
			if code != st.wantStatus || reason != st.wantReason {
				t.Fatalf("%d %q, want %d %q", code, reason, st.wantStatus, st.wantReason)
			}
		})
	}
	code, _, fresh := send("POST", "/login", "user=alice&csrf_token="+anon)
	if code != 200 || !p.Valid("s-new", fresh) || fresh == anon {
		t.Fatalf("login: %d %q", code, fresh)
	}
	after := []struct {
		name       string
		h          []string
		wantStatus int
		wantReason string
	}{
		{"anonymous token after login", []string{"X-CSRF-Token", anon}, 403, "bad"},
		{"renewed token", []string{"X-CSRF-Token", fresh}, 200, ""},
		{"renewed token, cross-site", []string{"X-CSRF-Token", fresh, "Sec-Fetch-Site", "cross-site"}, 403, "cross-origin"},
		{"no token", nil, 403, "missing"},
	}
	for _, st := range after {
		t.Run(st.name, func(t *testing.T) {
			code, reason, _ := send("POST", "/api/transfer", "", st.h...)
			if code != st.wantStatus || reason != st.wantReason {
				t.Fatalf("%d %q, want %d %q", code, reason, st.wantStatus, st.wantReason)
			}
		})
	}
	// The anonymous cookie put back beside the anonymous token does not
	// help either: the MAC binds it to "".
	u, _ := url.Parse(ts.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: csrf.CookieName, Value: anon, Path: "/", Secure: true}})
	if code, reason, _ := send("POST", "/api/transfer", "", "X-CSRF-Token", anon); code != 403 || reason != "bad" {
		t.Fatalf("anonymous cookie and token after login: %d %q", code, reason)
	}
}
