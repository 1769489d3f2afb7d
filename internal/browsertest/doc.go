// Package browsertest runs Debian's headless Chromium for tests: it finds
// the browser (skipping, or failing under FORTAPI_TEST_STRICT=1 with
// FORTAPI_TEST_BROWSER=1, when it is missing), dumps a page's DOM after a
// bounded amount of virtual time, and picks CSP violations and script
// errors out of the browser's log.
package browsertest
