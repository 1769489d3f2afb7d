package authn

import (
	"sync"
	"time"
)

// maxOwnWrites bounds ownWrites: past it a write is not remembered, and
// its entries, if any, count as learned from the log.
const maxOwnWrites = 1 << 16

// ownWrites remembers the revocation log entries this process wrote, by
// their CreatedAt (every entry one write puts in the log carries the
// write's now, to the microsecond), so that Sync does not report their
// replay to Observer.RevocationApplied: this process applied them in
// memory when it wrote them. A write is forgotten once a replay that
// started after the write returned has finished: that replay read every
// entry the write committed.
type ownWrites struct {
	mu      sync.Mutex
	replays uint64 // replays started
	writes  map[int64]*ownWrite
}

type ownWrite struct {
	running int    // writes with this CreatedAt not returned yet
	passed  uint64 // the first replay that reads them all (0: none yet)
}

// begin marks a write whose entries carry createdAt, before it runs.
func (o *ownWrites) begin(createdAt time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := createdAt.UnixMicro()
	w := o.writes[k]
	if w == nil {
		if len(o.writes) >= maxOwnWrites {
			return
		}
		if o.writes == nil {
			o.writes = map[int64]*ownWrite{}
		}
		w = &ownWrite{}
		o.writes[k] = w
	}
	w.running++
}

// end marks the write begun with createdAt as returned, committed or not.
func (o *ownWrites) end(createdAt time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if w := o.writes[createdAt.UnixMicro()]; w != nil && w.running > 0 {
		w.running--
		w.passed = o.replays + 1
	}
}

// replayStarted numbers a replay of the log, started now.
func (o *ownWrites) replayStarted() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.replays++
	return o.replays
}

// own reports whether an entry created at createdAt is this process's.
func (o *ownWrites) own(createdAt time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.writes[createdAt.UnixMicro()]
	return ok
}

// replayDone forgets the writes the finished replay n has read in full.
func (o *ownWrites) replayDone(n uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for k, w := range o.writes {
		if w.running == 0 && w.passed <= n {
			delete(o.writes, k)
		}
	}
}
