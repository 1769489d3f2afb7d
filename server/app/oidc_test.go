package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fortapi/fortapi/internal/pgtest"
	"github.com/fortapi/fortapi/oidc"
	"github.com/fortapi/fortapi/server"
)

// testIDP is an OpenID provider served over TLS on loopback by the test,
// with an RSA and an ECDSA key.
type testIDP struct {
	srv    *httptest.Server
	issuer string
	rsa    *rsa.PrivateKey
	ec     *ecdsa.PrivateKey
}

func newTestIDP(t *testing.T) *testIDP {
	t.Helper()
	p := &testIDP{}
	var err error
	if p.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if p.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	ecb, _ := p.ec.PublicKey.Bytes()
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]any{
		{"kty": "RSA", "kid": "r1", "alg": "RS256", "use": "sig", "n": enc(p.rsa.N.Bytes()), "e": enc(big.NewInt(int64(p.rsa.E)).Bytes())},
		{"kty": "EC", "kid": "e1", "crv": "P-256", "x": enc(ecb[1:33]), "y": enc(ecb[33:])},
	}})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": p.issuer, "jwks_uri": p.issuer + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(jwks) })
	p.srv = httptest.NewTLSServer(mux)
	t.Cleanup(p.srv.Close)
	p.issuer = p.srv.URL
	return p
}

// token signs an access token for sub with the claims extra.
func (p *testIDP) token(t *testing.T, sub string, ec bool, extra map[string]any) string {
	t.Helper()
	c := jwt.MapClaims{"iss": p.issuer, "sub": sub, "aud": "api://fortapi", "exp": time.Now().Add(5 * time.Minute).Unix(), "iat": time.Now().Unix()}
	for k, v := range extra {
		c[k] = v
	}
	m, kid, key := jwt.SigningMethod(jwt.SigningMethodRS256), "r1", any(p.rsa)
	if ec {
		m, kid, key = jwt.SigningMethodES256, "e1", p.ec
	}
	tok := jwt.NewWithClaims(m, c)
	tok.Header["kid"] = kid
	tok.Header["typ"] = "at+jwt"
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (p *testIDP) config(t *testing.T, provision bool) Config {
	cfg := testConfig(t)
	cfg.OIDC = []oidc.Options{{Issuer: p.issuer, Audiences: []string{"api://fortapi"}, HTTPClient: p.srv.Client(),
		ScopeRules: []oidc.ScopeRule{{Claim: "scope", Value: "items.read", Scope: server.ScopeItemsRead},
			{Claim: "roles", Value: "writer", Scope: server.ScopeItemsWrite},
			{Claim: "roles", Value: "admin", Scope: server.ScopeUsersAdmin}}}}
	cfg.OIDCProvision = provision
	return cfg
}

type answer struct {
	code int
	body string
}

func call(t *testing.T, h http.Handler, method, path, tok, ctype, body string) answer {
	t.Helper()
	req := httptest.NewRequest(method, "https://api.test"+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return answer{rec.Code, rec.Body.String()}
}

// TestExternalTokens: fortapi serve's composition accepts a provider's
// tokens exactly where the document declares the oidc scheme, provisions
// a user only when told to, and refuses the tokens of a disabled user.
func TestExternalTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	idp := newTestIDP(t)
	openOn := func(t *testing.T, provision, postgres bool) *App {
		cfg := idp.config(t, provision)
		if postgres {
			cfg.Store = StoreConfig{PostgresURL: pgtest.SchemaURL(t, "off")}
		}
		a, err := New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		return a
	}
	open := func(provision bool) *App { return openOn(t, provision, false) }

	// Concurrent first requests of one new subject provision one user
	// (the losers of the race read the winner's record), on both stores.
	for _, pg := range []bool{false, true} {
		t.Run(fmt.Sprintf("concurrent provisioning postgres=%v", pg), func(t *testing.T) {
			t.Parallel()
			a := openOn(t, true, pg)
			h := a.Handler()
			tok := idp.token(t, "dave", false, nil)
			var wg sync.WaitGroup
			codes := make([]int, 16)
			for i := range codes {
				wg.Go(func() { codes[i] = call(t, h, "GET", "/protected", tok, "", "").code })
			}
			wg.Wait()
			for i, c := range codes {
				if c != 200 {
					t.Fatalf("request %d: %d", i, c)
				}
			}
			users, err := a.store.ListUsers(ctx, "", 100)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, u := range users {
				if u.Username == server.ExternalUsername(idp.issuer, "dave") {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d users provisioned for one subject", n)
			}
		})
	}

	t.Run("provisioning off", func(t *testing.T) {
		t.Parallel()
		h := open(false).Handler()
		r := call(t, h, "GET", "/protected", idp.token(t, "alice", false, nil), "", "")
		if r.code != 403 || !strings.Contains(r.body, "--oidc-provision") {
			t.Fatalf("unknown external subject: %d %s", r.code, r.body)
		}
	})

	t.Run("provisioning on", func(t *testing.T) {
		t.Parallel()
		a := open(true)
		h := a.Handler()
		reader := idp.token(t, "bob@example.com", false, map[string]any{"scope": "openid items.read"})
		writer := idp.token(t, "bob@example.com", true, map[string]any{"scope": "items.read", "roles": []string{"writer", "admin"}})
		name := server.ExternalUsername(idp.issuer, "bob@example.com")

		r := call(t, h, "GET", "/protected", reader, "", "")
		if r.code != 200 || !strings.Contains(r.body, name) {
			t.Fatalf("GET /protected: %d %s", r.code, r.body)
		}
		u, err := a.store.GetUserByName(ctx, name)
		if err != nil || u.Role != server.RoleUser || !server.IsExternalPasswordHash(u.PasswordHash) {
			t.Fatalf("provisioned user %+v, %v", u, err)
		}
		r = call(t, h, "GET", "/users/me", writer, "", "")
		var me struct {
			ID, Username string
			Scopes       []string
		}
		_ = json.Unmarshal([]byte(r.body), &me)
		// admin maps to users:admin, which the role user does not grant.
		if r.code != 200 || me.ID != u.ID || strings.Join(me.Scopes, " ") != "items:read items:write" {
			t.Fatalf("GET /users/me: %d %s", r.code, r.body)
		}
		for _, tc := range []struct {
			name, method, path, tok, body string
			want                          int
		}{
			{"write without the mapped scope", "POST", "/items/", reader, `{"name":"x","price":1}`, 403},
			{"write with it", "POST", "/items/", writer, `{"name":"x","price":1}`, 201},
			{"an operation that does not declare oidc: API keys", "POST", "/users/me/api-keys", writer, `{"name":"k","scopes":["items:read"]}`, 401},
			{"nor logout", "POST", "/logout", writer, "", 401},
			{"nor user administration", "GET", "/users", writer, "", 401},
			{"wrong audience", "GET", "/protected", idp.token(t, "bob@example.com", false, map[string]any{"aud": "other"}), "", 401},
			{"unconfigured issuer routes to fortapi's own tokens", "GET", "/protected", idp.token(t, "bob@example.com", false, map[string]any{"iss": "https://evil.example"}), "", 401},
		} {
			r := call(t, h, tc.method, tc.path, tc.tok, "application/json", tc.body)
			if r.code != tc.want {
				t.Errorf("%s: %d, want %d: %s", tc.name, r.code, tc.want, r.body)
			}
		}
		r = call(t, h, "GET", "/items/", reader, "", "")
		if r.code != 200 || !strings.Contains(r.body, `"owner":"`+u.ID+`"`) && !strings.Contains(r.body, u.ID) {
			t.Fatalf("GET /items/ as the owner: %d %s", r.code, r.body)
		}
		// No password logs the provisioned user in.
		form := url.Values{"grant_type": {"password"}, "username": {name}, "password": {server.ExternalPasswordHash(idp.issuer, "bob@example.com")}}
		if r := call(t, h, "POST", "/token", "", "application/x-www-form-urlencoded", form.Encode()); r.code != 400 || !strings.Contains(r.body, "invalid_grant") {
			t.Fatalf("password login of a provisioned user: %d %s", r.code, r.body)
		}
		// Disabled: its external tokens are refused at once.
		if _, err := a.Auth().SetDisabled(ctx, u.ID, true, "test"); err != nil {
			t.Fatal(err)
		}
		if r := call(t, h, "GET", "/protected", reader, "", ""); r.code != 401 {
			t.Fatalf("a disabled user's external token: %d %s", r.code, r.body)
		}
	})

	t.Run("a local account bearing the derived name is never taken", func(t *testing.T) {
		t.Parallel()
		a := open(true)
		name := server.ExternalUsername(idp.issuer, "victim")
		if _, err := a.Auth().CreateUser(ctx, name, "a long enough test passphrase", server.RoleAdmin, "test"); err != nil {
			t.Fatal(err)
		}
		r := call(t, a.Handler(), "GET", "/protected", idp.token(t, "victim", false, nil), "", "")
		if r.code != 403 || !strings.Contains(r.body, "local account") {
			t.Fatalf("%d %s", r.code, r.body)
		}
	})

	t.Run("document", func(t *testing.T) {
		t.Parallel()
		doc, err := Document(idp.config(t, false))
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Components struct {
				SecuritySchemes map[string]struct {
					Type string `json:"type"`
					URL  string `json:"openIdConnectUrl"`
				} `json:"securitySchemes"`
			} `json:"components"`
			Paths map[string]map[string]struct {
				Security []map[string][]string `json:"security"`
			} `json:"paths"`
		}
		if err := json.Unmarshal(doc, &d); err != nil {
			t.Fatal(err)
		}
		if s := d.Components.SecuritySchemes["oidc"]; s.Type != "openIdConnect" || s.URL != idp.issuer+"/.well-known/openid-configuration" {
			t.Fatalf("scheme %+v", s)
		}
		declared := map[string]bool{}
		for path, ops := range d.Paths {
			for method, op := range ops {
				for _, alt := range op.Security {
					if _, ok := alt["oidc"]; ok {
						declared[strings.ToUpper(method)+" "+path] = true
					}
				}
			}
		}
		want := []string{"GET /protected", "GET /users/me", "POST /items/", "GET /items/", "GET /items/{id}", "PUT /items/{id}", "DELETE /items/{id}"}
		for _, op := range want {
			if !declared[op] {
				t.Errorf("%s does not declare oidc", op)
			}
		}
		if len(declared) != len(want) {
			t.Errorf("oidc declared on %v, want exactly %v", declared, want)
		}
	})
}
