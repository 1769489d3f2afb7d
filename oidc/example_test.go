package oidc_test

import (
	"log"
	"net/http"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/oidc"
)

// An API that accepts its own tokens everywhere and a Keycloak realm's
// tokens on the operations that declare fortapi.WithOIDC.
func ExampleSet_Chain() {
	kc, err := oidc.New(oidc.Options{
		Issuer:    "https://sso.example.com/realms/acme",
		Audiences: []string{"reports-api"},
		ScopeRules: []oidc.ScopeRule{
			{Claim: "scope", Value: "reports.read", Scope: "reports:read"},
			{Claim: "realm_access.roles", Value: "analyst", Scope: "reports:read"},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	set, err := oidc.NewSet(kc)
	if err != nil {
		log.Fatal(err)
	}
	var own fortapi.Authenticator = fortapi.AuthenticatorFunc(func(*http.Request) (*fortapi.Principal, error) {
		return nil, fortapi.ErrNoCredentials // the API's own tokens, sessions, ...
	})
	api := fortapi.New(fortapi.Options{Title: "Reports", Authenticator: set.Chain(own)})
	if err := api.AddOIDCScheme(set.DiscoveryURLs()...); err != nil {
		log.Fatal(err)
	}
	// huma.Register(api, huma.Operation{..., Security: fortapi.WithOIDC(fortapi.Scopes("reports:read"))}, h)
	_ = api
}
