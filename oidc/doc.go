// Package oidc verifies the access tokens of external OpenID Connect
// providers (Keycloak, Auth0, Entra ID, Google, ...) for an API acting as
// a resource server, and maps the provider's scopes, roles or groups to
// the API's own scopes.
//
// A Provider is configured with an issuer URL and the API's audience(s).
// It reads the issuer's discovery document
// (ISSUER/.well-known/openid-configuration), whose issuer must equal the
// configured one exactly, and the JWKS it names, over HTTPS with TLS
// verified (http only on a loopback host with InsecureAllowLoopbackHTTP).
//
// What it defends against:
//
//   - Forged tokens and key injection: keys come only from the issuer's
//     JWKS; a token header may hold only alg, kid and typ (jwk, jku, x5u,
//     x5c, crit refused).
//   - Algorithm confusion and "none": the algorithm is the key's (the JWK's
//     alg, else RS256 for RSA, the curve's for EC, EdDSA for Ed25519), and
//     the header's alg must equal it. Symmetric (oct) keys and private
//     members in a JWKS are refused, so HS256 "signed" with the public key
//     never verifies. RSA keys shorter than 2048 bits are ignored.
//   - Tokens for someone else: iss must be exactly the issuer, aud must
//     contain a configured audience; an ID token (aud = a client id) or
//     another API's token fails. typ, when present, must be at+jwt (RFC
//     9068) or the generic JWT (RequireTyp demands at+jwt).
//   - Stale and premature tokens: exp is required; exp, nbf and iat are
//     checked with a leeway of 30 s by default, at most 60 s; exp more than
//     MaxLifetime (24 h) ahead is refused.
//   - JWKS floods: a token whose kid is unknown triggers a JWKS fetch only
//     when the last one is older than RefreshInterval (10 s), and
//     concurrent triggers share one fetch (single flight): a flood of
//     made-up kids costs the provider at most one request per interval.
//     Keys older than KeysMaxAge (1 h) are refreshed the same way, so
//     withdrawn keys stop verifying; a failed fetch keeps the keys held.
//   - A hostile or broken provider endpoint: each fetch is bounded in time
//     (10 s) and size (256 KiB), redirects are not followed, at most 100
//     keys are read.
//   - Scope escalation: a token is granted only the API scopes that
//     ScopeRules map its claims to; unmapped values are ignored.
//
// Provider.Authenticate (or Set.Chain, in front of an API's own
// authenticator) gives a fortapi.Principal of fortapi.OIDCScheme, which
// only operations declaring that scheme (fortapi.WithOIDC) accept.
package oidc
