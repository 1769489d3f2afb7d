// Command baseline is the "what does the bare standard library cost"
// reference for the load tests in bench/run.sh: a minimal net/http server
// with the same endpoints, headers and JSON shapes as the fortapi reference
// server, and nothing else.
//
//	GET  /healthz     {"status":"ok"}, public
//	POST /items/      decode the JSON item, store it, 201 + Location
//	GET  /items/{id}  the caller's item, 404 for another user's or unknown
//
// The items endpoints require the X-Fortapi-Test-User header (401 without),
// the stand-in authentication of a fortapi binary built with
// -tags fortapi_testauth. Items live in a mutex-protected map under a UUIDv7
// from the reference server's own generator (server.NewID). It serves HTTPS with the certificate and key
// given by --cert and --key (bench/run.sh passes fortapi's development
// certificate), on the standard library's default TLS settings.
//
// It deliberately has no request logging, no validation beyond decoding the
// JSON, no persistence, no security headers, no request ids and no rate
// limiting: it is a measuring stick, not a server to run. The only line it
// prints is "serving https://ADDR" on stderr once it listens, so that
// --addr 127.0.0.1:0 can pick a free port.
package main
