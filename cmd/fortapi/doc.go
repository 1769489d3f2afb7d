// Command fortapi runs the fortapi reference server and its tools:
//
//	fortapi serve      the items API over HTTPS (development certificate by default)
//	fortapi openapi    print the OpenAPI 3.1 document
//	fortapi version    print the version
//
// This is the only composition root of the project: the only package that
// reads flags, environment variables and files, turning them into typed
// configuration for the libraries below it. Every flag is also an
// environment variable (--data-dir is FORTAPI_DATA_DIR); the command line
// wins. Bad flags or values exit 2 with a one-line reason; a failure to
// start exits 1.
//
// Defaults and what they defend against: HTTPS on :8443 with a reused
// self-signed certificate (no plaintext by default; --insecure-http must be
// asked for and is logged as a warning), the data directory and database
// files private to the user (0700/0600, a warning when the directory is
// open to others), graceful shutdown on SIGINT/SIGTERM that lets in-flight
// requests finish within --shutdown-timeout. Binaries built with
// -tags fortapi_testauth contain a header-based test authenticator for load
// and crash tests, enabled only by FORTAPI_TEST_AUTH=1; normal builds do
// not contain it.
package main
