package fortapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
)

// TestAuthenticatedNeedsAPrincipalButNoScope: Authenticated() admits any
// authenticated caller, with or without scopes, and nobody else.
func TestAuthenticatedNeedsAPrincipalButNoScope(t *testing.T) {
	api := fortapi.New(fortapi.Options{Authenticator: fortapi.AuthenticatorFunc(testAuth), Logger: slog.New(slog.DiscardHandler)})
	huma.Register(api, huma.Operation{OperationID: "me", Method: http.MethodGet, Path: "/me", Security: fortapi.Authenticated()},
		func(ctx context.Context, _ *struct{}) (*okOut, error) {
			out := &okOut{}
			_, out.Body.OK = fortapi.PrincipalFrom(ctx)
			return out, nil
		})
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tests := []struct {
		name, auth string
		want       int
	}{
		{"anonymous", "", http.StatusUnauthorized},
		{"invalid credentials", "Garbage", http.StatusUnauthorized},
		{"no scopes", "Test alice", http.StatusOK},
		{"some scopes", "Test alice things:read", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/me", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
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
}

// TestOAuth2PasswordFlowDocumented: with Options.OAuth2 the document has an
// oauth2 password-flow scheme, and every bearer requirement is offered on
// it too, with the same scopes; public operations stay public.
func TestOAuth2PasswordFlowDocumented(t *testing.T) {
	api := fortapi.New(fortapi.Options{
		Authenticator: fortapi.AuthenticatorFunc(testAuth), Logger: slog.New(slog.DiscardHandler),
		OAuth2: &fortapi.OAuth2Password{TokenURL: "https://auth.example/token", Scopes: map[string]string{"things:read": "read things"}},
	})
	huma.Register(api, huma.Operation{OperationID: "list", Method: http.MethodGet, Path: "/things", Security: fortapi.Scopes("things:read")},
		func(ctx context.Context, _ *struct{}) (*okOut, error) { return &okOut{}, nil })
	huma.Register(api, huma.Operation{OperationID: "pub", Method: http.MethodGet, Path: "/pub", Security: fortapi.Public()},
		func(ctx context.Context, _ *struct{}) (*okOut, error) { return &okOut{}, nil })
	if _, err := api.Handler(); err != nil {
		t.Fatal(err)
	}
	raw, err := api.OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			SecuritySchemes map[string]struct {
				Type  string `json:"type"`
				Flows struct {
					Password struct {
						TokenURL string            `json:"tokenUrl"`
						Scopes   map[string]string `json:"scopes"`
					} `json:"password"`
				} `json:"flows"`
			} `json:"securitySchemes"`
		} `json:"components"`
		Paths map[string]map[string]struct {
			Security []map[string][]string `json:"security"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	o := doc.Components.SecuritySchemes[fortapi.OAuth2Scheme]
	if o.Type != "oauth2" || o.Flows.Password.TokenURL != "https://auth.example/token" || o.Flows.Password.Scopes["things:read"] == "" {
		t.Errorf("oauth2 scheme = %+v", o)
	}
	if b := doc.Components.SecuritySchemes[fortapi.BearerScheme]; b.Type != "http" {
		t.Errorf("bearer scheme = %+v", b)
	}
	got := doc.Paths["/things"]["get"].Security
	if len(got) != 2 || len(got[0]["bearer"]) != 1 || len(got[1]["oauth2"]) != 1 || got[1]["oauth2"][0] != "things:read" {
		t.Errorf("/things security = %v, want bearer and oauth2 with things:read", got)
	}
	if pub := doc.Paths["/pub"]["get"].Security; len(pub) != 1 || len(pub[0]) != 0 {
		t.Errorf("/pub security = %v, want [{}]", pub)
	}
}
