//go:build !race

package fortapi

// fastJSONRace tells TestDecodeAnyAllocations that the race detector,
// which changes allocation counts, is on.
const fastJSONRace = false
