//go:build race

package ratelimit

// raceEnabled tells the allocation tests that the race detector, which
// changes allocation counts, is on.
const raceEnabled = true
