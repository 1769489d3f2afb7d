// Package httpapi registers the reference server's operations (items,
// health) on a fortapi API.
//
// What it defends against: every operation declares its security
// (items:read / items:write scopes, or public for health checks), which
// fortapi enforces before any input is decoded; item queries carry the
// caller in the store call, so another user's item answers 404, never 403;
// request bodies have no owner, id or timestamp fields, so they cannot be
// mass-assigned; numbers are bounded so that derived values (price_with_tax)
// stay finite; pagination is capped at 100 items and its cursor is opaque
// and validated. Every operation but the health checks and the JWKS
// declares a rate limit in its OpenAPI entry (Deps.Limits), which fortapi
// enforces exactly as declared: POST /token per client address ("login",
// 10/minute), writes per user ("writes", 60/minute, one allowance for
// every write) and authenticated reads per user ("reads", 600/minute).
// Failed logins per username are limited in authn (LoginFailures); POST
// /token answers that limit, like the throttle, with 429
// temporarily_unavailable and Retry-After, and with 503 when the limit
// cannot be checked.
//
// The HTML pages (GET/POST /login, GET /items/{id}/view) return after
// signing in only to same-origin paths (the next parameter, see safeNext:
// no open redirect), and HTMLErrors gives browsers HTML error pages where
// API clients keep problem+json (decided by the Accept header, ties to
// JSON).
package httpapi
