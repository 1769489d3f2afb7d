// Package vulnapi is a deliberately vulnerable items API: the test target of
// `fortapi scan`. It is a TEST TARGET, never to be deployed. Every flaw is
// switched on by name (see Flaw and Catalog); with no flaw switched on the
// target is clean and a correct scanner reports nothing about it.
//
// The target mirrors a small version of the reference API: POST /token (the
// OAuth2 password grant), GET /users/me, GET /protected, POST and GET
// /items/, GET, PUT and DELETE /items/{id}, the HTML pages GET /search and
// GET /items/{id}/view, the admin operations GET /users and DELETE
// /users/{id}, GET /.well-known/jwks.json and GET /openapi.json, which
// describes every operation with its security. Data lives in a real SQLite
// database (modernc.org/sqlite) in a temporary directory, so the SQL
// injection flaws are real: SQL is built from strings only where such a
// flaw is switched on, and parameterized otherwise.
//
// Serve listens on loopback only (127.0.0.1, ::1 or localhost, port 0 by
// default) with its own self-signed certificate, and optionally on a
// plain-HTTP port; it refuses any other address. testdata/ground_truth.json
// lists, for every flaw, the scanner finding id, operation and parameter a
// correct scanner reports; a test keeps it equal to Catalog.
package vulnapi

// Notes for scanner authors (what the ground truth assumes):
//
//   - Host-wide findings have operation "": transport, headers, HSTS, the
//     JWT verification flaws (every protected operation shares one
//     verifier), ERROR-VERBOSE (every problem response) and BODY-OVERSIZED
//     (one body limit for every request). CORS flaws are per operation.
//   - The SQL injection points are built so that the planted technique is
//     the first to show when trying error, then boolean, then time: the
//     error point shows SQLite's message (400, not 5xx); the boolean point
//     (an integer path parameter, no quotes) reads every error as 404; the
//     time point (a string in a JSON body) is blind: its result and errors
//     are only logged (SELECT count(*) FROM items WHERE owner_id = N AND
//     name = 'NAME', so an OR payload runs; an AND one only when an item
//     has that name). SQLite has no sleep(): a delay needs a heavy query,
//     e.g. x' OR (WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i+1
//     FROM r LIMIT 3000000) SELECT count(*) FROM r)-- or
//     x' OR 1=LIKE('ABCDEFG',UPPER(HEX(RANDOMBLOB(3000000))))-- (both a
//     second or two on a loaded 2-core machine; ten times the size costs ten
//     times the time).
//   - An SQL error shown by the SQLI-ERROR point is that finding, not also
//     ERROR-VERBOSE; a forgery accepted because signatures are not checked
//     at all (JWT-SIGNATURE-NOT-VERIFIED) is that finding alone.
//   - JWT-EXPIRED-ACCEPTED and JWT-NBF-IGNORED need a token with a past exp
//     or a future nbf that the target signed or that a forgery primitive
//     makes. With every flaw on, alg none (exp and nbf are still checked
//     under it) provides one. Alone, an expired token can be had by
//     waiting: Options.TokenLifetime (--token-lifetime) shortens tokens; a
//     not-yet-valid token cannot be had from outside at all.
//   - Alg confusion accepts HS256 keyed with the JWKS key as PKIX PEM (with
//     or without the final newline) or DER, with kid es-1 or no kid.
//   - Login failures are limited per username (LoginFailures in
//     LoginWindow, default 5 per minute), never per address: test the limit
//     and enumeration on made-up usernames, or log in first.
