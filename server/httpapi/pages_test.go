package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/csrf"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/server/httpapi"
)

var (
	csrfField  = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	styleNonce = regexp.MustCompile(`<style nonce="([^"]+)">`)
)

// browser keeps the cookies a browser would, for one origin.
type browser struct {
	e       *authEnv
	cookies map[string]string
}

func (b *browser) do(method, path, ctype, body string, extra map[string]string) (*http.Response, string) {
	b.e.t.Helper()
	hdr := map[string]string{"Sec-Fetch-Site": "same-origin"}
	var parts []string
	for k, v := range b.cookies {
		parts = append(parts, k+"="+v)
	}
	if len(parts) > 0 {
		hdr["Cookie"] = strings.Join(parts, "; ")
	}
	for k, v := range extra {
		hdr[k] = v
	}
	resp, raw := b.e.callNoRedirect(method, path, ctype, body, hdr)
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return resp, string(raw)
}

// loginForm loads the form and returns its CSRF token.
func (b *browser) loginForm() string {
	b.e.t.Helper()
	resp, page := b.do("GET", "/login", "", "", nil)
	m := csrfField.FindStringSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		b.e.t.Fatalf("GET /login: %d %.300s", resp.StatusCode, page)
	}
	return strings.ReplaceAll(m[1], "&#43;", "+")
}

func (b *browser) submit(token, user, pw string) (*http.Response, string) {
	b.e.t.Helper()
	form := url.Values{"csrf_token": {token}, "username": {user}, "password": {pw}}
	return b.do("POST", "/login", "application/x-www-form-urlencoded", form.Encode(), nil)
}

func TestHTMLLogin(t *testing.T) {
	e := newAuthEnv(t)
	b := &browser{e: e, cookies: map[string]string{}}
	// An attacker-chosen session cookie is never adopted (fixation).
	b.cookies[fortapi.DefaultSessionCookie] = strings.Repeat("A", 43)
	tok := b.loginForm()
	anonCSRF := b.cookies[csrf.CookieName]
	if anonCSRF == "" {
		t.Fatal("GET /login set no CSRF cookie")
	}

	resp, page := b.submit(tok, "alice", "wrong password!")
	if resp.StatusCode != 400 || !strings.Contains(page, "Invalid username or password.") || b.cookies[fortapi.DefaultSessionCookie] != strings.Repeat("A", 43) {
		t.Fatalf("wrong password: %d %.300s", resp.StatusCode, page)
	}
	_, unknown := b.submit(tok, "nobody-at-all", "wrong password!")
	strip := func(s string) string {
		s = styleNonce.ReplaceAllString(s, "")
		s = csrfField.ReplaceAllString(s, "")
		return strings.ReplaceAll(s, "nobody-at-all", "alice")
	}
	if strip(unknown) != strip(page) {
		t.Error("an unknown username gets another page than a wrong password")
	}

	resp, _ = b.submit(tok, "alice", alicePass)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("login: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == fortapi.DefaultSessionCookie {
			session = c
		}
	}
	if session == nil || !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.Domain != "" {
		t.Fatalf("session cookie %+v", session)
	}
	if session.Value == strings.Repeat("A", 43) || len(session.Value) != 43 {
		t.Fatalf("session cookie value %q", session.Value)
	}
	if b.cookies[csrf.CookieName] == anonCSRF {
		t.Error("the CSRF token was not renewed at login")
	}
	// The anonymous token does not work for the new session.
	if resp, _ := b.do("POST", "/items/", "application/json", `{"name":"x","price":1}`,
		map[string]string{csrf.HeaderName: anonCSRF, "Cookie": fortapi.DefaultSessionCookie + "=" + session.Value + "; " + csrf.CookieName + "=" + anonCSRF}); resp.StatusCode != 403 {
		t.Errorf("the pre-login CSRF token after login: %d, want 403", resp.StatusCode)
	}

	// Signed in: the page names the user; the JSON API takes the session.
	_, page = b.do("GET", "/login", "", "", nil)
	if !strings.Contains(page, `id="user">alice<`) {
		t.Errorf("signed-in page: %.400s", page)
	}
	resp, raw := b.do("GET", "/users/me", "", "", nil)
	var p httpapi.Profile
	if resp.StatusCode != 200 || json.Unmarshal([]byte(raw), &p) != nil || p.Username != "alice" {
		t.Fatalf("/users/me with the session: %d %s", resp.StatusCode, raw)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("a session answer is cacheable: %q", cc)
	}
	// Unsafe JSON calls need the token: without it 403, with it 201.
	if resp, _ := b.do("POST", "/items/", "application/json", `{"name":"x","price":1}`, nil); resp.StatusCode != 403 {
		t.Errorf("POST without the CSRF header: %d, want 403", resp.StatusCode)
	}
	_, raw = b.do("GET", "/csrftoken/", "", "", nil)
	var ct struct {
		CSRFToken string `json:"csrf_token"`
	}
	if json.Unmarshal([]byte(raw), &ct) != nil || ct.CSRFToken == "" {
		t.Fatalf("/csrftoken/: %s", raw)
	}
	resp, raw = b.do("POST", "/items/", "application/json", `{"name":"<b>Hammer</b>","description":"<p onclick=\"x()\">solid <script>alert(1)</script><a href=\"javascript:alert(1)\">link</a></p>","price":1}`,
		map[string]string{csrf.HeaderName: ct.CSRFToken})
	if resp.StatusCode != 201 {
		t.Fatalf("POST with the CSRF header: %d %s", resp.StatusCode, raw)
	}
	var it httpapi.Item
	_ = json.Unmarshal([]byte(raw), &it)
	if it.Name != "<b>Hammer</b>" || it.Description != "<p>solid link</p>" { // plain text as sent, rich sanitized
		t.Errorf("stored %q / %q", it.Name, it.Description)
	}
	// A cross-site request is refused even with a valid token.
	if resp, _ := b.do("POST", "/items/", "application/json", `{"name":"x","price":1}`,
		map[string]string{csrf.HeaderName: ct.CSRFToken, "Sec-Fetch-Site": "cross-site"}); resp.StatusCode != 403 {
		t.Errorf("cross-site POST: %d, want 403", resp.StatusCode)
	}

	// The item page: escaped name, sanitized description, nonce CSP, no framing.
	resp, page = b.do("GET", "/items/"+it.ID+"/view", "", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `<h1 id="item-name">&lt;b&gt;Hammer&lt;/b&gt;</h1>`) || !strings.Contains(page, "<p>solid link</p>") {
		t.Fatalf("view: %d %.600s", resp.StatusCode, page)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	m := styleNonce.FindStringSubmatch(page)
	if m == nil || !strings.Contains(csp, "'nonce-"+strings.ReplaceAll(m[1], "&#43;", "+")+"'") ||
		!strings.Contains(csp, "'strict-dynamic'") || !strings.Contains(csp, "object-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("view CSP %q, style nonce %v", csp, m)
	}
	for k, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
		"Cross-Origin-Opener-Policy": "same-origin", "Content-Type": "text/html; charset=utf-8"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("view %s: %q, want %q", k, got, want)
		}
	}
	// Another user's item is 404 on the page too.
	bob := &browser{e: e, cookies: map[string]string{}}
	if _, err := e.svc.CreateUser(t.Context(), "bob", bobPass, "user", "test"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := bob.submit(bob.loginForm(), "bob", bobPass); resp.StatusCode != 303 {
		t.Fatalf("bob's login: %d", resp.StatusCode)
	}
	if resp, _ := bob.do("GET", "/items/"+it.ID+"/view", "", "", nil); resp.StatusCode != 404 {
		t.Errorf("bob views alice's item: %d, want 404", resp.StatusCode)
	}

	// Logging out from the form ends the session everywhere.
	_, page = b.do("GET", "/login", "", "", nil)
	form := url.Values{"csrf_token": {strings.ReplaceAll(csrfField.FindStringSubmatch(page)[1], "&#43;", "+")}}
	resp, _ = b.do("POST", "/logout", "application/x-www-form-urlencoded", form.Encode(), nil)
	if resp.StatusCode != http.StatusSeeOther || b.cookies[fortapi.DefaultSessionCookie] != "" {
		t.Fatalf("logout: %d, session cookie left %q", resp.StatusCode, b.cookies[fortapi.DefaultSessionCookie])
	}
	old := &browser{e: e, cookies: map[string]string{fortapi.DefaultSessionCookie: session.Value}}
	if resp, _ := old.do("GET", "/users/me", "", "", nil); resp.StatusCode != 401 {
		t.Errorf("the logged-out session cookie: %d, want 401", resp.StatusCode)
	}
}

func TestHTMLLoginRefusals(t *testing.T) {
	e := newAuthEnv(t)
	for _, tt := range []struct {
		name   string
		prep   func(b *browser) (token string)
		extra  map[string]string
		form   func(token string) string
		status int
	}{
		{"no token", func(b *browser) string { b.loginForm(); return "" }, nil,
			func(string) string { return "username=alice&password=" + url.QueryEscape(alicePass) }, 403},
		{"no CSRF cookie (login CSRF from a fresh browser)", func(b *browser) string { tok := b.loginForm(); delete(b.cookies, csrf.CookieName); return tok }, nil,
			func(tok string) string {
				return url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {alicePass}}.Encode()
			}, 403},
		{"forged token", func(b *browser) string { b.loginForm(); return strings.Repeat("A", 43) + "." + strings.Repeat("B", 43) }, nil,
			func(tok string) string {
				return url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {alicePass}}.Encode()
			}, 403},
		{"cross-site post with a valid token", func(b *browser) string { return b.loginForm() }, map[string]string{"Sec-Fetch-Site": "cross-site"},
			func(tok string) string {
				return url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {alicePass}}.Encode()
			}, 403},
		{"repeated field", func(b *browser) string { return b.loginForm() }, nil,
			func(tok string) string {
				return url.Values{"csrf_token": {tok}, "username": {"alice", "root"}, "password": {alicePass}}.Encode()
			}, 400},
		{"unknown field", func(b *browser) string { return b.loginForm() }, nil,
			func(tok string) string {
				return url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {alicePass}, "role": {"admin"}}.Encode()
			}, 400},
		{"missing password", func(b *browser) string { return b.loginForm() }, nil,
			func(tok string) string { return url.Values{"csrf_token": {tok}, "username": {"alice"}}.Encode() }, 400},
		{"oversized form without cookies: refused before the body is read", func(b *browser) string { tok := b.loginForm(); clear(b.cookies); return tok }, nil,
			func(tok string) string {
				return url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {strings.Repeat("p", 20000)}}.Encode()
			}, 403},
		{"oversized form (parsed by the CSRF middleware)", func(b *browser) string { return b.loginForm() }, nil,
			func(tok string) string {
				return url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {strings.Repeat("p", 20000)}}.Encode()
			}, 413},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := &browser{e: e, cookies: map[string]string{}}
			tok := tt.prep(b)
			resp, page := b.do("POST", "/login", "application/x-www-form-urlencoded", tt.form(tok), tt.extra)
			if resp.StatusCode != tt.status {
				t.Fatalf("%d, want %d: %.300s", resp.StatusCode, tt.status, page)
			}
			if _, ok := b.cookies[fortapi.DefaultSessionCookie]; ok {
				t.Fatal("a refused login set a session cookie")
			}
			if strings.Contains(page, alicePass) {
				t.Fatal("the answer echoes the password")
			}
		})
	}
}

// TestPagesSendBrowsersToTheLogin: a browser without a session asking for
// an item page is sent to /login; an API client gets 401.
func TestPagesSendBrowsersToTheLogin(t *testing.T) {
	e := newAuthEnv(t)
	path := "/items/01a221f9-4e41-749c-b6ef-e3048ba0750f/view"
	resp, _ := e.callNoRedirect("GET", path, "", "", map[string]string{"Accept": "text/html,*/*;q=0.8"})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next="+url.QueryEscape(path) {
		t.Errorf("browser without a session: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = e.callNoRedirect("GET", path, "", "", map[string]string{"Accept": "text/html",
		"Cookie": fortapi.DefaultSessionCookie + "=" + strings.Repeat("x", 43)})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("browser with an unknown session: %d", resp.StatusCode)
	}
	if resp, _ := e.callNoRedirect("GET", path, "", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API client: %d, want 401", resp.StatusCode)
	}
}

// TestHTMLLoginSharesTheThrottle: the form and POST /token are one login
// path, so failures through either count against the same account: once
// wrong passwords on /token have started the account's delay, even the right password through the form
// must wait (429, Retry-After), and no session cookie is set.
func TestHTMLLoginSharesTheThrottle(t *testing.T) {
	e := newAuthEnv(t)
	for range authn.DefaultFreeFailures + 1 { // the free failures, then one that starts a delay
		resp, _ := e.tokenReq(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong password!"}})
		if resp.StatusCode != 400 {
			t.Fatalf("wrong password on /token: %d", resp.StatusCode)
		}
	}
	b := &browser{e: e, cookies: map[string]string{}}
	resp, page := b.submit(b.loginForm(), "alice", alicePass)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the form during the delay /token started: %d Retry-After %q: %.300s", resp.StatusCode, resp.Header.Get("Retry-After"), page)
	}
	if _, ok := b.cookies[fortapi.DefaultSessionCookie]; ok {
		t.Fatal("a throttled login set a session cookie")
	}
}

// TestHTMLLoginDeviceCookie: a browser that has signed in holds a
// __Host-device cookie, and with it signs in again while an attacker
// hammers the account from elsewhere; a browser without it, or with
// another account's, waits like any unknown client.
func TestHTMLLoginDeviceCookie(t *testing.T) {
	e := newProxiedEnv(t, "5/minute")
	known := &browser{e: e, cookies: map[string]string{}}
	resp, page := known.submit(known.loginForm(), "alice", alicePass)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first sign-in: %d %.300s", resp.StatusCode, page)
	}
	var dev *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == httpapi.DeviceCookie {
			dev = c
		}
	}
	if dev == nil || !strings.HasPrefix(dev.Value, authn.DevicePrefix) || !dev.Secure || !dev.HttpOnly ||
		dev.SameSite != http.SameSiteStrictMode || dev.Path != "/" || dev.Domain != "" || dev.MaxAge < 364*24*3600 {
		t.Fatalf("device cookie %+v", dev)
	}
	rootBrowser := &browser{e: e, cookies: map[string]string{}}
	if resp, _ := rootBrowser.submit(rootBrowser.loginForm(), "root", adminPass); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("root's sign-in: %d", resp.StatusCode)
	}

	e.hammer("alice", 60)
	for _, tt := range []struct {
		name   string
		device string
	}{
		{"no device cookie", ""},
		{"another account's device cookie", rootBrowser.cookies[httpapi.DeviceCookie]},
		{"a forged device cookie", authn.DevicePrefix + strings.Repeat("A", len(dev.Value)-len(authn.DevicePrefix))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := &browser{e: e, cookies: map[string]string{}}
			if tt.device != "" {
				b.cookies[httpapi.DeviceCookie] = tt.device
			}
			resp, page := b.submit(b.loginForm(), "alice", alicePass)
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
				t.Errorf("%d Retry-After %q: %.300s", resp.StatusCode, resp.Header.Get("Retry-After"), page)
			}
			if _, ok := b.cookies[fortapi.DefaultSessionCookie]; ok {
				t.Error("a throttled sign-in set a session cookie")
			}
		})
	}
	t.Run("the known browser signs in", func(t *testing.T) {
		resp, page := known.submit(known.loginForm(), "alice", alicePass)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%d %.300s", resp.StatusCode, page)
		}
		if got := known.cookies[httpapi.DeviceCookie]; got == dev.Value || !strings.HasPrefix(got, authn.DevicePrefix) {
			t.Errorf("the device cookie was not renewed: %q", got)
		}
	})
}
