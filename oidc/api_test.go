package oidc_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/oidc"
)

type whoOut struct {
	Body struct {
		Subject string `json:"subject"`
		Issuer  string `json:"issuer"`
		Scheme  string `json:"scheme"`
	}
}

// TestDeclaredEqualsEnforced: a fortapi API with its own bearer tokens
// and a Set chained in front accepts an external token only on the
// operations that declare fortapi.OIDCScheme, with the scopes they
// declare, and documents the scheme exactly there.
func TestDeclaredEqualsEnforced(t *testing.T) {
	t.Parallel()
	ks := keys()
	p := newIDP(t, ks["rsa"])
	prov, _ := p.provider(t, func(o *oidc.Options) { o.Now = func() time.Time { return t0 } })
	set, err := oidc.NewSet(prov)
	if err != nil {
		t.Fatal(err)
	}
	own := fortapi.AuthenticatorFunc(func(r *http.Request) (*fortapi.Principal, error) {
		tok, err := oidc.BearerToken(r)
		if err != nil {
			return nil, err
		}
		if tok != "own-token" {
			return nil, fortapi.ErrNoCredentials
		}
		return &fortapi.Principal{Subject: "local", Scheme: fortapi.BearerScheme, Scopes: []string{"items:read"}}, nil
	})
	api := fortapi.New(fortapi.Options{Authenticator: set.Chain(own), Logger: slog.New(slog.DiscardHandler)})
	if err := api.AddOIDCScheme(set.DiscoveryURLs()...); err != nil {
		t.Fatal(err)
	}
	who := func(ctx context.Context, _ *struct{}) (*whoOut, error) {
		out := &whoOut{}
		pr, _ := fortapi.PrincipalFrom(ctx)
		out.Body.Subject, out.Body.Issuer, out.Body.Scheme = pr.Subject, pr.Issuer, pr.Scheme
		return out, nil
	}
	huma.Register(api, huma.Operation{OperationID: "read", Method: "GET", Path: "/items",
		Security: fortapi.WithOIDC(fortapi.Scopes("items:read"))}, who)
	huma.Register(api, huma.Operation{OperationID: "write", Method: "POST", Path: "/items",
		Security: fortapi.WithOIDC(fortapi.Scopes("items:write"))}, who)
	huma.Register(api, huma.Operation{OperationID: "own-only", Method: "GET", Path: "/own",
		Security: fortapi.Scopes("items:read")}, who)
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	reader := sign(t, p, ks["rsa"], map[string]any{"scope": "read:items"}, nil)
	for _, tc := range []struct {
		name, method, path, tok string
		want                    int
		wantScheme              string
	}{
		{"external token, declared", "GET", "/items", reader, 200, fortapi.OIDCScheme},
		{"external token without the mapped scope", "POST", "/items", reader, 403, ""},
		{"external token, not declared", "GET", "/own", reader, 401, ""},
		{"own token where both are declared", "GET", "/items", "own-token", 200, fortapi.BearerScheme},
		{"own token, own-only operation", "GET", "/own", "own-token", 200, fortapi.BearerScheme},
		{"forged external token", "GET", "/items", sign(t, p, ks["forged"], nil, nil), 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tc.method, tc.path, nil)
			req.Header.Set("Authorization", "Bearer "+tc.tok)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.want != 200 {
				return
			}
			var out whoOut
			_ = json.Unmarshal(rec.Body.Bytes(), &out.Body)
			if out.Body.Scheme != tc.wantScheme || tc.wantScheme == fortapi.OIDCScheme && (out.Body.Subject != "user-42" || out.Body.Issuer != p.issuer) {
				t.Fatalf("principal %+v", out.Body)
			}
		})
	}
	doc, _ := api.OpenAPIJSON()
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
	if s := d.Components.SecuritySchemes[fortapi.OIDCScheme]; s.Type != "openIdConnect" || s.URL != p.issuer+"/.well-known/openid-configuration" {
		t.Fatalf("scheme %+v", s)
	}
	declares := func(path, method string) bool {
		for _, alt := range d.Paths[path][method].Security {
			if _, ok := alt[fortapi.OIDCScheme]; ok {
				return true
			}
		}
		return false
	}
	if !declares("/items", "get") || !declares("/items", "post") || declares("/own", "get") {
		t.Fatalf("documented security: %s", strings.TrimSpace(string(doc[:min(len(doc), 400)])))
	}
}
