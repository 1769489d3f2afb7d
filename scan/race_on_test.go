//go:build race

package scan

import "time"

// raceEnabled tells TestMain that the race detector is on.
const raceEnabled = true

// raceRecallSecond is recallSecond: a real second under the race
// detector, where a scan's CPU work is many times slower.
const raceRecallSecond = time.Second
