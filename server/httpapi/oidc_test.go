package httpapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fortapi/fortapi/oidc"
	"github.com/fortapi/fortapi/server"
)

// matrixIDP is an OpenID provider served over TLS by the test, whose
// tokens the matrix's external callers present.
type matrixIDP struct {
	set    *oidc.Set
	issuer string
	key    *ecdsa.PrivateKey
}

// newMatrixIDP serves the provider and returns the Set that accepts its
// tokens for audience "fortapi-test-api", mapping scope values
// "items.read" and "items.write" to the server's scopes and role "admin"
// to users:admin (which a provisioned user's role never grants).
func newMatrixIDP(t *testing.T) *matrixIDP {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := key.PublicKey.Bytes()
	enc := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "EC", "kid": "m1", "crv": "P-256", "x": enc(b[1:33]), "y": enc(b[33:])}}})
	p := &matrixIDP{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": p.issuer, "jwks_uri": p.issuer + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(jwks) })
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	p.issuer = srv.URL
	prov, err := oidc.New(oidc.Options{Issuer: p.issuer, Audiences: []string{"fortapi-test-api"}, HTTPClient: srv.Client(),
		Logger: slog.New(slog.DiscardHandler),
		ScopeRules: []oidc.ScopeRule{{Claim: "scope", Value: "items.read", Scope: server.ScopeItemsRead},
			{Claim: "scope", Value: "items.write", Scope: server.ScopeItemsWrite},
			{Claim: "roles", Value: "admin", Scope: server.ScopeUsersAdmin}}})
	if err != nil {
		t.Fatal(err)
	}
	if p.set, err = oidc.NewSet(prov); err != nil {
		t.Fatal(err)
	}
	return p
}

// token signs an access token of sub with the scope claim and roles.
func (p *matrixIDP) token(t *testing.T, sub, scope string, roles ...string) string {
	t.Helper()
	c := jwt.MapClaims{"iss": p.issuer, "sub": sub, "aud": "fortapi-test-api", "scope": scope,
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}
	if roles != nil {
		c["roles"] = roles
	}
	j := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	j.Header["kid"] = "m1"
	j.Header["typ"] = "at+jwt"
	s, err := j.SignedString(p.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
