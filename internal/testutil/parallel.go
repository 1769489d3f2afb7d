package testutil

import (
	"flag"
	"strconv"
)

// MinParallel raises go test's -parallel to at least n unless the command
// line sets it. Call it from TestMain after flag.Parse. It is for packages
// whose parallel tests wait (on servers, browsers, rate limiters, sleeps
// the code under test asks for) far more than they compute, where go
// test's default (GOMAXPROCS, 2 on a small machine) leaves the CPU idle.
// A -parallel given explicitly always wins, so `-parallel 1` still
// serializes for debugging.
func MinParallel(n int) {
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if p := flag.Lookup("test.parallel"); p != nil && !explicit {
		if cur, err := strconv.Atoi(p.Value.String()); err == nil && cur < n {
			_ = p.Value.Set(strconv.Itoa(n))
		}
	}
}
