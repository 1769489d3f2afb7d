package httpapi_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/clientip"
	"github.com/fortapi/fortapi/csrf"
	"github.com/fortapi/fortapi/internal/testutil"
	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/oidc"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/ratelimit"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/server/httpapi"
	"github.com/fortapi/fortapi/server/sqlite"
	"github.com/fortapi/fortapi/token"
)

// clock is real time plus an offset the test can move forward; once
// frozen, it stands still except when moved.
type clock struct{ off, frozen atomic.Int64 }

func (c *clock) Now() time.Time {
	if f := c.frozen.Load(); f != 0 {
		return time.Unix(0, f).Add(time.Duration(c.off.Load()))
	}
	return time.Now().Add(time.Duration(c.off.Load()))
}
func (c *clock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// Freeze stops the clock at the present: tests of limits that refill
// with time then do not depend on how fast the machine runs them.
func (c *clock) Freeze() { c.frozen.Store(time.Now().UnixNano()) }

const (
	testIssuer   = "fortapi-test"
	testAudience = "fortapi-test-api"
	alicePass    = "correct horse battery staple"
	adminPass    = "admin: purple monkey dishwasher"
)

// authEnv is the whole authentication stack on a real SQLite store,
// served over TLS through fortapi with every response checked against the
// OpenAPI document.
type authEnv struct {
	t      *testing.T
	srv    *httptest.Server
	clock  *clock
	store  *sqlite.Store
	ring   *jwtkey.Ring
	svc    *authn.Service
	master []byte
	logs   *testutil.Buffer
	csrf   *csrf.Protector
}

// envOptions are the rate limits of an authEnv.
type envOptions struct {
	limits   httpapi.Limits
	scale    int    // multiplies every limit (0: 1)
	global   string // fortapi.Options.GlobalLimit
	failures string // authn.Options.LoginFailures spec ("": none)
	// failureLimiter replaces the failures spec (a fake).
	failureLimiter authn.FailureLimiter
	// clientIP resolves client addresses (default: the TCP peer).
	clientIP *clientip.Resolver
	// oidc, when set, are external identity providers whose tokens are
	// accepted, with just-in-time provisioning.
	oidc *oidc.Set
}

// newAuthEnv is an authEnv for tests that are not about rate limits: the
// declared limits run, scaled up a hundred times.
func newAuthEnv(t *testing.T) *authEnv {
	t.Helper()
	return newAuthEnvWith(t, envOptions{scale: 100})
}

func newAuthEnvWith(t *testing.T, o envOptions) *authEnv {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "auth.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &authEnv{t: t, clock: &clock{}, store: store, master: make([]byte, 32), logs: &testutil.Buffer{}}
	for i := range e.master {
		e.master[i] = byte(i + 1)
	}
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	e.ring, err = jwtkey.Open(ctx, jwtkey.Options{MasterKey: e.master, Store: store, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	revs := token.NewRevocations(token.RevocationsOptions{Now: e.clock.Now})
	tokens, err := token.New(token.Options{Issuer: testIssuer, Audience: testAudience, Keys: e.ring, Revocations: revs, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.NewHasher(password.HasherOptions{QueueTimeout: time.Minute, InsecureTestParams: true}) // a loaded test machine must not make it busy; what these tests check does not depend on the hash cost
	if err != nil {
		t.Fatal(err)
	}
	// Limits run on the test's clock, which tests move forward.
	set, err := ratelimit.NewSet(ratelimit.SetOptions{Scale: o.scale, Now: e.clock.Now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	failures := o.failureLimiter
	if o.failures != "" {
		if failures, err = ratelimit.New(ratelimit.Options{Name: "login-failures", Spec: ratelimit.MustParseSpec(o.failures), Set: set}); err != nil {
			t.Fatal(err)
		}
	}
	var ip func(*http.Request) netip.Addr // key allowlists: the API's resolver
	if o.clientIP != nil {
		ip = o.clientIP.ClientIP
	}
	e.svc, err = authn.New(authn.Options{Store: store, Hasher: hasher, Tokens: tokens, Revocations: revs, Keys: e.ring, Logger: log, Now: e.clock.Now,
		LoginFailures: failures, RefreshKey: []byte("httpapi test refresh successor key, 32+ bytes"),
		APIKeyHashKey: []byte("httpapi test API key hash key, 32+ bytes"), ClientIP: ip,
		OIDC: o.oidc, OIDCProvision: o.oidc != nil})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateUser(ctx, "alice", alicePass, server.RoleUser, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateUser(ctx, "root", adminPass, server.RoleAdmin, "test"); err != nil {
		t.Fatal(err)
	}
	if e.csrf, err = csrf.New(csrf.Options{Key: e.master}); err != nil {
		t.Fatal(err)
	}
	api := fortapi.New(fortapi.Options{Authenticator: e.svc, Logger: log,
		OAuth2:     &fortapi.OAuth2Password{TokenURL: "/token", Scopes: map[string]string{server.ScopeItemsRead: "read"}},
		RateLimits: set, GlobalLimit: o.global, ClientIP: o.clientIP,
		Session: &fortapi.SessionCookie{LoginURL: "/login"}, CSRF: e.csrf})
	deps := httpapi.Deps{Store: store, Auth: e.svc, Keys: e.ring, Now: e.clock.Now, Limits: o.limits}
	if o.oidc != nil {
		deps.OIDCDiscovery = o.oidc.DiscoveryURLs()
	}
	httpapi.Register(api, deps)
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	// HTMLErrors outside: the contract check sees what API clients get.
	e.srv = httptest.NewTLSServer(httpapi.HTMLErrors(api, validating(t, api, h)))
	t.Cleanup(e.srv.Close)
	return e
}

// call sends a request; hdr holds extra headers ("Authorization" etc.).
func (e *authEnv) call(method, path, ctype, body string, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	return e.send(e.srv.Client(), method, path, ctype, body, hdr)
}

// callNoRedirect is call without following redirects, as a test of a
// redirect's own answer (Set-Cookie, Location) needs.
func (e *authEnv) callNoRedirect(method, path, ctype, body string, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	c := *e.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return e.send(&c, method, path, ctype, body, hdr)
}

func (e *authEnv) send(c *http.Client, method, path, ctype, body string, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

const form = "application/x-www-form-urlencoded"

func (e *authEnv) tokenReq(v url.Values) (*http.Response, []byte) {
	e.t.Helper()
	return e.call("POST", "/token", form, v.Encode(), nil)
}

func (e *authEnv) login(user, pw string, scope ...string) httpapi.TokenResponse {
	e.t.Helper()
	v := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}}
	if len(scope) > 0 {
		v.Set("scope", strings.Join(scope, " "))
	}
	resp, b := e.tokenReq(v)
	if resp.StatusCode != 200 {
		e.t.Fatalf("login %s: %d %s", user, resp.StatusCode, b)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		e.t.Errorf("token answer Cache-Control = %q, want no-store", cc)
	}
	var tr httpapi.TokenResponse
	if err := json.Unmarshal(b, &tr); err != nil {
		e.t.Fatal(err)
	}
	return tr
}

func (e *authEnv) refresh(rt string) (*http.Response, httpapi.TokenResponse, httpapi.OAuthError) {
	e.t.Helper()
	resp, b := e.tokenReq(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	var tr httpapi.TokenResponse
	var oe httpapi.OAuthError
	if resp.StatusCode == 200 {
		_ = json.Unmarshal(b, &tr)
	} else {
		_ = json.Unmarshal(b, &oe)
	}
	return resp, tr, oe
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// status is the status of GET path with the token.
func (e *authEnv) status(path, tok string) int {
	e.t.Helper()
	resp, _ := e.call("GET", path, "", "", bearer(tok))
	return resp.StatusCode
}

func TestLoginProtectedRefreshLogout(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	tr := e.login("alice", alicePass)
	if tr.TokenType != "bearer" || tr.ExpiresIn != 900 || tr.Scope != "items:read items:write" || len(tr.RefreshToken) < 43 {
		t.Fatalf("token response %+v", tr)
	}
	resp, b := e.call("GET", "/protected", "", "", bearer(tr.AccessToken))
	if resp.StatusCode != 200 || !strings.Contains(string(b), "alice") {
		t.Fatalf("/protected: %d %s", resp.StatusCode, b)
	}
	resp, b = e.call("GET", "/users/me", "", "", bearer(tr.AccessToken))
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"username":"alice"`) || strings.Contains(string(b), "argon2") {
		t.Fatalf("/users/me: %d %s", resp.StatusCode, b)
	}

	resp, tr2, _ := e.refresh(tr.RefreshToken)
	if resp.StatusCode != 200 || tr2.RefreshToken == tr.RefreshToken || tr2.AccessToken == "" {
		t.Fatalf("refresh: %d %+v", resp.StatusCode, tr2)
	}
	if got := e.status("/protected", tr2.AccessToken); got != 200 {
		t.Fatalf("refreshed token: %d", got)
	}

	resp, _ = e.call("POST", "/logout", "", "", bearer(tr2.AccessToken))
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	// Logout takes effect at once, for every token of the session.
	for _, tok := range []string{tr.AccessToken, tr2.AccessToken} {
		resp, _ := e.call("GET", "/protected", "", "", bearer(tok))
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("token after logout: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	if resp, _, oe := e.refresh(tr2.RefreshToken); resp.StatusCode != 400 || oe.Error != "invalid_grant" {
		t.Errorf("refresh after logout: %d %+v", resp.StatusCode, oe)
	}
}

func TestRefreshReuseRevokesTheFamily(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	tr := e.login("alice", alicePass)
	_, tr2, _ := e.refresh(tr.RefreshToken)
	// Within the grace window a concurrent refresh with the old token works.
	if resp, _, _ := e.refresh(tr.RefreshToken); resp.StatusCode != 200 {
		t.Fatalf("refresh within grace: %d", resp.StatusCode)
	}
	e.clock.Advance(authn.DefaultRefreshGrace + time.Second)
	// After it, the old token is a stolen copy: the session dies.
	if resp, _, oe := e.refresh(tr.RefreshToken); resp.StatusCode != 400 || oe.Error != "invalid_grant" {
		t.Fatalf("reuse: %d %+v", resp.StatusCode, oe)
	}
	if resp, _, _ := e.refresh(tr2.RefreshToken); resp.StatusCode != 400 {
		t.Errorf("the newest token of a revoked family still refreshes: %d", resp.StatusCode)
	}
	if got := e.status("/protected", tr2.AccessToken); got != 401 {
		t.Errorf("access token of a revoked family: %d", got)
	}
	evs, err := e.store.ListEvents(context.Background(), server.EventFilter{Type: server.EventRefreshReuse, Limit: 10})
	if err != nil || len(evs) != 1 {
		t.Errorf("refresh reuse events: %v %v", evs, err)
	}
}

func TestNoUserEnumeration(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	unknown, ub := e.tokenReq(url.Values{"grant_type": {"password"}, "username": {"mallory"}, "password": {"whatever-123"}})
	wrong, wb := e.tokenReq(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"whatever-123"}})
	if unknown.StatusCode != 400 || wrong.StatusCode != 400 || string(ub) != string(wb) {
		t.Errorf("unknown user %d %s vs wrong password %d %s", unknown.StatusCode, ub, wrong.StatusCode, wb)
	}
	if !strings.Contains(string(ub), `"invalid_grant"`) {
		t.Errorf("body %s", ub)
	}
}

func TestLoginThrottleGrowsAndForgets(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	bad := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong-password"}}
	for i := range authn.DefaultFreeFailures {
		if resp, _ := e.tokenReq(bad); resp.StatusCode != 400 {
			t.Fatalf("failure %d: %d", i, resp.StatusCode)
		}
	}
	// The 6th failure starts a delay; during it even the right password waits.
	if resp, _ := e.tokenReq(bad); resp.StatusCode != 400 {
		t.Fatalf("6th failure: %d", resp.StatusCode)
	}
	resp, b := e.tokenReq(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}})
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "temporarily_unavailable") {
		t.Fatalf("throttled: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	// An unknown username is throttled the same way: no enumeration.
	ghost := url.Values{"grant_type": {"password"}, "username": {"ghost"}, "password": {"wrong-password"}}
	for range authn.DefaultFreeFailures + 1 {
		e.tokenReq(ghost)
	}
	if resp, _ := e.tokenReq(ghost); resp.StatusCode != 429 {
		t.Errorf("unknown user not throttled alike: %d", resp.StatusCode)
	}
	// Not a permanent lockout: after the delay the owner gets in.
	e.clock.Advance(authn.DefaultMaxDelay)
	e.login("alice", alicePass)
}

func TestScopeNarrowing(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	tr := e.login("alice", alicePass, server.ScopeItemsRead)
	if tr.Scope != server.ScopeItemsRead {
		t.Fatalf("scope %q", tr.Scope)
	}
	if got := e.status("/items/", tr.AccessToken); got != 200 {
		t.Errorf("GET /items/ with items:read: %d", got)
	}
	resp, _ := e.call("POST", "/items/", "application/json", `{"name":"x","price":1}`, bearer(tr.AccessToken))
	if resp.StatusCode != 403 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Errorf("POST /items/ with items:read only: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// A user cannot ask for an admin scope.
	resp, b := e.tokenReq(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}, "scope": {"users:admin"}})
	if resp.StatusCode != 400 || !strings.Contains(string(b), "invalid_scope") {
		t.Errorf("escalation: %d %s", resp.StatusCode, b)
	}
	// Nor can a refresh widen a narrowed grant... nor an admin-only call pass.
	if got := e.status("/protected", tr.AccessToken); got != 200 {
		t.Errorf("/protected needs no scope: %d", got)
	}
	resp, _ = e.call("POST", "/admin/keys/rotate", "", "", bearer(tr.AccessToken))
	if resp.StatusCode != 403 {
		t.Errorf("user rotating keys: %d", resp.StatusCode)
	}
}

func TestPasswordChangeRevokesEverything(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	tr := e.login("alice", alicePass)
	other := e.login("alice", alicePass)
	const next = "a brand new passphrase 42"
	resp, b := e.call("PUT", "/users/me/password", "application/json",
		`{"current_password":"not it at all","new_password":"`+next+`"}`, bearer(tr.AccessToken))
	if resp.StatusCode != 422 || strings.Contains(string(b), "not it at all") {
		t.Fatalf("wrong current password: %d %s", resp.StatusCode, b)
	}
	resp, b = e.call("PUT", "/users/me/password", "application/json",
		`{"current_password":"`+alicePass+`","new_password":"password"}`, bearer(tr.AccessToken))
	if resp.StatusCode != 422 || strings.Contains(string(b), `"password"`+"}") {
		t.Fatalf("common new password: %d %s", resp.StatusCode, b)
	}
	resp, b = e.call("PUT", "/users/me/password", "application/json",
		`{"current_password":"`+alicePass+`","new_password":"`+next+`"}`, bearer(tr.AccessToken))
	if resp.StatusCode != 204 {
		t.Fatalf("change: %d %s", resp.StatusCode, b)
	}
	for _, tok := range []string{tr.AccessToken, other.AccessToken} {
		if got := e.status("/protected", tok); got != 401 {
			t.Errorf("token after password change: %d", got)
		}
	}
	if resp, _, _ := e.refresh(other.RefreshToken); resp.StatusCode != 400 {
		t.Errorf("refresh after password change: %d", resp.StatusCode)
	}
	if resp, _ := e.tokenReq(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}}); resp.StatusCode != 400 {
		t.Errorf("old password still works: %d", resp.StatusCode)
	}
	e.login("alice", next)
}

func TestRoleChangeAndDisableRevokeAtOnce(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	ctx := context.Background()
	root := e.login("root", adminPass)
	alice := e.login("alice", alicePass)
	u, err := e.store.GetUserByName(ctx, "root")
	if err != nil {
		t.Fatal(err)
	}
	// The only admin cannot demote themself.
	if _, err := e.svc.SetRole(ctx, u.ID, server.RoleUser, "test"); err == nil {
		t.Fatal("demoted the last admin")
	}
	a, _ := e.store.GetUserByName(ctx, "alice")
	if _, err := e.svc.SetDisabled(ctx, a.ID, true, "test"); err != nil {
		t.Fatal(err)
	}
	if got := e.status("/protected", alice.AccessToken); got != 401 {
		t.Errorf("disabled user's token: %d", got)
	}
	if resp, _, _ := e.refresh(alice.RefreshToken); resp.StatusCode != 400 {
		t.Errorf("disabled user's refresh: %d", resp.StatusCode)
	}
	if resp, _ := e.tokenReq(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}}); resp.StatusCode != 400 {
		t.Errorf("disabled user logs in: %d", resp.StatusCode)
	}
	if got := e.status("/protected", root.AccessToken); got != 200 {
		t.Errorf("another user's token was revoked too: %d", got)
	}
}

func TestKeyRotationLogsNobodyOut(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	root := e.login("root", adminPass)
	user := e.login("alice", alicePass)
	kidOf := func(tok string) string {
		h, _, _ := strings.Cut(tok, ".")
		b, _ := base64.RawURLEncoding.DecodeString(h)
		var hdr struct {
			Kid string `json:"kid"`
		}
		_ = json.Unmarshal(b, &hdr)
		return hdr.Kid
	}
	_, jwks := e.call("GET", "/.well-known/jwks.json", "", "", nil)
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil || len(set.Keys) != 2 {
		t.Fatalf("JWKS before rotation: %s", jwks)
	}
	resp, b := e.call("POST", "/admin/keys/rotate", "", "", bearer(root.AccessToken))
	if resp.StatusCode != 200 {
		t.Fatalf("rotate: %d %s", resp.StatusCode, b)
	}
	if got := e.status("/protected", user.AccessToken); got != 200 {
		t.Errorf("a token signed before the rotation: %d", got)
	}
	fresh := e.login("alice", alicePass)
	if kidOf(fresh.AccessToken) == kidOf(user.AccessToken) {
		t.Error("the new token was signed by the old key")
	}
	_, jwks = e.call("GET", "/.well-known/jwks.json", "", "", nil)
	if err := json.Unmarshal(jwks, &set); err != nil || len(set.Keys) != 3 {
		t.Fatalf("JWKS after rotation (next, active, retiring): %s", jwks)
	}
	for _, k := range set.Keys {
		if k.D != "" {
			t.Fatal("JWKS publishes private key material")
		}
	}
	// Once every token of the old key has expired, it stops verifying.
	e.clock.Advance(16 * time.Minute)
	if _, err := e.ring.Maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.ring.Verifier(kidOf(user.AccessToken)); ok {
		t.Error("a retired key still verifies")
	}
}

// forge signs claims with key, under the header fields given.
func forge(t *testing.T, method jwt.SigningMethod, key any, hdr map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range hdr {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestHostileTokens: every hostile token gets 401 with error="invalid_token"
// and the same body, never a 500.
func TestHostileTokens(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	good := e.login("alice", alicePass).AccessToken
	sk, err := e.ring.Signer()
	if err != nil {
		t.Fatal(err)
	}
	vk, _ := e.ring.Verifier(sk.ID)
	pub := vk.Key.(ed25519.PublicKey)
	u, _ := e.store.GetUserByName(context.Background(), "alice")
	now := e.clock.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": testIssuer, "aud": testAudience, "sub": u.ID, "exp": now.Add(10 * time.Minute).Unix(),
			"iat": now.Unix(), "nbf": now.Unix(), "jti": "AAAAAAAAAAAAAAAAAAAAAA", "scope": "items:read users:admin", "sid": "forged-session"}
		if mod != nil {
			mod(c)
		}
		return c
	}
	hdr := map[string]any{"typ": "at+jwt", "kid": sk.ID}
	ed := jwt.SigningMethodEdDSA
	parts := strings.Split(good, ".")
	seg := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	tamperedPayload := func() string {
		b, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		m["scope"] = "items:read items:write users:admin keys:admin"
		return parts[0] + "." + seg(m) + "." + parts[2]
	}
	none := func(alg string) string {
		return seg(map[string]any{"alg": alg, "typ": "at+jwt", "kid": sk.ID}) + "." + seg(claims(nil)) + "."
	}
	tests := []struct{ name, tok string }{
		{"alg none", none("none")},
		{"alg None", none("None")},
		{"alg NONE", none("NONE")},
		{"alg nOnE with signature", none("nOnE") + parts[2]},
		{"HS256 signed with the public key", forge(t, jwt.SigningMethodHS256, []byte(pub), hdr, claims(nil))},
		{"kid path traversal", forge(t, ed, sk.Key, map[string]any{"typ": "at+jwt", "kid": "../../../../etc/passwd"}, claims(nil))},
		{"kid SQL", forge(t, ed, sk.Key, map[string]any{"typ": "at+jwt", "kid": "' OR 1=1--"}, claims(nil))},
		{"no kid", forge(t, ed, sk.Key, map[string]any{"typ": "at+jwt"}, claims(nil))},
		{"embedded jwk", forge(t, ed, sk.Key, map[string]any{"typ": "at+jwt", "kid": sk.ID, "jwk": map[string]any{"kty": "OKP"}}, claims(nil))},
		{"jku", forge(t, ed, sk.Key, map[string]any{"typ": "at+jwt", "kid": sk.ID, "jku": "https://evil.example/jwks"}, claims(nil))},
		{"x5u", forge(t, ed, sk.Key, map[string]any{"typ": "at+jwt", "kid": sk.ID, "x5u": "https://evil.example/cert"}, claims(nil))},
		{"typ JWT", forge(t, ed, sk.Key, map[string]any{"typ": "JWT", "kid": sk.ID}, claims(nil))},
		{"no typ", forge(t, ed, sk.Key, map[string]any{"kid": sk.ID}, claims(nil))},
		{"wrong iss", forge(t, ed, sk.Key, hdr, claims(func(c jwt.MapClaims) { c["iss"] = "evil" }))},
		{"wrong aud", forge(t, ed, sk.Key, hdr, claims(func(c jwt.MapClaims) { c["aud"] = "other-api" }))},
		{"no exp", forge(t, ed, sk.Key, hdr, claims(func(c jwt.MapClaims) { delete(c, "exp") }))},
		{"no sub", forge(t, ed, sk.Key, hdr, claims(func(c jwt.MapClaims) { delete(c, "sub") }))},
		{"no jti", forge(t, ed, sk.Key, hdr, claims(func(c jwt.MapClaims) { delete(c, "jti") }))},
		{"no sid", forge(t, ed, sk.Key, hdr, claims(func(c jwt.MapClaims) { delete(c, "sid") }))},
		{"no iat", forge(t, ed, sk.Key, hdr, claims(func(c jwt.MapClaims) { delete(c, "iat") }))},
		{"expired", forge(t, ed, sk.Key, hdr, claims(func(c jwt.MapClaims) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-time.Hour).Unix(), now.Add(-time.Hour).Unix(), now.Add(-45*time.Minute).Unix()
		}))},
		{"future nbf", forge(t, ed, sk.Key, hdr, claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(5 * time.Minute).Unix() }))},
		{"ten-year lifetime", forge(t, ed, sk.Key, hdr, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(10 * 365 * 24 * time.Hour).Unix() }))},
		{"tampered payload", tamperedPayload()},
		{"stripped signature", parts[0] + "." + parts[1] + "."},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(e.login("root", adminPass).AccessToken, ".")[2]},
		{"two segments", parts[0] + "." + parts[1]},
		{"four segments", good + ".x"},
		{"garbage", "not-a-token"},
		{"8 KiB of dots", strings.Repeat(".", 8<<10)},
		{"20 KB of dots", strings.Repeat(".", 20_000)},
		{"non-base64", "!!!.@@@.###"},
	}
	var refBody string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := e.call("GET", "/protected", "", "", bearer(tt.tok))
			if resp.StatusCode != 401 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
			}
			// The body never says which check failed.
			var p struct{ Detail string }
			_ = json.Unmarshal(b, &p)
			if refBody == "" {
				refBody = p.Detail
			} else if p.Detail != refBody {
				t.Errorf("detail %q differs from %q", p.Detail, refBody)
			}
		})
	}
	// 100 KB of dots is over the header cap: refused before authentication
	// with 431, never a 500.
	resp, _ := e.call("GET", "/protected", "", "", bearer(strings.Repeat(".", 100_000)))
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KB of dots: %d", resp.StatusCode)
	}
	if got := e.status("/protected", good); got != 200 {
		t.Errorf("the good token: %d", got)
	}
}

func TestMalformedTokenRequests(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	tests := []struct {
		name, ctype, body string
		status            int
		code              string
	}{
		{"no grant_type", form, "username=alice&password=x", 400, "invalid_request"},
		{"unknown grant", form, "grant_type=client_credentials", 400, "unsupported_grant_type"},
		{"implicit-ish grant", form, "grant_type=authorization_code&code=x", 400, "unsupported_grant_type"},
		{"missing password", form, "grant_type=password&username=alice", 400, "invalid_request"},
		{"missing refresh token", form, "grant_type=refresh_token", 400, "invalid_request"},
		{"repeated parameter", form, "grant_type=password&username=alice&username=root&password=x", 400, "invalid_request"},
		{"bad percent-encoding", form, "grant_type=password&username=%zz&password=x", 400, "invalid_request"},
		{"JSON body", "application/json", `{"grant_type":"password"}`, 400, "invalid_request"},
		{"empty scope", form, "grant_type=password&username=alice&password=x&scope=", 400, "invalid_scope"},
		{"garbage refresh token", form, "grant_type=refresh_token&refresh_token=%27%20OR%201%3D1--", 400, "invalid_grant"},
		{"long refresh token", form, "grant_type=refresh_token&refresh_token=" + strings.Repeat("A", 4000), 400, "invalid_grant"},
		{"NUL in username", form, "grant_type=password&username=al%00ice&password=xxxxxxxx", 400, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := e.call("POST", "/token", tt.ctype, tt.body, nil)
			var oe httpapi.OAuthError
			_ = json.Unmarshal(b, &oe)
			if resp.StatusCode != tt.status || oe.Error != tt.code {
				t.Errorf("%d %s, want %d %s", resp.StatusCode, b, tt.status, tt.code)
			}
		})
	}
	t.Run("oversized body", func(t *testing.T) {
		resp, _ := e.call("POST", "/token", form, "grant_type=password&password="+strings.Repeat("a", 20_000), nil)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

func TestAuthLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	tr := e.login("alice", alicePass)
	e.refresh(tr.RefreshToken)
	e.tokenReq(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong-password-here"}})
	e.call("POST", "/logout", "", "", bearer(tr.AccessToken))
	logs := e.logs.String()
	for _, secret := range []string{alicePass, "wrong-password-here", tr.AccessToken, tr.RefreshToken, tr.DeviceToken} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a secret: %.20s...", secret)
		}
	}
	evs, err := e.store.ListEvents(context.Background(), server.EventFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, ev := range evs {
		types[ev.Type]++
		for _, secret := range []string{alicePass, "wrong-password-here", tr.AccessToken, tr.RefreshToken, tr.DeviceToken} {
			if strings.Contains(ev.Detail+ev.Username, secret) {
				t.Errorf("an event holds a secret: %+v", ev)
			}
		}
	}
	for _, want := range []string{server.EventLoginSuccess, server.EventLoginFailure, server.EventLogout} {
		if types[want] == 0 {
			t.Errorf("no %s event in %v", want, types)
		}
	}
}

// TestAuditNamesTheResolvedClient: security events record the client as
// the API resolves it: the forwarded address from a trusted proxy, the
// TCP peer (never a spoofed header) otherwise.
func TestAuditNamesTheResolvedClient(t *testing.T) {
	t.Parallel()
	trusted, err := clientip.New(clientip.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		ip   *clientip.Resolver
		want string
	}{
		{"peer trusted as a proxy", trusted, "203.0.113.9"},
		{"no trusted proxies", nil, "127.0.0.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newAuthEnvWith(t, envOptions{scale: 100, clientIP: tt.ip})
			form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"not the password"}}
			e.call("POST", "/token", "application/x-www-form-urlencoded", form.Encode(), map[string]string{"X-Forwarded-For": "203.0.113.9"})
			evs, err := e.store.ListEvents(context.Background(), server.EventFilter{Type: server.EventLoginFailure, Limit: 10})
			if err != nil || len(evs) != 1 || evs[0].ClientIP != tt.want {
				t.Fatalf("events %+v (%v), want one from %s", evs, err, tt.want)
			}
		})
	}
}

// newProxiedEnv is an authEnv behind a trusted proxy (the test's own
// address), so that each request names its client in X-Forwarded-For,
// on a frozen clock; failures is the LoginFailures spec ("": none).
func newProxiedEnv(t *testing.T, failures string) *authEnv {
	t.Helper()
	ip, err := clientip.New(clientip.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	e := newAuthEnvWith(t, envOptions{scale: 100, failures: failures, clientIP: ip})
	e.clock.Freeze()
	return e
}

// tokenFrom sends POST /token from the client address ip.
func (e *authEnv) tokenFrom(ip string, v url.Values) (*http.Response, []byte) {
	e.t.Helper()
	return e.call("POST", "/token", form, v.Encode(), map[string]string{"X-Forwarded-For": ip})
}

// passwordGrant is the form of a password grant, with a device_token
// when device is not "".
func passwordGrant(user, pw, device string) url.Values {
	v := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}}
	if device != "" {
		v.Set("device_token", device)
	}
	return v
}

// deviceOf is the device_token member of a token answer ("" for none).
func deviceOf(b []byte) string {
	var v struct {
		DeviceToken string `json:"device_token"`
	}
	_ = json.Unmarshal(b, &v)
	return v.DeviceToken
}

// hammer sends n wrong passwords for user from n client addresses (a
// distributed guessing attack); every answer must be 400 or 429.
func (e *authEnv) hammer(user string, n int) {
	e.t.Helper()
	for i := range n {
		resp, b := e.tokenFrom(fmt.Sprintf("203.0.113.%d", i%16), passwordGrant(user, fmt.Sprint("guess number ", i), ""))
		if resp.StatusCode != 400 && resp.StatusCode != 429 {
			e.t.Fatalf("attack attempt %d: %d %s", i, resp.StatusCode, b)
		}
	}
}

// TestDeviceTokenSurvivesAHammeredAccount: an attacker hammering an
// account with wrong passwords from many addresses (past every free
// failure, the per-username failure limit included) does not stop its
// owner logging in with the device_token an earlier login returned, from
// anywhere; a forged, foreign, malformed or expired device token gives no
// such trust.
func TestDeviceTokenSurvivesAHammeredAccount(t *testing.T) {
	t.Parallel()
	e := newProxiedEnv(t, "5/minute")
	const home = "198.51.100.7"
	resp, b := e.tokenFrom(home, passwordGrant("root", adminPass, ""))
	dev := deviceOf(b)
	if resp.StatusCode != 200 || !strings.HasPrefix(dev, authn.DevicePrefix) {
		t.Errorf("the first login: %d, device_token %q", resp.StatusCode, dev)
	}
	_, b = e.tokenFrom(home, passwordGrant("alice", alicePass, ""))
	aliceDev := deviceOf(b)

	e.hammer("root", 60)
	flip := []byte(dev)
	if len(flip) > 40 {
		flip[40] ^= 'A' ^ 'B'
	}
	for _, tt := range []struct{ name, device string }{
		{"no device token", ""},
		{"forged (one character changed)", string(flip)},
		{"another account's", aliceDev},
		{"another version", "dv2." + strings.TrimPrefix(dev, authn.DevicePrefix)},
		{"garbage", "not a device token"},
		{"oversized", strings.Repeat("A", 4000)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := e.tokenFrom("192.0.2.50", passwordGrant("root", adminPass, tt.device))
			if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"temporarily_unavailable"`) {
				t.Errorf("%d %q %s, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), b)
			}
		})
	}
	t.Run("the known device gets in", func(t *testing.T) {
		for _, ip := range []string{home, "192.0.2.51"} { // trust is the credential's, not the address's
			resp, b := e.tokenFrom(ip, passwordGrant("root", adminPass, dev))
			if resp.StatusCode != 200 {
				t.Fatalf("from %s: %d %s", ip, resp.StatusCode, b)
			}
			if next := deviceOf(b); !strings.HasPrefix(next, authn.DevicePrefix) || next == dev {
				t.Errorf("the answer's device_token %q, want a fresh one", next)
			}
		}
	})
	t.Run("expired", func(t *testing.T) {
		e.clock.Advance(authn.DefaultDeviceLifetime)
		e.hammer("root", 60)
		if resp, b := e.tokenFrom(home, passwordGrant("root", adminPass, dev)); resp.StatusCode != 429 {
			t.Errorf("a device token a year old: %d %s, want 429", resp.StatusCode, b)
		}
	})
}

// TestDeviceTokenLocksOutAfterItsOwnFailures: failures made with a device
// token count against it alone (the hammered account does not slow them),
// and after five of them it is no longer trusted; another device token of
// the same account still is.
func TestDeviceTokenLocksOutAfterItsOwnFailures(t *testing.T) {
	t.Parallel()
	e := newProxiedEnv(t, "5/minute")
	_, b := e.tokenFrom("198.51.100.7", passwordGrant("alice", alicePass, ""))
	stolen := deviceOf(b)
	_, b = e.tokenFrom("198.51.100.8", passwordGrant("alice", alicePass, ""))
	other := deviceOf(b)
	e.hammer("alice", 60)
	for i := range authn.DefaultDeviceFailures {
		resp, b := e.tokenFrom("192.0.2.66", passwordGrant("alice", "wrong guess with the device", stolen))
		if resp.StatusCode != 400 || !strings.Contains(string(b), `"invalid_grant"`) || deviceOf(b) != "" {
			t.Fatalf("failure %d with the device token: %d %s, want invalid_grant", i+1, resp.StatusCode, b)
		}
	}
	if resp, b := e.tokenFrom("192.0.2.66", passwordGrant("alice", alicePass, stolen)); resp.StatusCode != 429 {
		t.Errorf("the locked-out device token with the right password: %d %s, want 429", resp.StatusCode, b)
	}
	if resp, b := e.tokenFrom("198.51.100.8", passwordGrant("alice", alicePass, other)); resp.StatusCode != 200 {
		t.Errorf("another device token of the account: %d %s", resp.StatusCode, b)
	}
}

// TestUntrustedThrottlePerClientNetwork: without a device token, failures
// slow the account for the client network they came from (an IPv4
// address, an IPv6 /64) before they slow it for everyone.
func TestUntrustedThrottlePerClientNetwork(t *testing.T) {
	t.Parallel()
	e := newProxiedEnv(t, "")
	for _, tt := range []struct{ attacker, sameNet, otherNet string }{
		{"203.0.113.9", "203.0.113.9", "203.0.113.10"},
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::7", "2001:db8:1:3::1"},
	} {
		t.Run(tt.attacker, func(t *testing.T) {
			for range authn.DefaultFreeFailures + 1 { // the free failures, then one that starts a delay
				if resp, b := e.tokenFrom(tt.attacker, passwordGrant("alice", "wrong password!", "")); resp.StatusCode != 400 {
					t.Fatalf("failure: %d %s", resp.StatusCode, b)
				}
			}
			if resp, _ := e.tokenFrom(tt.sameNet, passwordGrant("alice", alicePass, "")); resp.StatusCode != 429 {
				t.Errorf("the attacker's network: %d, want 429", resp.StatusCode)
			}
			if resp, b := e.tokenFrom(tt.otherNet, passwordGrant("alice", alicePass, "")); resp.StatusCode != 200 {
				t.Errorf("another network: %d %s, want 200", resp.StatusCode, b)
			}
		})
	}
}
