//go:build race

package scan

// raceEnabled tells TestMain that the race detector is on.
const raceEnabled = true
