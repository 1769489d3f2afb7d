package main

// What the package's tests share, owned by TestMain (an e2e.Shared): the
// fortapi binary, built once for the tests that run it as a process. It
// is made by the first test that needs it (so `go test -run TestHelp`
// builds nothing) and removed when the tests end. Tests get their own
// servers and data directories, so they can run in parallel. The browser
// tests, which share one Chromium, are in ./browsere2e.

import (
	"testing"

	"github.com/fortapi/fortapi/internal/e2e"
)

// shared is set by TestMain before any test runs and is not reassigned.
var shared *e2e.Shared

// minParallel is how many parallel tests the package runs at least unless
// -parallel is given: most of its tests wait (on a server, a reload
// interval) far more than they compute, so GOMAXPROCS (go test's default,
// 2 on a small machine) would leave the CPU idle.
const minParallel = 6

func TestMain(m *testing.M) {
	e2e.Main(m, "fortapi-cmd-test-", minParallel, func(s *e2e.Shared) { shared = s })
}
