package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fortapi/fortapi/internal/e2e"
	"github.com/fortapi/fortapi/server"
)

func TestOIDCFlagErrors(t *testing.T) {
	t.Parallel()
	iss := []string{"serve", "--oidc-issuer", "https://idp.example/realms/x"}
	withIss := func(a ...string) []string { return append(append([]string{}, iss...), a...) }
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"audience without issuer", []string{"serve", "--oidc-audience", "api"}, nil, "--oidc-audience needs --oidc-issuer"},
		{"provision without issuer", []string{"serve", "--oidc-provision"}, nil, "--oidc-provision needs --oidc-issuer"},
		{"map without issuer", []string{"serve", "--oidc-scope-map", "scope[a]=items:read"}, nil, "--oidc-scope-map needs --oidc-issuer"},
		{"issuer without audience", iss, nil, "--oidc-issuer needs --oidc-audience"},
		{"http issuer", []string{"serve", "--oidc-issuer", "http://idp.example", "--oidc-audience", "api"}, nil, `invalid --oidc-issuer: issuer "http://idp.example": must use https`},
		{"http issuer on a remote host with the insecure option", []string{"serve", "--oidc-issuer", "http://idp.example", "--oidc-audience", "api", "--oidc-insecure-http"}, nil, "loopback"},
		{"insecure option in production", []string{"serve", "--oidc-issuer", "http://127.0.0.1:9", "--oidc-audience", "api", "--oidc-insecure-http", "--env", "production"}, nil, "--env production refuses it"},
		{"issuer twice", withIss("--oidc-audience", "api", "--oidc-issuer", "https://idp.example/realms/x"), nil, "is given twice"},
		{"malformed rule", withIss("--oidc-audience", "api", "--oidc-scope-map", "scope=items:read"), nil, `invalid --oidc-scope-map: scope rule "scope=items:read": want CLAIM[VALUE]=SCOPE`},
		{"unknown scope", withIss("--oidc-audience", "api", "--oidc-scope-map", "roles[x]=things:read"), nil, `"things:read" is not a scope of this server`},
		{"bad issuer from env", []string{"serve"}, map[string]string{"FORTAPI_OIDC_ISSUER": "ftp://idp", "FORTAPI_OIDC_AUDIENCE": "api"}, "must use https"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := runCmd(t, tt.args, tt.env)
			if code != exitUsage || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d with %q", code, errOut, exitUsage, tt.want)
			}
		})
	}
}

// TestOIDCServeBinary runs the real binary against an OpenID provider
// served over TLS by the test (trusted through SSL_CERT_FILE, as an
// operator would add a private CA): a provider token is accepted on GET
// /protected with provisioning, refused on an operation that does not
// declare the scheme, and refused with 403 by a server without
// provisioning.
func TestOIDCServeBinary(t *testing.T) {
	t.Parallel()
	bin := shared.Binary(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]any{{"kty": "RSA", "kid": "k1", "alg": "RS256",
		"n": enc(key.N.Bytes()), "e": enc(big.NewInt(int64(key.E)).Bytes())}}})
	var issuer string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": issuer + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(jwks) })
	idp := httptest.NewTLSServer(mux)
	defer idp.Close()
	issuer = idp.URL
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: idp.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	tok := func(sub string) string {
		j := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": issuer, "sub": sub, "aud": "api://fortapi",
			"scope": "read:items", "exp": time.Now().Add(5 * time.Minute).Unix(), "iat": time.Now().Unix()})
		j.Header["kid"] = "k1"
		s, err := j.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	start := func(extra ...string) (*e2e.Process, *http.Client) {
		dir := t.TempDir()
		args := append([]string{"serve", "--data-dir", dir, "--addr", "127.0.0.1:0", "--http-addr", "", "--admin-addr", "",
			"--oidc-issuer", issuer, "--oidc-audience", "api://fortapi", "--oidc-scope-map", "scope[read:items]=items:read"}, extra...)
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "FORTAPI_ADMIN_PASSWORD="+e2e.AdminPassword, "SSL_CERT_FILE="+caFile)
		p, err := e2e.Start(t, cmd)
		if err != nil {
			t.Fatal(err)
		}
		return p, e2e.TLSClient(t, dir, nil)
	}
	bearer := func(s string) map[string]string { return map[string]string{"Authorization": "Bearer " + s} }

	on, c := start("--oidc-provision")
	resp, body := send(t, c, "GET", on.URL+"/protected", bearer(tok("carol")), "")
	if resp.StatusCode != 200 || !strings.Contains(body, server.ExternalUsername(issuer, "carol")) {
		t.Fatalf("GET /protected with a provider token: %d %s\n%s", resp.StatusCode, body, on.Log.String())
	}
	resp, body = send(t, c, "GET", on.URL+"/items/", bearer(tok("carol")), "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /items/ with a provider token mapped to items:read: %d %s", resp.StatusCode, body)
	}
	resp, body = send(t, c, "GET", on.URL+"/users/me/api-keys", bearer(tok("carol")), "")
	if resp.StatusCode != 401 {
		t.Fatalf("GET /users/me/api-keys (no oidc declared): %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{"accepting tokens of external identity providers", `"provision":true`, "external identity provider ready"} {
		deadline := time.Now().Add(10 * time.Second) // the warm-up logs from the background
		for !strings.Contains(on.Log.String(), want) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if !strings.Contains(on.Log.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, on.Log.String())
		}
	}

	off, c := start()
	resp, body = send(t, c, "GET", off.URL+"/protected", bearer(tok("carol")), "")
	if resp.StatusCode != 403 || !strings.Contains(body, "--oidc-provision") {
		t.Fatalf("GET /protected without provisioning: %d %s", resp.StatusCode, body)
	}
}
