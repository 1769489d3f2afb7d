// Package e2e holds the helpers of the end-to-end tests that run the real
// fortapi binary: building it once per test binary, starting and stopping
// `fortapi serve` processes, the development CA's TLS client, logging in
// and creating items through the API, and one headless Chromium per test
// package (driven by chromedp). A test package's TestMain owns a Shared;
// everything else is per test.
//
// It is for tests only: production code never imports it (the root
// package's layout test checks).
package e2e
