package fortapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/internal/testutil"
	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/token"
)

// tokenFixture is an API with a token endpoint, in-memory users, keys and
// refresh tokens, and one protected operation.
type tokenFixture struct {
	h      http.Handler
	hasher *password.Hasher
	logs   *testutil.Buffer
}

type userRecord struct {
	fortapi.TokenUser
	name string
}

var (
	fixtureHasherOnce sync.Once
	fixtureHasher     *password.Hasher
	fixtureHashes     map[string]string
)

// sharedHasher hashes the fixture's passwords once for every test.
func sharedHasher(t testing.TB) (*password.Hasher, map[string]string) {
	fixtureHasherOnce.Do(func() {
		h, err := password.NewHasher(password.HasherOptions{})
		if err != nil {
			panic(err)
		}
		hashes := map[string]string{}
		for _, pw := range []string{"correct horse battery", "disabled user pw"} {
			if hashes[pw], err = h.Hash(context.Background(), pw); err != nil {
				panic(err)
			}
		}
		fixtureHasher, fixtureHashes = h, hashes
	})
	return fixtureHasher, fixtureHashes
}

func newTokenFixture(t testing.TB, hasher *password.Hasher, withRefresh bool) *tokenFixture {
	t.Helper()
	_, hashes := sharedHasher(t)
	if hasher == nil {
		hasher = fixtureHasher
	}
	ctx := context.Background()
	ring, err := jwtkey.NewMemoryRing(ctx, jwtkey.Options{})
	if err != nil {
		t.Fatal(err)
	}
	revs := token.NewRevocations(token.RevocationsOptions{})
	svc, err := token.New(token.Options{Issuer: "https://notes.test", Audience: "notes", Keys: ring, Revocations: revs})
	if err != nil {
		t.Fatal(err)
	}
	users := []userRecord{
		{fortapi.TokenUser{Subject: "u-alice", PasswordHash: hashes["correct horse battery"], Scopes: []string{"notes:read", "notes:write"}}, "alice"},
		{fortapi.TokenUser{Subject: "u-dave", PasswordHash: hashes["disabled user pw"], Scopes: []string{"notes:read"}, Disabled: true}, "dave"},
	}
	find := func(match func(userRecord) bool) (fortapi.TokenUser, error) {
		for _, u := range users {
			if match(u) {
				return u.TokenUser, nil
			}
		}
		return fortapi.TokenUser{}, fortapi.ErrUnknownUser
	}
	logs := &testutil.Buffer{}
	api := fortapi.New(fortapi.Options{Authenticator: fortapi.NewTokenAuthenticator(svc), Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		OAuth2: &fortapi.OAuth2Password{TokenURL: "/oauth/token", Scopes: map[string]string{"notes:read": "read notes"}}})
	ep := fortapi.TokenEndpoint{
		Path: "/oauth/token", Tokens: svc, Hasher: hasher, RateLimit: "1000/minute",
		UserByName: func(_ context.Context, name string) (fortapi.TokenUser, error) {
			return find(func(u userRecord) bool { return u.name == name })
		},
	}
	if withRefresh {
		ep.Refresh = token.NewMemoryRefresh(token.MemoryRefreshOptions{Revocations: revs})
		ep.UserBySubject = func(_ context.Context, sub string) (fortapi.TokenUser, error) {
			return find(func(u userRecord) bool { return u.Subject == sub })
		}
	}
	if err := fortapi.RegisterTokenEndpoint(api, ep); err != nil {
		t.Fatal(err)
	}
	huma.Register(api, huma.Operation{OperationID: "me", Method: http.MethodGet, Path: "/me", Security: fortapi.Scopes("notes:read")},
		func(ctx context.Context, _ *struct{}) (*okOut, error) {
			out := &okOut{}
			out.Body.OK = true
			return out, nil
		})
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	return &tokenFixture{h: h, hasher: hasher, logs: logs}
}

type tokenAnswer struct {
	status int
	header http.Header
	fortapi.TokenResponse
	fortapi.OAuthError
}

func (f *tokenFixture) post(ct string, body string) tokenAnswer {
	req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	a := tokenAnswer{status: rec.Code, header: rec.Header()}
	_ = json.Unmarshal(rec.Body.Bytes(), &a.TokenResponse)
	_ = json.Unmarshal(rec.Body.Bytes(), &a.OAuthError)
	return a
}

func (f *tokenFixture) form(v url.Values) tokenAnswer {
	return f.post("application/x-www-form-urlencoded", v.Encode())
}

func (f *tokenFixture) get(path, auth string) int {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec.Code
}

func pw(user, pass string, extra ...string) url.Values {
	v := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

// TestTokenEndpointPasswordGrant: a form-encoded login answers RFC 6749
// §5.1 tokens that the bearer authenticator accepts; every refusal is a
// §5.2 error that does not say which check failed.
func TestTokenEndpointPasswordGrant(t *testing.T) {
	t.Parallel()
	f := newTokenFixture(t, nil, false)
	ok := f.form(pw("alice", "correct horse battery"))
	if ok.status != 200 || ok.AccessToken == "" || ok.TokenType != "bearer" || ok.ExpiresIn != 900 ||
		ok.Scope != "notes:read notes:write" || ok.RefreshToken != "" {
		t.Fatalf("login: %+v", ok)
	}
	if ok.header.Get("Cache-Control") != "no-store" || ok.header.Get("Set-Cookie") != "" {
		t.Errorf("login headers %v", ok.header)
	}
	if s := f.get("/me", "Bearer "+ok.AccessToken); s != 200 {
		t.Errorf("GET /me with the token: %d", s)
	}
	narrow := f.form(pw("alice", "correct horse battery", "scope", "notes:read"))
	if narrow.status != 200 || narrow.Scope != "notes:read" {
		t.Errorf("narrowed login: %+v", narrow)
	}
	invalid := tokenAnswer{status: 400, OAuthError: fortapi.OAuthError{Error: "invalid_grant", ErrorDescription: "the credentials are invalid"}}
	cases := []struct {
		name string
		ct   string
		body string
		want tokenAnswer
	}{
		{"wrong password", "", pw("alice", "wrong password!").Encode(), invalid},
		{"unknown user", "", pw("mallory", "correct horse battery").Encode(), invalid},
		{"disabled user", "", pw("dave", "disabled user pw").Encode(), invalid},
		{"scope not granted", "", pw("alice", "correct horse battery", "scope", "admin").Encode(), tokenAnswer{status: 400, OAuthError: fortapi.OAuthError{Error: "invalid_scope"}}},
		{"empty scope", "", pw("alice", "correct horse battery", "scope", " ").Encode(), tokenAnswer{status: 400, OAuthError: fortapi.OAuthError{Error: "invalid_scope"}}},
		{"no password", "", "grant_type=password&username=alice", tokenAnswer{status: 400, OAuthError: fortapi.OAuthError{Error: "invalid_request"}}},
		{"repeated parameter", "", "grant_type=password&username=alice&username=bob&password=x", tokenAnswer{status: 400, OAuthError: fortapi.OAuthError{Error: "invalid_request"}}},
		{"bad encoding", "", "grant_type=password&username=%zz", tokenAnswer{status: 400, OAuthError: fortapi.OAuthError{Error: "invalid_request"}}},
		{"no grant type", "", "username=alice", tokenAnswer{status: 400, OAuthError: fortapi.OAuthError{Error: "invalid_request"}}},
		{"refresh without a store", "", "grant_type=refresh_token&refresh_token=x", tokenAnswer{status: 400, OAuthError: fortapi.OAuthError{Error: "unsupported_grant_type"}}},
		{"client credentials", "", "grant_type=client_credentials", tokenAnswer{status: 400, OAuthError: fortapi.OAuthError{Error: "unsupported_grant_type"}}},
		{"JSON body", "application/json", `{"grant_type":"password"}`, tokenAnswer{status: 400, OAuthError: fortapi.OAuthError{Error: "invalid_request"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ct := tc.ct
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			got := f.post(ct, tc.body)
			if got.status != tc.want.status || got.Error != tc.want.Error || got.AccessToken != "" ||
				(tc.want.ErrorDescription != "" && got.ErrorDescription != tc.want.ErrorDescription) {
				t.Errorf("got %d %q %q, want %d %q", got.status, got.Error, got.ErrorDescription, tc.want.status, tc.want.Error)
			}
			if got.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", got.header.Get("Cache-Control"))
			}
		})
	}
}

// TestTokenEndpointRefresh: refresh tokens rotate, can narrow the scopes
// and not widen them, and a reused one ends the session: its access
// tokens stop working at once.
func TestTokenEndpointRefresh(t *testing.T) {
	t.Parallel()
	f := newTokenFixture(t, nil, true)
	login := f.form(pw("alice", "correct horse battery"))
	if login.status != 200 || login.RefreshToken == "" {
		t.Fatalf("login: %+v", login)
	}
	ref := func(rt string, extra ...string) tokenAnswer {
		v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		if len(extra) == 2 {
			v.Set(extra[0], extra[1])
		}
		return f.form(v)
	}
	next := ref(login.RefreshToken, "scope", "notes:read")
	if next.status != 200 || next.RefreshToken == "" || next.RefreshToken == login.RefreshToken || next.Scope != "notes:read" {
		t.Fatalf("refresh: %+v", next)
	}
	if wide := ref(next.RefreshToken, "scope", "notes:write"); wide.status != 400 || wide.Error != "invalid_scope" {
		t.Errorf("widening refresh: %+v", wide)
	}
	// The refused widening consumed next's token; log in again for a clean chain.
	login = f.form(pw("alice", "correct horse battery"))
	next = ref(login.RefreshToken)
	if next.status != 200 || f.get("/me", "Bearer "+next.AccessToken) != 200 {
		t.Fatalf("refresh: %+v", next)
	}
	// A thief replays the first refresh token: refused, and the whole
	// session ends — the rotated token and the access tokens too.
	if replay := ref(login.RefreshToken); replay.status != 400 || replay.Error != "invalid_grant" {
		t.Errorf("replay: %+v", replay)
	}
	if s := f.get("/me", "Bearer "+next.AccessToken); s != 401 {
		t.Errorf("access token of a session ended by reuse: %d, want 401", s)
	}
	if again := ref(next.RefreshToken); again.status != 400 || again.Error != "invalid_grant" {
		t.Errorf("successor after reuse: %+v", again)
	}
	if bogus := ref("not-a-token"); bogus.status != 400 || bogus.Error != "invalid_grant" {
		t.Errorf("bogus: %+v", bogus)
	}
}

// TestTokenEndpointBusyHasher: when the hasher has no free slot the login
// answers 503 temporarily_unavailable with Retry-After — for an unknown
// user too, which proves that an unknown user costs a (dummy) password
// verification like a known one.
func TestTokenEndpointBusyHasher(t *testing.T) {
	t.Parallel()
	hasher, err := password.NewHasher(password.HasherOptions{MaxConcurrent: 1, MaxQueue: -1})
	if err != nil {
		t.Fatal(err)
	}
	f := newTokenFixture(t, hasher, false)
	// A hog keeps the only slot busy.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_, _ = hasher.Hash(context.Background(), "hog password")
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for _, user := range []string{"alice", "nobody-at-all"} {
		var got tokenAnswer
		n := 0
		for range 200 {
			n++ // the hog frees its slot between hashes only for an instant
			if got = f.form(pw(user, "correct horse battery")); got.status == 503 {
				break
			}
		}
		t.Logf("%s: %d attempts", user, n)
		if got.status != 503 || got.Error != "temporarily_unavailable" || got.header.Get("Retry-After") == "" {
			t.Errorf("%s under a busy hasher: %d %q, Retry-After %q", user, got.status, got.Error, got.header.Get("Retry-After"))
		}
	}
}

// TestTokenEndpointDocumented: the bearer and oauth2 schemes name the real
// token path, and the form body is documented.
func TestTokenEndpointDocumented(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest(http.MethodGet, "/openapi.json", nil)
	rec := httptest.NewRecorder()
	newTokenFixture(t, nil, true).h.ServeHTTP(rec, req)
	doc := rec.Body.String()
	for _, want := range []string{"An access token from POST /oauth/token", `"tokenUrl":"/oauth/token"`,
		`"application/x-www-form-urlencoded"`, `"refresh_token"`, "`application/x-www-form-urlencoded`"} {
		if !strings.Contains(doc, want) {
			t.Errorf("OpenAPI document lacks %s", want)
		}
	}
	if strings.Contains(doc, "POST /token") {
		t.Error("the document still names POST /token")
	}
}

// TestOAuth2TokenURLNeedsAnEndpoint: documenting a token URL on this
// server that no form-encoded POST serves (fortapi would refuse the
// login with 415) makes Handler fail.
func TestOAuth2TokenURLNeedsAnEndpoint(t *testing.T) {
	t.Parallel()
	api := fortapi.New(fortapi.Options{Logger: slog.New(slog.DiscardHandler), OAuth2: &fortapi.OAuth2Password{TokenURL: "/token"}})
	type jsonLogin struct {
		Body struct {
			Username string `json:"username"`
		}
	}
	huma.Register(api, huma.Operation{OperationID: "json-token", Method: http.MethodPost, Path: "/token", Security: fortapi.Public()},
		func(ctx context.Context, _ *jsonLogin) (*okOut, error) { return &okOut{}, nil })
	if _, err := api.Handler(); err == nil || !strings.Contains(err.Error(), "no operation takes a form-encoded POST there") {
		t.Fatalf("Handler: %v", err)
	}
}

// TestRegisterTokenEndpointRefusesIncompleteOptions names what is missing.
func TestRegisterTokenEndpointRefusesIncompleteOptions(t *testing.T) {
	t.Parallel()
	hasher, _ := sharedHasher(t)
	svc := newTokenService(t)
	find := func(context.Context, string) (fortapi.TokenUser, error) {
		return fortapi.TokenUser{}, fortapi.ErrUnknownUser
	}
	for name, ep := range map[string]fortapi.TokenEndpoint{
		"no tokens":             {Hasher: hasher, UserByName: find},
		"no hasher":             {Tokens: svc, UserByName: find},
		"no users":              {Tokens: svc, Hasher: hasher},
		"refresh without users": {Tokens: svc, Hasher: hasher, UserByName: find, Refresh: token.NewMemoryRefresh(token.MemoryRefreshOptions{})},
		"bad path":              {Tokens: svc, Hasher: hasher, UserByName: find, Path: "//evil.example/token"},
		"bad rate limit":        {Tokens: svc, Hasher: hasher, UserByName: find, RateLimit: "lots"},
	} {
		api := fortapi.New(fortapi.Options{Logger: slog.New(slog.DiscardHandler)})
		err := fortapi.RegisterTokenEndpoint(api, ep)
		if err == nil {
			_, err = api.Handler() // the rate limit is checked here
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func newTokenService(t testing.TB) *token.Service {
	t.Helper()
	ring, err := jwtkey.NewMemoryRing(context.Background(), jwtkey.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := token.New(token.Options{Issuer: "https://notes.test", Audience: "notes", Keys: ring})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestTokenAuthenticator: the Authorization header, parsed once for every
// API: anonymous, another scheme, malformed and valid bearer credentials.
func TestTokenAuthenticator(t *testing.T) {
	t.Parallel()
	svc := newTokenService(t)
	tok, _, err := svc.Issue("u-1", "s-1", []string{"notes:read"})
	if err != nil {
		t.Fatal(err)
	}
	auth := fortapi.NewTokenAuthenticator(svc)
	// One whole character inside the signature changed: six bits of it,
	// always (the last characters hold padding bits, so a change there can
	// decode to the same signature).
	forged := []byte(tok)
	if i := len(forged) - 10; forged[i] == 'A' {
		forged[i] = 'B'
	} else {
		forged[i] = 'A'
	}
	cases := []struct {
		name    string
		headers []string
		noCreds bool
		ok      bool
	}{
		{"none", nil, true, false},
		{"basic", []string{"Basic YTpi"}, true, false},
		{"bearer", []string{"Bearer " + tok}, false, true},
		{"lower case, two spaces", []string{"bearer  " + tok}, false, true},
		{"empty bearer", []string{"Bearer "}, false, false},
		{"bearer alone", []string{"Bearer"}, false, false},
		{"two headers", []string{"Bearer " + tok, "Bearer " + tok}, false, false},
		{"forged", []string{"Bearer " + string(forged)}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, h := range tc.headers {
				req.Header.Add("Authorization", h)
			}
			p, err := auth.Authenticate(req)
			switch {
			case tc.ok && (err != nil || p.Subject != "u-1" || p.Scheme != fortapi.BearerScheme || !p.HasScope("notes:read") || p.SessionID != "s-1" || p.TokenID == "" || p.KeyID == ""):
				t.Errorf("got %+v, %v", p, err)
			case !tc.ok && (err == nil || errors.Is(err, fortapi.ErrNoCredentials) != tc.noCreds):
				t.Errorf("got %+v, %v; want an error (no credentials: %v)", p, err, tc.noCreds)
			}
		})
	}
}

// TestPrincipalWithoutScheme: an Authenticator that forgets Principal.Scheme
// gets a 500 and an error log saying exactly what to set, not a 401 that
// blames the caller.
func TestPrincipalWithoutScheme(t *testing.T) {
	t.Parallel()
	logs := &testutil.Buffer{}
	api := fortapi.New(fortapi.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Authenticator: fortapi.AuthenticatorFunc(func(r *http.Request) (*fortapi.Principal, error) {
			return &fortapi.Principal{Subject: "alice", Scopes: []string{"notes:read"}}, nil
		})})
	huma.Register(api, huma.Operation{OperationID: "me", Method: http.MethodGet, Path: "/me", Security: fortapi.Scopes("notes:read")},
		func(ctx context.Context, _ *struct{}) (*okOut, error) { return &okOut{}, nil })
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/me", nil))
	if rec.Code != 500 || !strings.Contains(logs.String(), "set Principal.Scheme") {
		t.Errorf("status %d, log:\n%s", rec.Code, logs.String())
	}
}

// TestPublicWithScopesWarns: Public() beside scopes makes them moot; the
// start-up log says so.
func TestPublicWithScopesWarns(t *testing.T) {
	t.Parallel()
	logs := &testutil.Buffer{}
	api := fortapi.New(fortapi.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	huma.Register(api, huma.Operation{OperationID: "mixed", Method: http.MethodGet, Path: "/mixed",
		Security: append(fortapi.Public(), fortapi.Scopes("admin")...)},
		func(ctx context.Context, _ *struct{}) (*okOut, error) { return &okOut{}, nil })
	if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(logs.String(), "mixed (GET /mixed) combines Public() with other security requirements") {
		t.Errorf("no warning:\n%s", logs.String())
	}
}
