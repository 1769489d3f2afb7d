package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/server/httpapi"
)

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

var nextField = regexp.MustCompile(`<input type="hidden" name="next" value="([^"]*)">`)

// TestLoginReturnsToTheRequestedPage: a signed-out browser asking for an
// item page is sent to /login?next=<the page>; the form carries it; signing
// in returns there; a browser already signed in goes there at once.
func TestLoginReturnsToTheRequestedPage(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	tr := e.login("alice", alicePass)
	resp, raw := e.call("POST", "/items/", "application/json", `{"name":"Hammer","price":12.5}`, bearer(tr.AccessToken))
	var it struct{ ID string }
	if resp.StatusCode != 201 || json.Unmarshal(raw, &it) != nil {
		t.Fatalf("create: %d %s", resp.StatusCode, raw)
	}
	page := "/items/" + it.ID + "/view"

	b := &browser{e: e, cookies: map[string]string{}}
	accept := map[string]string{"Accept": browserAccept}
	resp, _ = b.do("GET", page, "", "", accept)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || loc != "/login?next="+url.QueryEscape(page) {
		t.Fatalf("signed out: %d Location %q", resp.StatusCode, loc)
	}
	resp, form := b.do("GET", loc, "", "", accept)
	m := nextField.FindStringSubmatch(form)
	if resp.StatusCode != 200 || m == nil || m[1] != page {
		t.Fatalf("GET %s: %d, next field %v\n%.600s", loc, resp.StatusCode, m, form)
	}
	tok := strings.ReplaceAll(csrfField.FindStringSubmatch(form)[1], "&#43;", "+")
	// A wrong password keeps next in the form.
	f := url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {"wrong password!"}, httpapi.NextParam: {page}}
	resp, form = b.do("POST", "/login", "application/x-www-form-urlencoded", f.Encode(), accept)
	if m := nextField.FindStringSubmatch(form); resp.StatusCode != 400 || m == nil || m[1] != page {
		t.Fatalf("wrong password: %d, next field %v", resp.StatusCode, m)
	}
	f.Set("password", alicePass)
	resp, _ = b.do("POST", "/login", "application/x-www-form-urlencoded", f.Encode(), accept)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != page {
		t.Fatalf("login: %d Location %q, want %q", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	if resp, body := b.do("GET", page, "", "", accept); resp.StatusCode != 200 || !strings.Contains(body, "Hammer") {
		t.Fatalf("the page after signing in: %d", resp.StatusCode)
	}
	// Signed in: /login?next= goes straight there; a hostile next shows the items.
	if resp, _ := b.do("GET", "/login?next="+url.QueryEscape(page), "", "", accept); resp.StatusCode != 303 || resp.Header.Get("Location") != page {
		t.Errorf("signed in, GET /login?next=: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := b.do("GET", "/login?next="+url.QueryEscape("//evil.example"), "", "", accept); resp.StatusCode != 200 || !strings.Contains(body, `id="items"`) {
		t.Errorf("signed in, hostile next: %d", resp.StatusCode)
	}
	// The form's action for a form post (not GET) is never a return target.
	b2 := &browser{e: e, cookies: map[string]string{}}
	if resp, _ := b2.do("POST", "/logout", "application/x-www-form-urlencoded", "", accept); resp.StatusCode == 303 && strings.Contains(resp.Header.Get("Location"), "next=") {
		t.Errorf("a POST is sent back to: %q", resp.Header.Get("Location"))
	}
}

// hostileNext are return-to values that must never leave the server.
var hostileNext = []string{
	"//evil.example", "/\\evil.example", "\\\\evil.example", "https://evil.example/", "http:evil.example",
	"javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "%2F%2Fevil.example", "/%2F/evil.example",
	"/%5Cevil.example", "/%09/evil.example", "/\t/evil.example", "\n//evil.example", "/\r\n/evil.example",
	"／／evil.example", "/\u2215evil.example", "///evil.example", "evil.example",
	"/" + strings.Repeat("x", 5000), `/"><script>alert(1)</script>`, "/login?next=//evil.example",
}

// TestLoginRefusesOpenRedirects: a hostile next never reaches the form
// (GET) nor the Location of a successful sign-in (POST), which goes to the
// default page instead.
func TestLoginRefusesOpenRedirects(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	b := &browser{e: e, cookies: map[string]string{}}
	for _, next := range hostileNext {
		resp, page := b.do("GET", "/login?next="+url.QueryEscape(next), "", "", map[string]string{"Accept": browserAccept})
		if resp.StatusCode != 200 || nextField.MatchString(page) || strings.Contains(page, "evil.example") || strings.Contains(page, "<script>alert") {
			t.Errorf("GET /login?next=%q: %d, next field %v", next, resp.StatusCode, nextField.FindStringSubmatch(page))
		}
	}
	// A full sign-in with a few of them (each costs a password hash).
	for _, next := range []string{"//evil.example", "/\\evil.example", "https://evil.example/", "/%2F/evil.example", "javascript:alert(1)"} {
		b := &browser{e: e, cookies: map[string]string{}}
		tok := b.loginForm()
		f := url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {alicePass}, httpapi.NextParam: {next}}
		resp, _ := b.do("POST", "/login", "application/x-www-form-urlencoded", f.Encode(), nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("POST /login next=%q: %d Location %q, want /login", next, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// next given twice is refused like any repeated field.
	tok := b.loginForm()
	body := url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {alicePass}}.Encode() + "&next=%2Fa&next=%2F%2Fevil.example"
	if resp, _ := b.do("POST", "/login", "application/x-www-form-urlencoded", body, nil); resp.StatusCode != 400 {
		t.Errorf("next twice: %d, want 400", resp.StatusCode)
	}
}

var csp = regexp.MustCompile(`'nonce-([^']+)'`)

// TestHTMLErrorPages: a browser (Accept prefers text/html) gets an HTML
// page with the same status for what API clients get as problem+json;
// API clients keep problem+json, whatever else their Accept names.
func TestHTMLErrorPages(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	tr := e.login("alice", alicePass)
	for _, tt := range []struct {
		name, method, path, accept string
		extra                      map[string]string
		status                     int
		html                       bool
	}{
		{"browser, missing page", "GET", "/no/such/page", browserAccept, nil, 404, true},
		{"browser, text/html only", "GET", "/nope", "text/html", nil, 404, true},
		{"browser, XHTML", "GET", "/nope", "application/xhtml+xml", nil, 404, true},
		{"browser, method not allowed", "DELETE", "/login", browserAccept, nil, 405, true},
		{"browser, HEAD", "HEAD", "/nope", browserAccept, nil, 404, true},
		{"browser on an API operation without a token", "GET", "/items/", browserAccept, nil, 401, true},
		{"browser, another user's item", "GET", "/items/01a221f9-4e41-749c-b6ef-e3048ba0750f", browserAccept, bearer(tr.AccessToken), 404, true},
		{"browser, invalid id", "GET", "/items/%3Cscript%3Ealert(1)%3C%2Fscript%3E", browserAccept, bearer(tr.AccessToken), 422, true},
		{"API client, no Accept", "GET", "/nope", "", nil, 404, false},
		{"API client, */*", "GET", "/nope", "*/*", nil, 404, false},
		{"API client, JSON", "GET", "/nope", "application/json", nil, 404, false},
		{"API client, problem+json", "GET", "/nope", "application/problem+json", nil, 404, false},
		{"tie goes to JSON", "GET", "/nope", "text/html, application/json", nil, 404, false},
		{"JSON preferred", "GET", "/nope", "text/html;q=0.5, application/json", nil, 404, false},
		{"invalid q dropped", "GET", "/nope", "text/html;q=2, application/json;q=0.1", nil, 404, false},
		{"text/* is no HTML", "GET", "/nope", "text/*", nil, 404, false},
		{"API client, 405", "DELETE", "/login", "application/json", nil, 405, false},
		{"API client, 401", "GET", "/items/", "", nil, 401, false},
		{"browser, success untouched", "GET", "/healthz", browserAccept, nil, 200, false},
		{"token errors stay RFC 6749", "POST", "/token", browserAccept, map[string]string{"body": "grant_type=password&username=nobody&password=wrong+password"}, 400, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.accept != "" {
				hdr["Accept"] = tt.accept
			}
			body := ""
			for k, v := range tt.extra {
				if k == "body" {
					body = v
					continue
				}
				hdr[k] = v
			}
			ctype := ""
			if tt.method == "POST" {
				ctype = "application/x-www-form-urlencoded"
			}
			resp, raw := e.callNoRedirect(tt.method, tt.path, ctype, body, hdr)
			body = string(raw)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tt.status, body)
			}
			ct := resp.Header.Get("Content-Type")
			if !tt.html {
				if strings.HasPrefix(ct, "text/html") {
					t.Errorf("an API client got HTML: %q", ct)
				}
				if tt.status >= 400 && tt.path != "/token" && ct != "application/problem+json" {
					t.Errorf("Content-Type %q, want application/problem+json", ct)
				}
				if tt.path == "/token" && !strings.Contains(body, `"error":"invalid_grant"`) {
					t.Errorf("token error %q", body)
				}
				return
			}
			if ct != "text/html; charset=utf-8" {
				t.Fatalf("Content-Type %q, want HTML", ct)
			}
			for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s %q, want %q", k, got, want)
				}
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
			if tt.status == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			policy := resp.Header.Get("Content-Security-Policy")
			if !strings.Contains(policy, "object-src 'none'") || !strings.Contains(policy, "frame-ancestors 'none'") {
				t.Errorf("CSP %q", policy)
			}
			if tt.method == "HEAD" {
				if body != "" {
					t.Errorf("HEAD with a body: %q", body)
				}
				return
			}
			m, n := styleNonce.FindStringSubmatch(body), csp.FindStringSubmatch(policy)
			if m == nil || n == nil || strings.ReplaceAll(m[1], "&#43;", "+") != n[1] {
				t.Errorf("the page's style nonce %v does not match the CSP %q", m, policy)
			}
			title := http.StatusText(tt.status)
			if !strings.Contains(body, "<h1 id=\"error-title\">") || !strings.Contains(body, title) || !strings.Contains(body, `href="/docs"`) ||
				!strings.Contains(body, resp.Header.Get("X-Request-Id")) {
				t.Errorf("page lacks its title, the /docs link or the request id:\n%s", body)
			}
			if strings.Contains(body, "<script") || strings.Contains(body, "style=") {
				t.Errorf("script or inline style in the page:\n%s", body)
			}
		})
	}
}
