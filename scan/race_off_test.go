//go:build !race

package scan

// raceEnabled tells TestMain that the race detector is on.
const raceEnabled = false

// raceRecallSecond is recallSecond without the race detector: twice testSecond.
const raceRecallSecond = 2 * testSecond
