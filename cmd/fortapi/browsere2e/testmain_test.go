package browsere2e

// What the package's tests share, owned by TestMain (an e2e.Shared): the
// fortapi binary, built once, and one Chromium. Each is made by the first
// test that needs it (so `go test -run TestNothing` builds and starts
// nothing) and removed when the tests end. Tests get their own servers,
// data directories and browser contexts (cookie jars, proxies) from them,
// so they can run in parallel.

import (
	"testing"

	"github.com/fortapi/fortapi/internal/e2e"
)

// shared is set by TestMain before any test runs and is not reassigned.
var shared *e2e.Shared

// minParallel is how many parallel tests the package runs at least unless
// -parallel is given: its tests wait on servers and the browser far more
// than they compute, so GOMAXPROCS (go test's default, 2 on a small
// machine) would leave the CPU idle.
const minParallel = 6

func TestMain(m *testing.M) {
	e2e.Main(m, "fortapi-browser-test-", minParallel, func(s *e2e.Shared) { shared = s })
}
