//go:build race

package fortapi

// raceEnabled tells the allocation tests that the race detector,
// which changes allocation counts, is on.
const raceEnabled = true
