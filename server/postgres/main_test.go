package postgres

import (
	"flag"
	"os"
	"testing"

	"github.com/fortapi/fortapi/internal/testutil"
)

// minParallel is how many parallel tests the package runs at least unless
// -parallel is given: its tests wait on the PostgreSQL server (a schema's
// migrations, notifications, a cut connection's reconnect) far more than
// they compute (the package takes under 1 s of CPU), so go test's default
// of GOMAXPROCS (2 on a small machine) left them queued: 13-19 s at 2,
// 8-9 s at 4 on a loaded machine; 8 gained nothing more. Not more: each
// test's pools share the server's max_connections (100) with every other
// test run against it.
const minParallel = 4

func TestMain(m *testing.M) {
	flag.Parse()
	testutil.MinParallel(minParallel)
	os.Exit(m.Run())
}
