// Package token issues and strictly verifies JWT access tokens (RFC 9068
// profile), caches verified tokens, and checks revocations in memory.
//
// # Tokens
//
// A token is a JWS in compact form. Its header is exactly
//
//	{"alg":"EdDSA","typ":"at+jwt","kid":"..."}
//
// with alg taken from the signing key (EdDSA, ES256 or HS256, see
// jwtkey), and its payload is exactly the claims iss, sub, aud (one
// string), exp, nbf, iat (integer seconds), jti (128 random bits,
// base64url), scope (space-separated RFC 6749 scope-tokens, possibly
// empty) and sid (the session). Service.Issue writes them; Service.Verify
// requires every one of them.
//
// # What Verify defends against
//
//   - Oversized input: a token longer than MaxTokenBytes (8192) is refused
//     before it is even split.
//   - Malformed and ambiguous encodings: exactly three non-empty segments
//     of base64url characters, decoded strictly (no padding, no
//     whitespace, zero trailing bits), so each token has one spelling and
//     cannot be varied to fill the cache (ECDSA signatures are malleable:
//     ES256 tokens are issued with a low s and a high s is refused). Header and claims must be flat
//     JSON objects of strings and non-negative integers; repeated members,
//     unknown members, escaped member names, fractions, exponents and
//     invalid UTF-8 are refused (encoding/json, which golang-jwt uses,
//     would keep the last of repeated members instead).
//   - Algorithm confusion and "none": the algorithm comes from the key
//     that kid names, never from the token. The header alg must equal that
//     key's algorithm exactly, so alg none (in any spelling), an HS256
//     token "signed" with a public key, RS256 and the like all fail.
//   - Key injection: a header naming or embedding a key or certificate
//     (jwk, jku, x5u, x5c, x5t, crit, ...) is refused; the header may hold
//     only alg, typ and kid.
//   - kid injection: kid must be 1 to 128 RFC 3986 unreserved characters
//     before it reaches the KeySource, so path traversal, quotes and SQL
//     never get there.
//   - Token confusion: typ must be "at+jwt" (RFC 9068; "application/at+jwt"
//     and any letter case are accepted too), iss and aud must be exactly
//     ours.
//   - Long-lived tokens: exp - iat must not exceed Lifetime, even under a
//     valid signature; exp, nbf and iat are checked against Now with
//     Leeway.
//   - Replay after logout, password change or role change: a
//     RevocationChecker is consulted on every call; Revocations is an
//     in-memory one with per-subject not-before times, revoked sessions and
//     revoked token ids.
//   - Withdrawn keys: the KeySource is asked for the key on every call,
//     cache hits included, so removing a key refuses its tokens at once.
//
// The signature is checked (with golang-jwt's signing methods) before the
// claims are decoded. Verify returns one error for every failure,
// wrapping ErrInvalidToken; its text names the reason for logs and never
// echoes token content.
//
// # The verified-token cache
//
// Signature checks cost tens of microseconds (EdDSA, ES256). Verify keeps
// up to CacheSize (default 16384) verified tokens, keyed by the exact token
// string, and on a hit re-checks exp and nbf, that the KeySource still
// returns the same key, and revocation; a hit costs well under a
// microsecond and does not allocate. Only tokens whose signature verified
// are inserted; eviction is CLOCK. Claims returned by Verify are shared
// through the cache and must not be modified.
//
// # Defaults
//
//	Lifetime       15m  (1s to 24h)
//	Leeway         30s  (1s to 30s)
//	CacheSize      16384 tokens (negative: no cache; at most 1<<20)
//	MaxTokenBytes  8192 (512 to 8192)
//	Now            time.Now
//	Rand           crypto/rand.Reader
//
// # Revocation and whole seconds
//
// iat has whole-second precision. Revocations.RevokeSubject(sub, t)
// refuses tokens with iat < t rounded up to a second, so every token issued
// before t is refused, even one from the same second. A token issued after
// t in that same second would be refused as well; Issue notices (it asks
// the RevocationChecker) and moves such a token's iat, nbf and exp one
// second forward instead of handing out a token that is dead on arrival.
package token
