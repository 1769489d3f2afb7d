package fortapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/apikey"
)

// TestAPIKeySchemeDeclaredEqualsEnforced: a key (in either header) is
// accepted only by the operations that list the apiKey scheme, with the
// scopes they declare; every other operation refuses it, and the document
// lists the scheme exactly where it is accepted.
func TestAPIKeySchemeDeclaredEqualsEnforced(t *testing.T) {
	t.Parallel()
	good, _ := apikey.New(nil)
	readOnly, _ := apikey.New(nil)
	keyScopes := map[string][]string{good.ID: {"things:read", "things:write"}, readOnly.ID: {"things:read"}}
	// The Authenticator every API key reaches when it comes in the
	// Authorization header, or in X-API-Key on an operation that does
	// not declare keys.
	keyAuth := func(r *http.Request) (*fortapi.Principal, error) {
		s, err := apikey.FromRequest(r)
		if err != nil {
			return nil, err
		}
		k, err := apikey.Parse(s)
		if err != nil {
			return nil, err
		}
		scopes, ok := keyScopes[k.ID]
		if !ok {
			return nil, errors.New("unknown key")
		}
		return &fortapi.Principal{Subject: "robot", Scheme: fortapi.APIKeyScheme, Scopes: scopes}, nil
	}
	auth := func(r *http.Request) (*fortapi.Principal, error) {
		p, err := keyAuth(r)
		if !errors.Is(err, apikey.ErrNoKey) {
			return p, err
		}
		return testAuth(r)
	}
	api := fortapi.New(fortapi.Options{Authenticator: fortapi.AuthenticatorFunc(auth), Logger: slog.New(slog.DiscardHandler)})
	if err := api.AddAPIKeyScheme(fortapi.AuthenticatorFunc(keyAuth)); err != nil {
		t.Fatal(err)
	}
	ok := func(ctx context.Context, _ *struct{}) (*okOut, error) {
		out := &okOut{}
		p, _ := fortapi.PrincipalFrom(ctx)
		out.Body.OK = p != nil
		return out, nil
	}
	huma.Register(api, huma.Operation{OperationID: "read", Method: "GET", Path: "/things",
		Security: fortapi.WithAPIKey(fortapi.Scopes("things:read"))}, ok)
	huma.Register(api, huma.Operation{OperationID: "write", Method: "POST", Path: "/things",
		Security: fortapi.WithAPIKey(fortapi.Scopes("things:write"))}, ok)
	huma.Register(api, huma.Operation{OperationID: "admin", Method: "GET", Path: "/admin",
		Security: fortapi.Scopes("things:read")}, ok)
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, path string
		header, value      string
		want               int
	}{
		{"key in X-API-Key, declared", "GET", "/things", "X-API-Key", good.Encode(), 200},
		{"key as bearer, declared", "GET", "/things", "Authorization", "Bearer " + good.Encode(), 200},
		{"key writes", "POST", "/things", "X-API-Key", good.Encode(), 200},
		{"read-only key cannot write", "POST", "/things", "X-API-Key", readOnly.Encode(), 403},
		{"read-only key as bearer cannot write", "POST", "/things", "Authorization", "Bearer " + readOnly.Encode(), 403},
		{"key in X-API-Key, not declared", "GET", "/admin", "X-API-Key", good.Encode(), 401},
		{"key as bearer, not declared", "GET", "/admin", "Authorization", "Bearer " + good.Encode(), 401},
		{"unknown key", "GET", "/things", "X-API-Key", func() string { k, _ := apikey.New(nil); return k.Encode() }(), 401},
		{"garbage in X-API-Key", "GET", "/things", "X-API-Key", "fak_nope", 401},
		{"bearer token still works", "GET", "/admin", "Authorization", "Test alice things:read", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			r.Header.Set(tc.header, tc.value)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tc.want {
				t.Fatalf("%d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
		})
	}

	doc, err := api.OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Components struct {
			SecuritySchemes map[string]struct{ Type, In, Name string }
		}
		Paths map[string]map[string]struct{ Security []map[string][]string }
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	if s := d.Components.SecuritySchemes[fortapi.APIKeyScheme]; s.Type != "apiKey" || s.In != "header" || s.Name != "X-API-Key" {
		t.Fatalf("scheme %+v", s)
	}
	lists := func(path, method string) bool {
		for _, alt := range d.Paths[path][method].Security {
			if _, ok := alt[fortapi.APIKeyScheme]; ok {
				return true
			}
		}
		return false
	}
	if !lists("/things", "get") || !lists("/things", "post") || lists("/admin", "get") {
		t.Fatalf("the document does not say where keys are accepted: %s", doc)
	}
}
