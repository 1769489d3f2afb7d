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
