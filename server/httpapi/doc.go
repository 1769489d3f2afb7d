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
// and validated.
package httpapi
