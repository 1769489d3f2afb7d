package fortapi

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// OIDCScheme is the name of the OpenID Connect security scheme that
// AddOIDCScheme adds to the document: access tokens of an external
// identity provider (package oidc), sent as "Authorization: Bearer". A
// principal authenticated by one (Principal.Scheme == OIDCScheme) is
// accepted only by operations whose declared security names this scheme
// (WithOIDC): declared equals enforced, and every other operation refuses
// such tokens (401).
const OIDCScheme = "oidc"

// AddOIDCScheme documents external access tokens as the OpenAPI
// openIdConnect scheme OIDCScheme, whose openIdConnectUrl is the first of
// discoveryURLs (each issuer's /.well-known/openid-configuration; the
// description lists them all). The tokens arrive in the Authorization
// header, so Options.Authenticator authenticates them (oidc.Chain routes
// them to their provider) and must return them with Scheme OIDCScheme.
// Call it before registering operations that use WithOIDC.
func (a *API) AddOIDCScheme(discoveryURLs ...string) error {
	if len(discoveryURLs) == 0 {
		return errors.New("fortapi: AddOIDCScheme needs the discovery URL of at least one issuer")
	}
	for _, u := range discoveryURLs {
		if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			return errors.New("fortapi: AddOIDCScheme: " + u + " is not an http(s) URL")
		}
	}
	return a.AddSecurityScheme(OIDCScheme, &huma.SecurityScheme{
		Type:             "openIdConnect",
		OpenIDConnectURL: discoveryURLs[0],
		Description: "An access token of an external identity provider, sent as `Authorization: Bearer <token>`. " +
			"Accepted only by the operations that list this scheme, from the issuers whose discovery documents are " +
			strings.Join(discoveryURLs, ", ") + ".",
	}, AuthenticatorFunc(func(*http.Request) (*Principal, error) { return nil, ErrNoCredentials }))
}

// WithOIDC returns sec with, after each requirement on BearerScheme, the
// same requirement on OIDCScheme: the operation also accepts external
// access tokens that map to those scopes. Use it as huma.Operation.
// Security, alone or around WithAPIKey.
func WithOIDC(sec []map[string][]string) []map[string][]string {
	out := make([]map[string][]string, 0, 2*len(sec))
	for _, alt := range sec {
		out = append(out, alt)
		if scopes, ok := alt[BearerScheme]; ok && len(alt) == 1 {
			out = append(out, map[string][]string{OIDCScheme: slices.Clone(scopes)})
		}
	}
	return out
}
