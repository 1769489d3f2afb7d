// Package csrf defends cookie-authenticated HTTP APIs and forms against
// cross-site request forgery, with two layers of net/http middleware.
//
// # What it defends against
//
//   - Cross-site request forgery: a page on another site makes the victim's
//     browser send a state-changing request (a form post, a fetch) that
//     carries the victim's cookies. Both layers refuse it.
//   - Login CSRF: the forged request is the login form itself, logging the
//     victim into the attacker's account. The visitor has no session yet
//     and may have no cookies, so login routes use Require, which demands a
//     token even then, and the token is renewed at login.
//   - Cookie tossing: a sibling subdomain (or a network attacker on plain
//     http) sets the token cookie to a value it knows. The cookie is named
//     __Host-csrf, which browsers accept only when Secure, with Path=/ and
//     without Domain, so no other host can set or shadow it; and the token
//     must verify for the current session, so a tossed token minted for the
//     attacker's own session is refused.
//   - Token reuse across sessions: tokens are HMAC-bound to the session id,
//     so a token leaked from one session, or the anonymous token from
//     before login, is refused for another.
//
// This is OWASP's "signed double-submit cookie". The fastapi-csrf-protect
// example in the FastAPI security guide instead uses tokens that are not
// bound to any session and a SameSite=None cookie; a token obtained by
// anyone (including an attacker with their own visit) then works for every
// victim whose cookie can be tossed, and the cookie rides along on every
// cross-site request.
//
// Nothing here helps against cross-site scripting (script on the site can
// read the token), against state changes on GET, HEAD or OPTIONS (never
// checked: keep them safe), or against a CORS policy that lets other
// origins send credentialed requests and read the answers.
//
// # Layer (a): cross-origin check
//
// Every unsafe request (any method but GET, HEAD and OPTIONS) goes through
// net/http's CrossOriginProtection: Sec-Fetch-Site must be same-origin or
// none; without Sec-Fetch-Site, an Origin header must match Host; a
// request with neither header (not from a browser, or a very old one)
// passes; an Origin listed in Options.TrustedOrigins passes. Same-site
// but cross-origin requests (from a sibling subdomain) are refused. Behind
// a proxy that rewrites Host, list the public origin in TrustedOrigins or
// have the proxy keep Host.
//
// # Layer (b): signed double-submit token
//
// A token is
//
//	base64url(r) "." base64url(HMAC-SHA256(Key, "fortapi/csrf v1\x00" ‖ uint64be(len(sid)) ‖ sid ‖ r))
//
// where r is 32 bytes from Options.Rand, sid is the session id ("" for an
// anonymous visitor) and base64url is unpadded (TokenLen = 87
// characters). Issue (or Ensure) mints one, sets it as the __Host-csrf
// cookie (Secure, HttpOnly, Path=/, no Domain, SameSite=Lax, no expiry)
// and returns it for the page or JSON body; the client sends it back in
// the X-CSRF-Token header or, in an application/x-www-form-urlencoded
// body, in the csrf_token field. An unsafe request passes when
//
//   - it has exactly one X-CSRF-Token header, or (only without that
//     header, and only for a url-encoded body) exactly one csrf_token
//     field in the body (never the URL query); the body is read through
//     http.MaxBytesReader capped at Options.MaxFormBytes and the parsed
//     form stays in r.PostForm for the handler; JSON and other bodies are
//     never read;
//   - the token is well-formed (exact length, base64url alphabet, zero
//     trailing bits: one spelling per token) and its MAC verifies for the
//     CURRENT session id, compared with hmac.Equal;
//   - a __Host-csrf cookie holds the same token (constant-time compare).
//
// Issue a new token bound to the new session at login, and one for "" at
// logout: a token minted before login verifies only for "", so it stops
// working the moment the session exists.
//
// # Exemptions, exactly
//
// For safe methods (GET, HEAD, OPTIONS) neither layer runs. For every
// other method:
//
//   - Layer (a) is skipped iff the request has no Cookie header and
//     exactly one Authorization header whose scheme a browser never
//     attaches by itself: anything but Basic, Digest, Negotiate and NTLM
//     (which browsers cache and send with cross-site form posts, so they
//     are ambient credentials like cookies). A Bearer-token API client
//     without cookies is exempt; a request with Authorization and a
//     Cookie is checked.
//   - Layer (b) is skipped iff the request has no Cookie header at all
//     (no ambient credentials to abuse) and the route was wrapped with
//     Handler, not Require. Require routes (login and any other form
//     anonymous visitors post) always need the token. A Cookie header that
//     holds no __Host-csrf cookie is not "no Cookie header": such a request
//     is refused with ErrMissingToken.
//   - HeaderAuthHandler, for applications that authenticate a request with
//     an Authorization header by that header alone and ignore its cookies,
//     judges such a request as if it had no Cookie header: layer (b) is
//     skipped, and layer (a) runs only for an ambient (Basic, Digest,
//     Negotiate, NTLM), empty or repeated Authorization header.
//
// # Refusals
//
// Check returns, and a Deny handler gets through Reason, an error wrapping
// ErrCrossOrigin, ErrMissingToken, ErrBadToken, ErrFormTooLarge or
// ErrBadForm; its text names the failed check in fixed words and never
// includes the token. DefaultDeny answers 413 for ErrFormTooLarge, 400 for
// ErrBadForm (a form body that cannot be read: malformed chunked encoding,
// cut short, bad encoding) and 403 otherwise: a small
// fixed text/html page for form posts and for clients whose Accept prefers
// text/html to JSON, else an application/problem+json document (RFC 9457).
// No refusal is ever a 500.
//
// # Defaults
//
//	Key             required, at least 32 bytes, not all zero (copied)
//	TrustedOrigins  none
//	Rand            crypto/rand.Reader (reads are serialised)
//	MaxFormBytes    64 KiB
//	Deny            DefaultDeny
package csrf
