package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/csrf"
	"github.com/fortapi/fortapi/internal/pgtest"
	"github.com/fortapi/fortapi/internal/testutil"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
)

var csrfFieldRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// TestPostgresLostNever500 serves on a PostgreSQL store behind a proxy,
// takes PostgreSQL away (every connection closed, new ones refused) and
// calls one route of every class, with every kind of credential: each
// answers 503 with Retry-After where it needs the store, its own 4xx
// where it does not, never 500. Then the store comes back and the same
// credentials work again.
func TestPostgresLostNever500(t *testing.T) {
	t.Parallel()
	direct, err := url.Parse(pgtest.SchemaURL(t, "off"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := testutil.NewTCPProxy(t, direct.Host)
	proxied := *direct
	proxied.Host = proxy.Addr()
	cfg := testConfig(t)
	cfg.Store = StoreConfig{PostgresURL: proxied.String()}
	e := newWSEnv(t, &cfg)
	ctx := context.Background()
	u, err := e.a.Auth().CreateUser(ctx, "alice", wsPass, server.RoleAdmin, "test")
	if err != nil {
		t.Fatal(err)
	}

	// Credentials of every kind, made before the cut.
	resp, err := e.srv.Client().PostForm(e.srv.URL+"/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {wsPass}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("POST /token: %d %v", resp.StatusCode, err)
	}
	access := tok.AccessToken
	key, _, err := e.a.Auth().CreateAPIKey(ctx, &fortapi.Principal{Subject: u.ID, Scheme: fortapi.BearerScheme, Scopes: u.Role.Scopes()},
		authn.NewAPIKey{Name: "cut", Scopes: []string{server.ScopeItemsRead}}, "")
	if err != nil {
		t.Fatal(err)
	}
	cookie := e.session("alice")
	itemID := e.item(access, "before the cut")
	// The login form's CSRF token and cookie.
	resp, err = e.srv.Client().Get(e.srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfFieldRE.FindSubmatch(page)
	if m == nil {
		t.Fatalf("GET /login: %d, no CSRF field", resp.StatusCode)
	}
	formCSRF := strings.ReplaceAll(string(m[1]), "&#43;", "+")
	var csrfCookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == csrf.CookieName {
			csrfCookie = c
		}
	}
	if csrfCookie == nil {
		t.Fatal("GET /login set no CSRF cookie")
	}

	type call struct {
		name, method, path, ctype, body string
		header                          map[string]string
		cookies                         []*http.Cookie
		want                            int
	}
	bearer := map[string]string{"Authorization": "Bearer " + access}
	calls := []call{
		{name: "password grant", method: "POST", path: "/token", ctype: "application/x-www-form-urlencoded",
			body: url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {wsPass}}.Encode(), want: 503},
		{name: "password grant, unknown user", method: "POST", path: "/token", ctype: "application/x-www-form-urlencoded",
			body: url.Values{"grant_type": {"password"}, "username": {"nobody"}, "password": {wsPass}}.Encode(), want: 503},
		{name: "refresh grant", method: "POST", path: "/token", ctype: "application/x-www-form-urlencoded",
			body: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}.Encode(), want: 503},
		{name: "token request without a grant (no store)", method: "POST", path: "/token", ctype: "application/x-www-form-urlencoded",
			body: "username=alice", want: 400},
		{name: "HTML login", method: "POST", path: "/login", ctype: "application/x-www-form-urlencoded",
			body:    url.Values{"csrf_token": {formCSRF}, "username": {"alice"}, "password": {wsPass}}.Encode(),
			cookies: []*http.Cookie{csrfCookie}, want: 503},
		{name: "create item", method: "POST", path: "/items/", ctype: "application/json", body: `{"name":"x","price":1}`, header: bearer, want: 503},
		{name: "list items", method: "GET", path: "/items/", header: bearer, want: 503},
		{name: "get item", method: "GET", path: "/items/" + itemID, header: bearer, want: 503},
		{name: "update item", method: "PUT", path: "/items/" + itemID, ctype: "application/json", body: `{"name":"y","price":2}`, header: bearer, want: 503},
		{name: "delete item", method: "DELETE", path: "/items/" + itemID, header: bearer, want: 503},
		{name: "users/me", method: "GET", path: "/users/me", header: bearer, want: 503},
		{name: "list users", method: "GET", path: "/users", header: bearer, want: 503},
		{name: "audit", method: "GET", path: "/admin/audit", header: bearer, want: 503},
		{name: "list API keys", method: "GET", path: "/users/me/api-keys", header: bearer, want: 503},
		{name: "create API key", method: "POST", path: "/users/me/api-keys", ctype: "application/json",
			body: `{"name":"k2","scopes":["items:read"]}`, header: bearer, want: 503},
		{name: "change password", method: "PUT", path: "/users/me/password", ctype: "application/json",
			body: `{"current_password":"` + wsPass + `","new_password":"another long enough passphrase"}`, header: bearer, want: 503},
		{name: "logout", method: "POST", path: "/logout", header: bearer, want: 503},
		{name: "an API key authenticates", method: "GET", path: "/items/", header: map[string]string{"X-API-Key": key}, want: 503},
		{name: "a session cookie authenticates", method: "GET", path: "/items/" + itemID + "/view", cookies: []*http.Cookie{cookie}, want: 503},
		{name: "update user", method: "PATCH", path: "/users/" + u.ID, ctype: "application/json", body: `{"disabled":false}`, header: bearer, want: 503},
		{name: "rotate signing keys", method: "POST", path: "/admin/keys/rotate", header: bearer, want: 503},
		{name: "WebSocket ticket (no store)", method: "POST", path: "/ws/ticket", header: bearer, want: 200},
		{name: "no credentials (no store)", method: "GET", path: "/items/", want: 401},
		{name: "readiness", method: "GET", path: "/readyz", want: 503},
	}

	do := func(c call) (int, string, string) {
		req, err := http.NewRequest(c.method, e.srv.URL+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		for _, ck := range c.cookies {
			req.AddCookie(ck)
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		resp, err := e.srv.Client().Do(req.WithContext(ctx))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
	}

	proxy.Cut()
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			status, retry, body := do(c)
			t.Logf("%d Retry-After %q", status, retry)
			switch {
			case status >= 500 && status != http.StatusServiceUnavailable:
				t.Errorf("%d with PostgreSQL lost, want 503: %.300s\nlog:\n%s", status, body, e.logs.String())
			case status == http.StatusServiceUnavailable && retry == "" && c.path != "/readyz": // a probe, not a client
				t.Errorf("503 without Retry-After: %.300s", body)
			case c.want != 0 && status != c.want:
				t.Errorf("%d, want %d: %.300s", status, c.want, body)
			}
		})
	}
	proxy.Restore()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _, body := do(call{name: "after the cut", method: "GET", path: "/items/" + itemID, header: bearer})
		if st == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /items/{id} 10s after PostgreSQL came back: %d %.300s", st, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
