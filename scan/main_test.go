package scan

import (
	"flag"
	"os"
	"testing"

	"github.com/fortapi/fortapi/internal/testutil"
)

// minParallel is how many parallel tests the package runs at least unless
// -parallel is given: a scan mostly waits (on its rate limiter, on the
// sleeps its time-based probes ask for, on a target's answers), so go
// test's default of GOMAXPROCS (2 on a small machine) would leave the CPU
// idle while the scans of the recall and planted-flaw tests queue. Not
// more: the time-based probes (SQLI-TIME) compare answer times, and a
// saturated CPU blurs them. Under the race detector the scans and their
// targets are CPU-bound, so the default stays.
const minParallel = 4

func TestMain(m *testing.M) {
	flag.Parse()
	if !raceEnabled {
		testutil.MinParallel(minParallel)
	}
	os.Exit(m.Run())
}
