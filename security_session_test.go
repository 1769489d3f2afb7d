package fortapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/csrf"
)

// sessionAuth trusts "Authorization: Test USER [SCOPE...]" as a bearer
// token and the cookie "__Host-session=USER:SCOPE,SCOPE" as a session.
func sessionAuth(r *http.Request) (*fortapi.Principal, error) {
	if r.Header.Get("Authorization") != "" {
		return testAuth(r)
	}
	c, err := r.Cookie(fortapi.DefaultSessionCookie)
	if err != nil {
		return nil, fortapi.ErrNoCredentials
	}
	user, scopes, _ := strings.Cut(c.Value, ":")
	p := &fortapi.Principal{Subject: user, Scheme: fortapi.SessionScheme, SessionID: "s-" + user}
	if scopes != "" {
		p.Scopes = strings.Split(scopes, ",")
	}
	return p, nil
}

// TestSessionsArePrincipalsWithTheSameScopes: with Options.Session, a
// cookie session reaches every bearer-declared operation under the same
// scopes, SessionScopes operations take sessions only, and the document
// says so.
func TestSessionsArePrincipalsWithTheSameScopes(t *testing.T) {
	protector, err := csrf.New(csrf.Options{Key: []byte("a test key of thirty-two bytes!!")})
	if err != nil {
		t.Fatal(err)
	}
	api := fortapi.New(fortapi.Options{Authenticator: fortapi.AuthenticatorFunc(sessionAuth), Logger: slog.New(slog.DiscardHandler),
		Session: &fortapi.SessionCookie{}, CSRF: protector})
	ok := func(ctx context.Context, _ *struct{}) (*okOut, error) {
		out := &okOut{}
		p, _ := fortapi.PrincipalFrom(ctx)
		out.Body.OK = p != nil
		return out, nil
	}
	huma.Register(api, huma.Operation{OperationID: "read", Method: http.MethodGet, Path: "/things", Security: fortapi.Scopes("things:read")}, ok)
	huma.Register(api, huma.Operation{OperationID: "page", Method: http.MethodGet, Path: "/page", Security: fortapi.SessionScopes("things:read")}, ok)
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		name, path, auth, cookie string
		want                     int
	}{
		{"bearer with the scope", "/things", "Test alice things:read", "", 200},
		{"session with the scope", "/things", "", "alice:things:read", 200},
		{"session without the scope", "/things", "", "alice:other:read", 403},
		{"session with no scope", "/things", "", "alice:", 403},
		{"anonymous", "/things", "", "", 401},
		{"session page with a session", "/page", "", "alice:things:read", 200},
		{"session page with a bearer token", "/page", "Test alice things:read", "", 401},
		{"session page, session without the scope", "/page", "", "alice:other:read", 403},
		{"session page, anonymous", "/page", "", "", 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: fortapi.DefaultSessionCookie, Value: tt.cookie})
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
		})
	}

	var doc struct {
		Components struct {
			SecuritySchemes map[string]struct{ Type, In, Name string } `json:"securitySchemes"`
		} `json:"components"`
		Paths map[string]map[string]struct {
			Security []map[string][]string `json:"security"`
		} `json:"paths"`
	}
	b, _ := api.OpenAPIJSON()
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if s := doc.Components.SecuritySchemes[fortapi.SessionScheme]; s.Type != "apiKey" || s.In != "cookie" || s.Name != "__Host-session" {
		t.Errorf("session scheme documented as %+v", s)
	}
	sec, _ := json.Marshal(doc.Paths["/things"]["get"].Security)
	if string(sec) != `[{"bearer":["things:read"]},{"session":["things:read"]}]` {
		t.Errorf("/things security %s", sec)
	}
	sec, _ = json.Marshal(doc.Paths["/page"]["get"].Security)
	if string(sec) != `[{"session":["things:read"]}]` {
		t.Errorf("/page security %s", sec)
	}
}

// TestWithoutSessionsNoCookieIsACredential: without Options.Session, a
// principal claiming the session scheme is refused everywhere, and a
// SessionScopes declaration stops the API from starting.
func TestWithoutSessionsNoCookieIsACredential(t *testing.T) {
	api := fortapi.New(fortapi.Options{Authenticator: fortapi.AuthenticatorFunc(sessionAuth), Logger: slog.New(slog.DiscardHandler)})
	huma.Register(api, huma.Operation{OperationID: "read", Method: http.MethodGet, Path: "/things", Security: fortapi.Scopes("things:read")},
		func(ctx context.Context, _ *struct{}) (*okOut, error) { return &okOut{}, nil })
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/things", nil)
	req.AddCookie(&http.Cookie{Name: fortapi.DefaultSessionCookie, Value: "alice:things:read"})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("a session without Options.Session: %d, want 401", rec.Code)
	}

	api = fortapi.New(fortapi.Options{Logger: slog.New(slog.DiscardHandler)})
	huma.Register(api, huma.Operation{OperationID: "page", Method: http.MethodGet, Path: "/page", Security: fortapi.SessionScopes("things:read")},
		func(ctx context.Context, _ *struct{}) (*okOut, error) { return &okOut{}, nil })
	if _, err := api.Handler(); err == nil || !strings.Contains(err.Error(), `unknown security scheme "session"`) {
		t.Errorf("SessionScopes without Options.Session: %v", err)
	}
}

// TestCookieRequestsNeedTheCSRFToken: with sessions, an unsafe request
// carrying cookies needs the double-submit token bound to its session
// cookie, a cross-site one is refused whatever it carries, and a bearer
// request needs nothing, cookies or not (TestBearerRequestsIgnoreCookies
// attacks that exemption).
func TestCookieRequestsNeedTheCSRFToken(t *testing.T) {
	protector, err := csrf.New(csrf.Options{Key: []byte("a test key of thirty-two bytes!!")})
	if err != nil {
		t.Fatal(err)
	}
	api := fortapi.New(fortapi.Options{Authenticator: fortapi.AuthenticatorFunc(sessionAuth), Logger: slog.New(slog.DiscardHandler),
		Session: &fortapi.SessionCookie{}, CSRF: protector})
	huma.Register(api, huma.Operation{OperationID: "write", Method: http.MethodPost, Path: "/things", Security: fortapi.Scopes("things:write")},
		func(ctx context.Context, _ *struct{}) (*okOut, error) { return &okOut{}, nil })
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	const session = "alice:things:write"
	good, _ := protector.Token(fortapi.CSRFSessionFor(session))
	other, _ := protector.Token(fortapi.CSRFSessionFor("bob:things:write"))
	anon, _ := protector.Token("")
	for _, tt := range []struct {
		name                 string
		auth, cookie, tok    string
		cookieTok, fetchSite string
		want                 int
	}{
		{"session with its token", "", session, good, good, "same-origin", 200},
		{"session without a token", "", session, "", "", "same-origin", 403},
		{"session with another session's token", "", session, other, other, "same-origin", 403},
		{"session with the anonymous token", "", session, anon, anon, "same-origin", 403},
		{"header and cookie differ", "", session, good, other, "same-origin", 403},
		{"cross-site with a valid token", "", session, good, good, "cross-site", 403},
		{"bearer without cookies", "Test alice things:write", "", "", "", "", 200},
		{"bearer cross-site without cookies", "Test alice things:write", "", "", "", "cross-site", 200},
		{"bearer with a cookie, no token", "Test alice things:write", session, "", "", "same-origin", 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "https://api.example/things", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: fortapi.DefaultSessionCookie, Value: tt.cookie})
			}
			if tt.cookieTok != "" {
				req.AddCookie(&http.Cookie{Name: csrf.CookieName, Value: tt.cookieTok})
			}
			if tt.tok != "" {
				req.Header.Set(csrf.HeaderName, tt.tok)
			}
			if tt.fetchSite != "" {
				req.Header.Set("Sec-Fetch-Site", tt.fetchSite)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
		})
	}
}

// TestSessionPagesSendBrowsersToTheLogin: with SessionCookie.LoginURL, a
// browser asking for a session-only page without a valid session is sent
// there (303); API callers, and sessions lacking a scope, get the usual
// answers. A LoginURL that could leave the server is refused at start.
func TestSessionPagesSendBrowsersToTheLogin(t *testing.T) {
	protector, err := csrf.New(csrf.Options{Key: []byte("a test key of thirty-two bytes!!")})
	if err != nil {
		t.Fatal(err)
	}
	build := func(login string) (http.Handler, error) {
		api := fortapi.New(fortapi.Options{Authenticator: fortapi.AuthenticatorFunc(sessionAuth), Logger: slog.New(slog.DiscardHandler),
			Session: &fortapi.SessionCookie{LoginURL: login}, CSRF: protector})
		ok := func(ctx context.Context, _ *struct{}) (*okOut, error) { return &okOut{}, nil }
		huma.Register(api, huma.Operation{OperationID: "page", Method: http.MethodGet, Path: "/page", Security: fortapi.SessionScopes("things:read")}, ok)
		huma.Register(api, huma.Operation{OperationID: "api", Method: http.MethodGet, Path: "/things", Security: fortapi.Scopes("things:read")}, ok)
		return api.Handler()
	}
	h, err := build("/login?next=page")
	if err != nil {
		t.Fatal(err)
	}
	const html = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
	for _, tt := range []struct {
		name, path, accept, auth, cookie string
		want                             int
	}{
		{"browser, no session", "/page", html, "", "", 303},
		{"browser, invalid session", "/page", html, "Garbage", "", 303},
		{"API call, no session", "/page", "application/json", "", "", 401},
		{"browser, session without the scope", "/page", html, "", "alice:other:read", 403},
		{"browser, session with the scope", "/page", html, "", "alice:things:read", 200},
		{"browser on an API operation", "/things", html, "", "", 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			req.Header.Set("Accept", tt.accept)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: fortapi.DefaultSessionCookie, Value: tt.cookie})
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			if tt.want == 303 && rec.Header().Get("Location") != "/login?next=page" {
				t.Errorf("Location %q", rec.Header().Get("Location"))
			}
		})
	}
	// A LoginURL without "next" gets the page asked for (path and query)
	// there, on GET and HEAD.
	h2, err := build("/signin?lang=en")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ method, target, want string }{
		{http.MethodGet, "/page?x=1&y=%2F", "/signin?lang=en&next=%2Fpage%3Fx%3D1%26y%3D%252F"},
		{http.MethodHead, "/page", "/signin?lang=en&next=%2Fpage"},
	} {
		req := httptest.NewRequest(tt.method, tt.target, nil)
		req.Header.Set("Accept", html)
		rec := httptest.NewRecorder()
		h2.ServeHTTP(rec, req)
		if rec.Code != 303 || rec.Header().Get("Location") != tt.want {
			t.Errorf("%s %s: %d Location %q, want 303 %q", tt.method, tt.target, rec.Code, rec.Header().Get("Location"), tt.want)
		}
	}
	for _, bad := range []string{"//evil.example/login", "/\\evil.example", "https://evil.example/", "login", "/log in"} {
		if _, err := build(bad); err == nil || !strings.Contains(err.Error(), "LoginURL") {
			t.Errorf("LoginURL %q: %v", bad, err)
		}
		api := fortapi.New(fortapi.Options{Logger: slog.New(slog.DiscardHandler), DocsCSRFTokenURL: bad})
		if _, err := api.Handler(); err == nil || !strings.Contains(err.Error(), "DocsCSRFTokenURL") {
			t.Errorf("DocsCSRFTokenURL %q: %v", bad, err)
		}
	}
}
