// Command fortapi runs the fortapi reference server and its tools:
//
//	fortapi serve          the API over HTTPS (development certificate by default)
//	fortapi user ...       add, list, change the role of, disable or enable users
//	fortapi keys ...       list, rotate or revoke token signing keys
//	fortapi store copy     move an installation to another, empty store
//	fortapi scan URL       audit an HTTP API from the outside
//	fortapi hash-password  argon2id hash of the password on stdin
//	fortapi openapi        print the OpenAPI 3.1 document
//	fortapi version        print the version (also fortapi --version)
//
// "fortapi COMMAND --help" (or "fortapi help COMMAND") prints that
// command's own text and flags; README.md lists every flag, and a test
// keeps the two equal.
//
// This package reads flags, environment variables and files, the only one
// that does, and turns them into the typed configuration of server/app
// (app.Config), which composes the server; it then runs the listeners and
// the shutdown. Every flag is also an
// environment variable (--data-dir is FORTAPI_DATA_DIR); the command line
// wins. Bad flags or values exit 2 with a one-line reason (flags spelled
// --name, as in the docs); a failure to start exits 1.
//
// Defaults and what they defend against: HTTPS on :8443 with a reused
// self-signed certificate (no plaintext by default; --insecure-http must be
// asked for and is logged as a warning), the data directory and database
// files private to the user (0700/0600, a warning when the directory is
// open to others), graceful shutdown on SIGINT/SIGTERM that lets in-flight
// requests finish within --shutdown-timeout. On a store without users,
// serve creates the administrator "admin" with a random password printed
// once on stderr (never logged), or with FORTAPI_ADMIN_PASSWORD(_FILE).
// Token signing keys are sealed with a master key from FORTAPI_MASTER_KEY(_FILE),
// or, for development, one generated into DATA-DIR/secrets/master.key (0600).
// Passwords are read from stdin, never from arguments (ps, shell history).
package main
