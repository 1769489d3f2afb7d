package fortapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/csrf"
)

// cookieFirstAuth is an Authenticator that breaks the contract: it takes
// the session cookie whenever there is one, even from a request with an
// Authorization header.
func cookieFirstAuth(r *http.Request) (*fortapi.Principal, error) {
	if _, err := r.Cookie(fortapi.DefaultSessionCookie); err == nil {
		return sessionAuth(&http.Request{Header: http.Header{"Cookie": r.Header["Cookie"]}})
	}
	return sessionAuth(r)
}

// TestBearerRequestsIgnoreCookies: a request with an Authorization header
// authenticates by it alone and its cookies play no part in CSRF (DESIGN
// §4), so a bearer client that also holds some cookie is not refused for
// a missing CSRF token. The attacks go the other way: a forged cross-site
// POST carrying the victim's session cookie plus an Authorization header
// a page can produce (a garbage bearer token, empty, Basic credentials a
// browser may have cached) never creates anything, whatever the
// Authenticator does with the cookie.
func TestBearerRequestsIgnoreCookies(t *testing.T) {
	protector, err := csrf.New(csrf.Options{Key: []byte("a test key of thirty-two bytes!!")})
	if err != nil {
		t.Fatal(err)
	}
	type server struct {
		h       http.Handler
		created *atomic.Int64
		by      *atomic.Value
	}
	newServer := func(auth fortapi.AuthenticatorFunc) server {
		s := server{created: &atomic.Int64{}, by: &atomic.Value{}}
		api := fortapi.New(fortapi.Options{Authenticator: auth, Logger: slog.New(slog.DiscardHandler),
			Session: &fortapi.SessionCookie{}, CSRF: protector})
		huma.Register(api, huma.Operation{OperationID: "write", Method: http.MethodPost, Path: "/things", Security: fortapi.Scopes("things:write")},
			func(ctx context.Context, _ *struct{}) (*okOut, error) {
				p, _ := fortapi.PrincipalFrom(ctx)
				s.created.Add(1)
				s.by.Store(p.Scheme + ":" + p.Subject)
				return &okOut{}, nil
			})
		if s.h, err = api.Handler(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	servers := map[string]server{
		"contract Authenticator":     newServer(sessionAuth),
		"cookie-first Authenticator": newServer(cookieFirstAuth),
	}
	const victim = "victim:things:write"
	victimTok, _ := protector.Token(fortapi.CSRFSessionFor(victim))
	for _, tt := range []struct {
		name      string
		auth      []string // Authorization lines; nil: none
		cookies   string   // the Cookie header
		fetchSite string
		want      int    // status; 0: either 401 or 403, and nothing created
		by        string // who created, when want is 200
		// refusedIfCookieFirst: the cookie-first Authenticator offers a
		// session for this request, which the API refuses (401).
		refusedIfCookieFirst bool
	}{
		{"bearer with an unrelated cookie", []string{"Test alice things:write"}, "theme=dark", "same-origin", 200, "bearer:alice", false},
		{"bearer with another user's session", []string{"Test alice things:write"}, fortapi.DefaultSessionCookie + "=" + victim, "same-origin", 200, "bearer:alice", true},
		{"bearer with cookies, cross-site", []string{"Test alice things:write"}, "theme=dark", "cross-site", 200, "bearer:alice", false},
		{"bearer with cookies, no fetch metadata", []string{"Test alice things:write"}, "theme=dark", "", 200, "bearer:alice", false},

		{"forged: victim's session + garbage bearer", []string{"Bearer x"}, fortapi.DefaultSessionCookie + "=" + victim, "cross-site", 0, "", false},
		{"forged: victim's session + garbage bearer, no fetch metadata", []string{"Bearer x"}, fortapi.DefaultSessionCookie + "=" + victim, "", 0, "", false},
		{"forged: victim's session + empty Authorization", []string{""}, fortapi.DefaultSessionCookie + "=" + victim, "", 0, "", false},
		{"forged: victim's session + Basic", []string{"Basic dXNlcjpwYXNz"}, fortapi.DefaultSessionCookie + "=" + victim, "cross-site", 403, "", false},
		{"forged: victim's session + Basic, no fetch metadata", []string{"Basic dXNlcjpwYXNz"}, fortapi.DefaultSessionCookie + "=" + victim, "", 0, "", false},
		{"forged: victim's session + two bearer lines", []string{"Bearer x", "Bearer y"}, fortapi.DefaultSessionCookie + "=" + victim, "cross-site", 403, "", false},
		{"forged: victim's session and its CSRF cookie + garbage bearer", []string{"Bearer x"},
			fortapi.DefaultSessionCookie + "=" + victim + "; " + csrf.CookieName + "=" + victimTok, "", 0, "", false},

		// Without an Authorization header the cookie is the credential and
		// CSRF applies as before.
		{"session without the token", nil, fortapi.DefaultSessionCookie + "=" + victim, "same-origin", 403, "", false},
	} {
		for name, s := range servers {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				req := httptest.NewRequest(http.MethodPost, "https://api.example/things", nil)
				if tt.auth != nil {
					req.Header["Authorization"] = tt.auth
				}
				req.Header.Set("Cookie", tt.cookies)
				if tt.fetchSite != "" {
					req.Header.Set("Sec-Fetch-Site", tt.fetchSite)
				}
				want := tt.want
				if tt.refusedIfCookieFirst && name == "cookie-first Authenticator" {
					want = 401
				}
				before := s.created.Load()
				rec := httptest.NewRecorder()
				s.h.ServeHTTP(rec, req)
				created := s.created.Load() - before
				switch {
				case want == 200:
					if rec.Code != 200 || created != 1 || s.by.Load() != tt.by {
						t.Fatalf("status %d, created %d by %v; want 200 by %s: %s", rec.Code, created, s.by.Load(), tt.by, rec.Body)
					}
				case created != 0:
					t.Fatalf("a forged request created something (status %d, by %v)", rec.Code, s.by.Load())
				case want == 0 && rec.Code != 401 && rec.Code != 403, want != 0 && rec.Code != want:
					t.Fatalf("status %d, want %d: %s", rec.Code, want, rec.Body)
				}
			})
		}
	}
}
