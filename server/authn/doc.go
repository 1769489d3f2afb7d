// Package authn is the reference server's authentication: password
// logins (OAuth2 password grant and the HTML form), refresh-token
// rotation, web sessions, logout, user and account changes, signing-key
// rotation, and the fortapi.Authenticator that turns a request into a
// principal. It works on any server.AuthStore (SQLite, PostgreSQL) and is
// composed by server/app.
//
// What it defends against, and how:
//
//   - Online password guessing: every failed attempt is counted per
//     username (whether or not it exists) and per client network, with a
//     delay that doubles from 1s to 1m after 5 failures (20 per account
//     from all untrusted clients together): ThrottleOptions. Device
//     credentials (device.go, OWASP's device cookies) keep a known
//     device's logins out of an attacker's lockout. Options.LoginFailures
//     adds a limit per username shared by every instance (Redis).
//   - Username enumeration: unknown users are checked against a dummy
//     hash and get the same error and timing as a wrong password;
//     usernames are compared in their canonical form (PRECIS, RFC 8265),
//     so look-alike spellings share one account and one throttle bucket.
//   - Login floods: hashing runs in a bounded password.Hasher; beyond its
//     queue a login gets a 503-style error instead of exhausting CPU and
//     memory.
//   - Stolen refresh tokens: refresh tokens are 256-bit random strings,
//     stored only as SHA-256 hashes and rotated on every use; a successor
//     is derived from its token (Options.RefreshKey), so a concurrent
//     refresh within RefreshGrace gets the same successor, and a token
//     presented after that revokes its whole session (theft detection).
//   - Stale credentials: logout, password changes, role changes and
//     disabling write a revocation in the same transaction as the change
//     and apply it in memory at once; other processes replay the store's
//     revocation log (Sync, every SyncEvery) — checked per request from
//     memory, never from the database. A login checks the user's
//     credential version inside the transaction that creates its session.
//   - Session fixation and cookie theft: web sessions are random 256-bit
//     cookies stored as hashes, with an absolute and an idle lifetime.
//
// Defaults (Options): access tokens 15m with 30s leeway (those of the
// token.Service), refresh tokens 14 days unused, sessions 30 days
// absolute, refresh grace 10s, web sessions 12h absolute and 30m idle,
// device credentials a year, revocation replay every 250ms, key ring
// maintenance every 2s, pruning of expired rows every hour. Weakening a
// default is an explicit Options field; the server's values are stated
// once, in server/app's Config.
package authn
