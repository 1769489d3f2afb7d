package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/csrf"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/httpapi"
)

// TestBearerRequestsIgnoreCookies is DESIGN §4 against the real server: a
// request with an Authorization header authenticates by it alone, and its
// cookies play no part in authentication or CSRF. So an API client holding
// cookies (its own session, a stray one) is not refused by CSRF. And the
// attack the other way: a forged request carrying the signed-in victim's
// session and CSRF cookies plus an Authorization header a page can make the
// browser send (a garbage bearer token, an empty header, cached Basic
// credentials) never creates an item.
func TestBearerRequestsIgnoreCookies(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	if _, err := e.svc.CreateUser(t.Context(), "bob", bobPass, server.RoleUser, "test"); err != nil {
		t.Fatal(err)
	}
	aliceTok := e.login("alice", alicePass).AccessToken
	// alice is also signed in in her browser: session and CSRF cookies.
	b := &browser{e: e, cookies: map[string]string{}}
	if resp, _ := b.submit(b.loginForm(), "alice", alicePass); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("browser login: %d", resp.StatusCode)
	}
	victim := fortapi.DefaultSessionCookie + "=" + b.cookies[fortapi.DefaultSessionCookie] + "; " + csrf.CookieName + "=" + b.cookies[csrf.CookieName]
	bobTok := e.login("bob", bobPass).AccessToken

	count := func() int {
		t.Helper()
		resp, raw := e.call("GET", "/items/", "", "", bearer(aliceTok))
		var page httpapi.ItemPage
		if resp.StatusCode != 200 || json.Unmarshal(raw, &page) != nil {
			t.Fatalf("listing alice's items: %d %s", resp.StatusCode, raw)
		}
		return len(page.Items)
	}
	const item = `{"name":"x","price":1}`
	tests := []struct {
		name   string
		hdr    map[string]string
		status int    // 0: 401 or 403
		owner  string // who owns the created item, when status is 201
	}{
		{"bearer with an unrelated cookie", map[string]string{"Authorization": "Bearer " + bobTok, "Cookie": "theme=dark", "Sec-Fetch-Site": "same-origin"}, 201, "bob"},
		{"bearer with another user's session cookies", map[string]string{"Authorization": "Bearer " + bobTok, "Cookie": victim, "Sec-Fetch-Site": "same-origin"}, 201, "bob"},
		{"bearer with cookies, cross-site", map[string]string{"Authorization": "Bearer " + bobTok, "Cookie": victim, "Sec-Fetch-Site": "cross-site"}, 201, "bob"},

		{"forged: victim's cookies + garbage bearer, cross-site", map[string]string{"Authorization": "Bearer x", "Cookie": victim, "Sec-Fetch-Site": "cross-site"}, 0, ""},
		{"forged: victim's cookies + garbage bearer, same-origin", map[string]string{"Authorization": "Bearer x", "Cookie": victim, "Sec-Fetch-Site": "same-origin"}, 0, ""},
		{"forged: victim's cookies + empty Authorization", map[string]string{"Authorization": "", "Cookie": victim}, 0, ""},
		{"forged: victim's cookies + Basic, cross-site", map[string]string{"Authorization": "Basic YWxpY2U6cHc=", "Cookie": victim, "Sec-Fetch-Site": "cross-site"}, 403, ""},
		{"forged: victim's cookies + Basic, no fetch metadata", map[string]string{"Authorization": "Basic YWxpY2U6cHc=", "Cookie": victim}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			before := count()
			resp, raw := e.call("POST", "/items/", "application/json", item, tt.hdr)
			switch {
			case tt.status == http.StatusCreated:
				var it httpapi.Item
				if resp.StatusCode != 201 || json.Unmarshal(raw, &it) != nil {
					t.Fatalf("status %d, want 201: %s", resp.StatusCode, raw)
				}
				if u, err := e.store.GetUserByName(t.Context(), tt.owner); err != nil || it.Owner != u.ID {
					t.Errorf("the item belongs to %q, not to %s", it.Owner, tt.owner)
				}
			case tt.status == 0 && resp.StatusCode != 401 && resp.StatusCode != 403, tt.status != 0 && resp.StatusCode != tt.status:
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.status, raw)
			}
			if after := count(); tt.status != http.StatusCreated && after != before {
				t.Fatalf("a forged request created an item for alice (status %d)", resp.StatusCode)
			}
		})
	}
	e.t = t
	// Logging out with the token, cookies and all, works too.
	if resp, raw := e.call("POST", "/logout", "", "", map[string]string{"Authorization": "Bearer " + bobTok, "Cookie": "theme=dark"}); resp.StatusCode != http.StatusNoContent {
		t.Errorf("logout with the token and a cookie: %d %s", resp.StatusCode, raw)
	}
}
