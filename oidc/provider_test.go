package oidc_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fortapi/fortapi/oidc"
)

// testKey is a signing key of the test provider.
type testKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

func (k testKey) jwk() map[string]any {
	enc := base64.RawURLEncoding.EncodeToString
	switch pub := k.priv.Public().(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "kid": k.kid, "use": "sig", "alg": k.alg,
			"n": enc(pub.N.Bytes()), "e": enc(big.NewInt(int64(pub.E)).Bytes())}
	case *ecdsa.PublicKey:
		b, _ := pub.Bytes()
		return map[string]any{"kty": "EC", "kid": k.kid, "crv": "P-256", "x": enc(b[1:33]), "y": enc(b[33:])}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "kid": k.kid, "crv": "Ed25519", "x": enc(pub)}
	}
	panic("unknown key")
}

var keys = sync.OnceValue(func() map[string]testKey {
	r1, _ := rsa.GenerateKey(rand.Reader, 2048)
	r2, _ := rsa.GenerateKey(rand.Reader, 2048)
	e1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	return map[string]testKey{
		"rsa":     {"rsa-1", "RS256", r1},
		"rsa2":    {"rsa-2", "RS256", r2},
		"ec":      {"ec-1", "ES256", e1},
		"ed":      {"ed-1", "EdDSA", ed},
		"forged":  {"rsa-1", "RS256", r2}, // the kid of rsa, another key
		"rotated": {"rsa-new", "RS256", r2},
	}
})

// idp is an OpenID provider served over TLS by the test.
type idp struct {
	srv        *httptest.Server
	issuer     string
	mu         sync.Mutex
	jwks       []byte
	discIssuer string // the issuer its discovery document claims
	redirect   string // when set, the JWKS answers a redirect there
	jwksHits   atomic.Int64
	discHits   atomic.Int64
}

func newIDP(t testing.TB, ks ...testKey) *idp {
	t.Helper()
	p := &idp{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.discHits.Add(1)
		p.mu.Lock()
		iss := p.discIssuer
		p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "jwks_uri": p.issuer + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		p.jwksHits.Add(1)
		p.mu.Lock()
		b, to := p.jwks, p.redirect
		p.mu.Unlock()
		if to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		_, _ = w.Write(b)
	})
	p.srv = httptest.NewUnstartedServer(mux)
	p.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted-certificate case
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	p.issuer = p.srv.URL
	p.discIssuer = p.issuer
	p.setKeys(ks...)
	return p
}

func (p *idp) setKeys(ks ...testKey) {
	var set []map[string]any
	for _, k := range ks {
		set = append(set, k.jwk())
	}
	b, _ := json.Marshal(map[string]any{"keys": set})
	p.mu.Lock()
	p.jwks = b
	p.mu.Unlock()
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func (p *idp) provider(t testing.TB, mod func(*oidc.Options)) (*oidc.Provider, *clock) {
	t.Helper()
	c := &clock{t: t0}
	o := oidc.Options{Issuer: p.issuer, Audiences: []string{"api://items"}, HTTPClient: p.srv.Client(), Now: c.Now,
		Logger: slog.New(slog.DiscardHandler),
		ScopeRules: []oidc.ScopeRule{{Claim: "scope", Value: "read:items", Scope: "items:read"},
			{Claim: "scp", Value: "Items.Write", Scope: "items:write"},
			{Claim: "realm_access.roles", Value: "admin", Scope: "users:admin"}}}
	if mod != nil {
		mod(&o)
	}
	prov, err := oidc.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return prov, c
}

// sign makes a token with claims (defaults filled in unless set to nil)
// and header members hdr.
func sign(t testing.TB, p *idp, k testKey, claims map[string]any, hdr map[string]any) string {
	t.Helper()
	c := jwt.MapClaims{"iss": p.issuer, "sub": "user-42", "aud": "api://items",
		"exp": t0.Add(5 * time.Minute).Unix(), "iat": t0.Unix(), "jti": "j1"}
	for n, v := range claims {
		if v == nil {
			delete(c, n)
		} else {
			c[n] = v
		}
	}
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(k.alg), c)
	tok.Header["kid"] = k.kid
	tok.Header["typ"] = "at+jwt"
	for n, v := range hdr {
		if v == nil {
			delete(tok.Header, n)
		} else {
			tok.Header[n] = v
		}
	}
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func encodeSeg(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerify(t *testing.T) {
	t.Parallel()
	ks := keys()
	p := newIDP(t, ks["rsa"], ks["ec"], ks["ed"])
	prov, _ := p.provider(t, nil)
	pubDER, _ := x509.MarshalPKIXPublicKey(ks["rsa"].priv.Public())
	payload := encodeSeg(map[string]any{"iss": p.issuer, "sub": "x", "aud": "api://items", "exp": t0.Add(time.Minute).Unix()})
	hsWith := func(secret []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": p.issuer, "sub": "x", "aud": "api://items", "exp": t0.Add(time.Minute).Unix()})
		tok.Header["kid"] = "rsa-1"
		s, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	valid := sign(t, p, ks["rsa"], nil, nil)
	tests := []struct {
		name   string
		tok    string
		why    string   // a part of the refusal; "" accepted
		scopes []string // when accepted
	}{
		{"RS256", valid, "", nil},
		{"ES256", sign(t, p, ks["ec"], map[string]any{"scope": "read:items other"}, nil), "", []string{"items:read"}},
		{"EdDSA", sign(t, p, ks["ed"], map[string]any{"scp": []string{"Items.Write", "Items.Read"}}, nil), "", []string{"items:write"}},
		{"nested roles and aud array", sign(t, p, ks["rsa"], map[string]any{"aud": []string{"other", "api://items"},
			"realm_access": map[string]any{"roles": []string{"admin"}}, "scope": "read:items"}, nil), "", []string{"items:read", "users:admin"}},
		{"typ absent", sign(t, p, ks["rsa"], nil, map[string]any{"typ": nil}), "", nil},
		{"typ JWT", sign(t, p, ks["rsa"], nil, map[string]any{"typ": "JWT"}), "", nil},
		{"typ application/at+jwt", sign(t, p, ks["rsa"], nil, map[string]any{"typ": "application/at+jwt"}), "", nil},
		{"within leeway", sign(t, p, ks["rsa"], map[string]any{"exp": t0.Add(-20 * time.Second).Unix(), "iat": t0.Add(-time.Minute).Unix()}, nil), "", nil},

		{"forged (another key, same kid)", sign(t, p, ks["forged"], nil, nil), "bad signature", nil},
		{"wrong issuer", sign(t, p, ks["rsa"], map[string]any{"iss": p.issuer + "/"}, nil), "wrong issuer", nil},
		{"wrong audience", sign(t, p, ks["rsa"], map[string]any{"aud": "api://other"}, nil), "wrong audience", nil},
		{"no audience", sign(t, p, ks["rsa"], map[string]any{"aud": nil}, nil), "no audience", nil},
		{"expired", sign(t, p, ks["rsa"], map[string]any{"exp": t0.Add(-time.Hour).Unix()}, nil), "expired", nil},
		{"beyond leeway", sign(t, p, ks["rsa"], map[string]any{"exp": t0.Add(-31 * time.Second).Unix()}, nil), "expired", nil},
		{"no exp", sign(t, p, ks["rsa"], map[string]any{"exp": nil}, nil), "exp missing", nil},
		{"exp too far ahead", sign(t, p, ks["rsa"], map[string]any{"exp": t0.Add(48 * time.Hour).Unix()}, nil), "longest lifetime", nil},
		{"nbf in the future", sign(t, p, ks["rsa"], map[string]any{"nbf": t0.Add(time.Minute).Unix()}, nil), "not valid yet", nil},
		{"iat in the future", sign(t, p, ks["rsa"], map[string]any{"iat": t0.Add(time.Minute).Unix()}, nil), "issued in the future", nil},
		{"no sub", sign(t, p, ks["rsa"], map[string]any{"sub": nil}, nil), "sub missing", nil},
		{"alg none", encodeSeg(map[string]any{"alg": "none", "kid": "rsa-1"}) + "." + payload + ".", "not a signed JWT", nil},
		{"alg none with a signature", encodeSeg(map[string]any{"alg": "none", "kid": "rsa-1"}) + "." + payload + ".AAAA", "alg does not match", nil},
		{"HS256 keyed with the public key (DER)", hsWith(pubDER), "alg does not match", nil},
		{"HS256 keyed with the JWK n", hsWith(ks["rsa"].priv.Public().(*rsa.PublicKey).N.Bytes()), "alg does not match", nil},
		{"RS256 token on the ES256 key", sign(t, p, testKey{"ec-1", "RS256", ks["rsa"].priv}, nil, nil), "alg does not match", nil},
		{"embedded jwk", sign(t, p, ks["rsa"], nil, map[string]any{"jwk": map[string]any{"kty": "oct"}}), "not accepted", nil},
		{"jku", sign(t, p, ks["rsa"], nil, map[string]any{"jku": "https://evil/keys"}), "not accepted", nil},
		{"no kid", sign(t, p, ks["rsa"], nil, map[string]any{"kid": nil}), "kid missing", nil},
		{"wrong typ", sign(t, p, ks["rsa"], nil, map[string]any{"typ": "secevent+jwt"}), "typ", nil},
		{"duplicate claim", encodeSeg(map[string]any{"alg": "RS256", "kid": "rsa-1"}) + "." +
			base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"a","sub":"b"}`)) + ".AAAA", "bad signature", nil},
		{"garbage", "a.b", "compact form", nil},
		{"oversize", strings.Repeat("a", oidc.MaxTokenBytes+1), "longer than", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := prov.Verify(context.Background(), tc.tok)
			if tc.why == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if c.Subject == "" || c.Issuer != p.issuer || fmt.Sprint(c.Scopes) != fmt.Sprint(tc.scopes) && (len(c.Scopes)+len(tc.scopes)) > 0 {
					t.Fatalf("claims %+v, want scopes %v", c, tc.scopes)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want a refusal for %q", tc.why)
			}
			if !errors.Is(err, oidc.ErrInvalidToken) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("error %v, want ErrInvalidToken with %q", err, tc.why)
			}
		})
	}
}

func TestRequireTyp(t *testing.T) {
	t.Parallel()
	ks := keys()
	p := newIDP(t, ks["rsa"])
	prov, _ := p.provider(t, func(o *oidc.Options) { o.RequireTyp = true })
	for _, typ := range []any{nil, "JWT"} {
		if _, err := prov.Verify(context.Background(), sign(t, p, ks["rsa"], nil, map[string]any{"typ": typ})); err == nil {
			t.Errorf("typ %v accepted with RequireTyp", typ)
		}
	}
	if _, err := prov.Verify(context.Background(), sign(t, p, ks["rsa"], nil, nil)); err != nil {
		t.Errorf("at+jwt refused: %v", err)
	}
}

func TestUnknownKidRefresh(t *testing.T) {
	t.Parallel()
	ks := keys()
	p := newIDP(t, ks["rsa"])
	prov, clk := p.provider(t, nil)
	ctx := context.Background()
	if _, err := prov.Verify(ctx, sign(t, p, ks["rsa"], nil, nil)); err != nil {
		t.Fatal(err)
	}
	rotated := sign(t, p, ks["rotated"], nil, nil)
	// Unknown kid, not rotated in: one fetch, refused.
	clk.Add(11 * time.Second)
	if _, err := prov.Verify(ctx, rotated); !errors.Is(err, oidc.ErrInvalidToken) {
		t.Fatalf("unknown kid: %v", err)
	}
	if n := p.jwksHits.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches, want 2", n)
	}
	// Rotated in at the provider, but within the interval: no fetch.
	p.setKeys(ks["rsa"], ks["rotated"])
	if _, err := prov.Verify(ctx, rotated); !errors.Is(err, oidc.ErrInvalidToken) {
		t.Fatalf("within the interval: %v", err)
	}
	if n := p.jwksHits.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches within the interval, want 2", n)
	}
	// After the interval: refreshed, accepted.
	clk.Add(10 * time.Second)
	c, err := prov.Verify(ctx, rotated)
	if err != nil {
		t.Fatalf("rotated key refused after the interval: %v", err)
	}
	if c.Subject != "user-42" || p.jwksHits.Load() != 3 || p.discHits.Load() != 1 {
		t.Fatalf("claims %+v, %d JWKS and %d discovery fetches, want 3 and 1", c, p.jwksHits.Load(), p.discHits.Load())
	}
	// A key withdrawn at the provider stops verifying once the keys are
	// older than KeysMaxAge.
	p.setKeys(ks["rotated"])
	clk.Add(oidc.DefaultKeysMaxAge + time.Second)
	if _, err := prov.Verify(ctx, sign(t, p, ks["rsa"], map[string]any{"exp": clk.Now().Add(time.Minute).Unix(), "iat": nil}, nil)); !errors.Is(err, oidc.ErrInvalidToken) {
		t.Fatalf("withdrawn key: %v", err)
	}
}

// TestJWKSFlood: 1000 tokens with random unknown kids, in parallel, make
// the provider fetch the JWKS once (the interval has not passed), and a
// second wave after the interval once more.
func TestJWKSFlood(t *testing.T) {
	t.Parallel()
	ks := keys()
	p := newIDP(t, ks["ec"])
	prov, clk := p.provider(t, nil)
	ctx := context.Background()
	if _, err := prov.Verify(ctx, sign(t, p, ks["ec"], nil, nil)); err != nil {
		t.Fatal(err)
	}
	for wave := int64(1); wave <= 2; wave++ {
		clk.Add(10 * time.Second)
		var wg sync.WaitGroup
		var accepted atomic.Int64
		for i := range 1000 {
			kid := fmt.Sprintf("made-up-%d-%d", wave, i)
			tok := sign(t, p, testKey{kid, "ES256", ks["ec"].priv}, nil, nil)
			wg.Go(func() {
				if _, err := prov.Verify(ctx, tok); err == nil {
					accepted.Add(1)
				}
			})
		}
		wg.Wait()
		if accepted.Load() != 0 {
			t.Fatalf("%d tokens with unknown kids accepted", accepted.Load())
		}
		if n := p.jwksHits.Load(); n != 1+wave {
			t.Fatalf("wave %d: %d JWKS fetches, want %d", wave, n, 1+wave)
		}
	}
	if n := prov.Fetches(); n != 3 {
		t.Fatalf("Fetches() = %d, want 3", n)
	}
}

func TestFetchRefusals(t *testing.T) {
	t.Parallel()
	ks := keys()
	tests := []struct {
		name string
		set  func(*idp)
		mod  func(*oidc.Options)
		why  string
	}{
		{"discovery issuer mismatch", func(p *idp) { p.discIssuer = "https://evil.example" }, nil, "is not the configured"},
		{"discovery issuer with a trailing slash", func(p *idp) { p.discIssuer = p.issuer + "/" }, nil, "is not the configured"},
		{"oversize JWKS", func(p *idp) {
			p.jwks = []byte(`{"keys":[],"pad":"` + strings.Repeat("x", 300<<10) + `"}`)
		}, nil, "larger than"},
		{"oversize JWKS under a small limit", nil, func(o *oidc.Options) { o.MaxResponseBytes = 100 }, "larger than"},
		{"symmetric key in the JWKS", func(p *idp) { p.jwks = []byte(`{"keys":[{"kty":"oct","kid":"rsa-1","k":"c2VjcmV0"}]}`) }, nil, "symmetric"},
		{"JWKS redirected to plain http", func(p *idp) {
			plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(p.jwks) }))
			t.Cleanup(plain.Close)
			p.redirect = plain.URL + "/keys"
		}, nil, "redirected to http://"},
		{"untrusted TLS certificate", nil, func(o *oidc.Options) { o.HTTPClient = &http.Client{} }, "certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newIDP(t, ks["rsa"])
			if tc.set != nil {
				p.mu.Lock()
				tc.set(p)
				p.mu.Unlock()
			}
			prov, _ := p.provider(t, tc.mod)
			_, err := prov.Verify(context.Background(), sign(t, p, ks["rsa"], nil, nil))
			if !errors.Is(err, oidc.ErrUnavailable) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("error %v, want ErrUnavailable with %q", err, tc.why)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	aud := []string{"a"}
	tests := []struct {
		name string
		o    oidc.Options
		why  string
	}{
		{"http issuer", oidc.Options{Issuer: "http://idp.example", Audiences: aud}, "must use https"},
		{"http on a remote host with the loopback option", oidc.Options{Issuer: "http://idp.example", Audiences: aud, InsecureAllowLoopbackHTTP: true}, "loopback"},
		{"no audience", oidc.Options{Issuer: "https://idp.example"}, "audience"},
		{"query", oidc.Options{Issuer: "https://idp.example/?x=1", Audiences: aud}, "query"},
		{"relative", oidc.Options{Issuer: "idp.example", Audiences: aud}, "absolute"},
		{"leeway too long", oidc.Options{Issuer: "https://idp.example", Audiences: aud, Leeway: 2 * time.Minute}, "Leeway"},
		{"bad scope", oidc.Options{Issuer: "https://idp.example", Audiences: aud, ScopeRules: []oidc.ScopeRule{{"scope", "a", "b c"}}}, "not a scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := oidc.New(tc.o); err == nil || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("error %v, want one with %q", err, tc.why)
			}
		})
	}
	if _, err := oidc.New(oidc.Options{Issuer: "http://127.0.0.1:9/realms/x", Audiences: aud, InsecureAllowLoopbackHTTP: true}); err != nil {
		t.Fatalf("loopback http with the option: %v", err)
	}
}

func TestParseScopeRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want oidc.ScopeRule
		bad  bool
	}{
		{in: "scope[read:items]=items:read", want: oidc.ScopeRule{Claim: "scope", Value: "read:items", Scope: "items:read"}},
		{in: "https://example.com/roles[admin]=users:admin", want: oidc.ScopeRule{Claim: "https://example.com/roles", Value: "admin", Scope: "users:admin"}},
		{in: "groups[a]b]=items:read", want: oidc.ScopeRule{Claim: "groups", Value: "a]b", Scope: "items:read"}},
		{in: "scope=items:read", bad: true},
		{in: "scope[]=items:read", bad: true},
		{in: "[x]=items:read", bad: true},
		{in: "scope[x]=", bad: true},
		{in: "scope[x]=a b", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			r, err := oidc.ParseScopeRule(tc.in)
			if tc.bad != (err != nil) || !tc.bad && r != tc.want {
				t.Fatalf("ParseScopeRule(%q) = %+v, %v", tc.in, r, err)
			}
		})
	}
}

// TestNestedClaimDoesNotLeak: reading a dotted path must not make the
// nested object's members look like top-level claims to later rules.
func TestNestedClaimDoesNotLeak(t *testing.T) {
	t.Parallel()
	ks := keys()
	p := newIDP(t, ks["rsa"])
	prov, _ := p.provider(t, func(o *oidc.Options) {
		o.ScopeRules = []oidc.ScopeRule{{Claim: "realm_access.roles", Value: "admin", Scope: "users:admin"},
			{Claim: "scp", Value: "Items.Write", Scope: "items:write"}}
	})
	c, err := prov.Verify(context.Background(), sign(t, p, ks["rsa"], map[string]any{
		"realm_access": map[string]any{"roles": []string{"user"}, "scp": []string{"Items.Write"}}}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Scopes) != 0 {
		t.Fatalf("scopes %v from a nested member taken as a top-level claim", c.Scopes)
	}
}
