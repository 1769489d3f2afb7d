// Command baseline is the "what does the bare standard library cost"
// reference for the load tests in bench/run.sh: a minimal net/http server
// with the same endpoints, headers and JSON shapes as the fortapi reference
// server, and nothing else.
//
//	GET  /healthz     {"status":"ok"}, public
//	GET  /protected   {"message": ...} naming the caller
//	POST /items/      decode the JSON item, store it, 201 + Location
//	GET  /items/{id}  the caller's item, 404 for another user's or unknown
//
// Every endpoint but /healthz verifies an HS256 bearer token with
// golang-jwt on every request (no cache): the reference point DESIGN.md §8
// names for fortapi's authenticated path. The key is random per start; the
// baseline mints one token for the user "bench", valid for an hour, and
// prints it on stderr as "token TOKEN" before "serving ...". Items live in a mutex-protected map under a UUIDv7
// from the reference server's own generator (server.NewID). It serves HTTPS with the certificate and key
// given by --cert and --key (bench/run.sh passes fortapi's development
// certificate), on the standard library's default TLS settings, or plain
// HTTP with --insecure-http.
//
// It deliberately has no request logging, no validation beyond decoding the
// JSON, no persistence, no security headers, no request ids and no rate
// limiting: it is a measuring stick, not a server to run. The only lines it
// prints are its token and "serving https://ADDR" on stderr once it
// listens, so that --addr 127.0.0.1:0 can pick a free port.
package main
