package fortapi

import (
	"slices"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi/apikey"
)

// APIKeyScheme is the name of the API-key security scheme that
// AddAPIKeyScheme adds to the document: long-lived keys of package apikey,
// sent as "X-API-Key: fak_..." or "Authorization: Bearer fak_...". A
// principal authenticated by a key (Principal.Scheme == APIKeyScheme) is
// accepted only by operations whose declared security names this scheme
// (WithAPIKey): declared equals enforced, and every other operation
// refuses keys (401).
const APIKeyScheme = "apikey"

// AddAPIKeyScheme documents API keys as the OpenAPI apiKey scheme
// APIKeyScheme (in: header, name: X-API-Key) and makes auth its
// authenticator for requests without an Authorization header (see
// AddSecurityScheme). A key sent as "Authorization: Bearer fak_..." reaches
// Options.Authenticator instead (a request with an Authorization header
// authenticates by it alone): that authenticator must return such keys
// with Scheme APIKeyScheme, and should do the same for X-API-Key on
// operations that do not declare the scheme, so that they are refused
// rather than ignored. Call it before registering operations that use
// WithAPIKey.
func (a *API) AddAPIKeyScheme(auth Authenticator) error {
	return a.AddSecurityScheme(APIKeyScheme, &huma.SecurityScheme{
		Type: "apiKey", In: "header", Name: apikey.Header,
		Description: "An API key (fak_...), sent as `" + apikey.Header + ": <key>` or as `Authorization: Bearer <key>`; " +
			"never in a URL (400). Accepted only by the operations that list this scheme.",
	}, auth)
}

// WithAPIKey returns sec with, after each requirement on BearerScheme,
// the same requirement on APIKeyScheme: the operation also accepts API
// keys that grant those scopes. Use it as huma.Operation.Security, for
// example WithAPIKey(Scopes("items:read")). Operations that mint
// credentials or change accounts should not accept keys, so that a stolen
// key cannot create more keys or escalate.
func WithAPIKey(sec []map[string][]string) []map[string][]string {
	out := make([]map[string][]string, 0, 2*len(sec))
	for _, alt := range sec {
		out = append(out, alt)
		if scopes, ok := alt[BearerScheme]; ok && len(alt) == 1 {
			out = append(out, map[string][]string{APIKeyScheme: slices.Clone(scopes)})
		}
	}
	return out
}
