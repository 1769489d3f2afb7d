package fortapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/fortapi/fortapi/token"
)

// errSeveralAuthorization refuses a request with more than one
// Authorization header: which one a proxy in front checked is unknown.
var errSeveralAuthorization = errors.New("fortapi: several Authorization headers")

// errEmptyBearer refuses an Authorization header that names the bearer
// scheme but carries no token.
var errEmptyBearer = errors.New("fortapi: an empty bearer token")

// TokenAuthenticator authenticates requests by the access tokens of a
// token.Service, sent as "Authorization: Bearer <token>" (RFC 6750 §2.1).
// It is the Options.Authenticator of an API whose callers log in at a
// token endpoint (RegisterTokenEndpoint) or get their tokens from
// token.Service.Issue. Create it with NewTokenAuthenticator; it is safe
// for concurrent use.
//
// For each request it answers:
//
//   - no Authorization header: ErrNoCredentials (401 without an error
//     code, anonymous);
//   - an Authorization header for another scheme (Basic, ...):
//     ErrNoCredentials as well — this API takes no such credential, and
//     the request's cookies are not looked at either;
//   - several Authorization headers, "Bearer" without a token, or a token
//     that token.Service.Verify refuses (bad signature, expired, revoked,
//     wrong issuer or audience, ...): an error (401 invalid_token); the
//     reason is never sent to the client;
//   - a valid token: a Principal with Scheme BearerScheme and the token's
//     subject, scopes, session id, token id, issue and expiry times.
//
// The scheme name is matched without regard to case ("bearer", "BEARER"),
// as RFC 9110 §11.1 requires; the token is everything after the spaces
// that follow it.
type TokenAuthenticator struct {
	tokens *token.Service
}

// NewTokenAuthenticator returns a TokenAuthenticator for the tokens svc
// issues. It panics when svc is nil: a missing token service is a
// programming error, found at start-up.
func NewTokenAuthenticator(svc *token.Service) *TokenAuthenticator {
	if svc == nil {
		panic("fortapi.NewTokenAuthenticator: nil token.Service")
	}
	return &TokenAuthenticator{tokens: svc}
}

// Authenticate implements Authenticator.
func (t *TokenAuthenticator) Authenticate(r *http.Request) (*Principal, error) {
	tok, err := BearerToken(r)
	if err != nil {
		return nil, err
	}
	c, err := t.tokens.Verify(r.Context(), tok)
	if err != nil {
		return nil, err
	}
	return BearerPrincipal(c), nil
}

// BearerPrincipal is the Principal of verified access-token claims, as
// TokenAuthenticator makes it: the bearer scheme, and the claims that
// revocation checks need (session, token id, signing key, times).
func BearerPrincipal(c *token.Claims) *Principal {
	return &Principal{
		Subject: c.Subject, Scheme: BearerScheme, Scopes: c.Scopes,
		SessionID: c.SessionID, TokenID: c.ID, KeyID: c.KeyID, ExpiresAt: c.ExpiresAt, IssuedAt: c.IssuedAt,
	}
}

// BearerToken returns the token of r's "Authorization: Bearer <token>"
// header. It returns ErrNoCredentials when r has no Authorization header
// or one for another scheme, and an error for several Authorization
// headers or a bearer header without a token. Custom authenticators use
// it to parse the header exactly as TokenAuthenticator does.
func BearerToken(r *http.Request) (string, error) {
	vals := r.Header["Authorization"] // Values, without canonicalizing the canonical name
	switch len(vals) {
	case 0:
		return "", ErrNoCredentials
	case 1:
	default:
		return "", errSeveralAuthorization
	}
	scheme, tok, _ := strings.Cut(vals[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoCredentials
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" {
		return "", errEmptyBearer
	}
	return tok, nil
}
