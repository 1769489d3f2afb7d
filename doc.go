// Package fortapi builds HTTP APIs on huma v2 and net/http whose OpenAPI
// document is exactly what they enforce, and whose defaults are the secure
// ones.
//
// New returns an API; register operations on it with huma.Register, then
// call Handler. Every operation must declare who may call it: either
// Scopes(...) (a security requirement, enforced) or Public() (an explicit
// marker). An operation that declares neither makes Handler fail with an
// error naming it — deny by default, also for hidden operations.
//
// What it defends against, and the defaults:
//
//   - Broken function-level authorization: the declared scopes are checked
//     against the principal returned by Options.Authenticator before any
//     parameter or body is decoded, so anonymous callers cannot make the
//     server parse anything. Without an authenticator every protected
//     operation answers 401.
//   - Mass assignment and ambiguous input: schemas reject unknown
//     properties, field names match exactly (case-sensitive; importing
//     fortapi sets huma.ValidateStrictCasing for the whole process), unknown query
//     parameters are refused, bodies must be valid UTF-8 JSON with an
//     application/json Content-Type (415 otherwise).
//   - Resource exhaustion: request bodies are capped (1 MiB by default,
//     413), header blocks above Options.MaxHeaderBytes (32 KiB) answer 431,
//     and NewServer sets read-header, read, write and idle timeouts and a
//     hard header cap.
//   - Information leaks in errors: every error, including 404, 405 (with
//     Allow), 413, 415 and panics, is RFC 9457 application/problem+json.
//     5xx responses never carry internal error text (it is logged with the
//     request id instead); validation errors list every failing field but
//     never echo a value that is an object or array, the whole body, a long
//     string, or anything at a field marked writeOnly or named like
//     password, token or secret.
//   - Stored XSS and silent data loss: request body fields declare what
//     they hold with sanitize tags; after the JSON body is decoded and
//     before it is validated, sanitize:"rich" fields are sanitized HTML
//     (so minLength, maxLength and pattern hold for what is stored: a
//     value of nothing but <script> is empty and refused), and
//     sanitize:"plain" fields are text kept exactly as sent, for the
//     output to escape (Options.Sanitizer).
//   - Untraceable requests: each request gets an X-Request-Id (a valid
//     incoming one is kept) and exactly one structured slog access-log line,
//     which never contains the query string or headers.
//   - Floods and guessing: rate limits are declared per operation, in its
//     OpenAPI entry (the x-ratelimit extension, written with RateLimits or
//     RateLimit: PerIP, PerUser or PerOperation and a spec such as
//     "60/minute"), and enforced exactly as declared, after authentication
//     and authorization (so per-user keys exist and anonymous callers
//     spend nobody's allowance) and before any input is decoded. The
//     document lists every limit an operation meets, with the enforced
//     spec and its RateLimit-Policy, and documents the 429 answer
//     (problem+json naming the request id, Retry-After, the RateLimit
//     fields of draft-ietf-httpapi-ratelimit-headers-09 and the common
//     RateLimit-Limit/-Remaining/-Reset). Options.GlobalLimit limits every
//     request per client address in the front door, after the request id
//     and access log (429s are logged) and before routing: 404s,
//     /openapi.json and /docs count too. Client addresses come from
//     Options.ClientIP (forwarding headers only from trusted proxies; IPv6
//     grouped by /64). A bad spec, a per-user limit on a public operation
//     or one name declared with two different limits makes Handler fail.
//
// Logins: NewTokenAuthenticator authenticates the bearer tokens of a
// token.Service (the Principal's Scheme set; an Authenticator of one's own
// that forgets Principal.Scheme gets a 500 and an error log naming the
// fix); RegisterTokenEndpoint serves the form-encoded OAuth2 token
// endpoint (password and refresh_token grants, RFC 6749 errors, a dummy
// verification for unknown users, 503 with Retry-After when the password
// hasher is saturated). Handler is called once, after every operation is
// registered: a second call returns ErrHandlerCalled and a later
// registration panics. NewServer serves TLS with ServerOptions.TLSConfig
// (tlsconfig). examples/notes is a complete application.
//
// Rate-limit defaults: the zero Options declare no global limit, trust no
// proxy (the client is the TCP peer) and keep limiter state in an
// in-memory ratelimit.Set of the API's own, created for the first
// declared limit (exact within the process, scale 1, clock Options.Now).
// Limits declared on operations are enforced whatever the options; a
// server sets GlobalLimit, ClientIP and a shared Set (Redis, outage
// policy, --rate-scale) itself, as fortapi serve does.
package fortapi
