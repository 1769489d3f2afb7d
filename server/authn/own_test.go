package authn

import (
	"testing"
	"time"
)

// TestOwnWrites: a write is this process's from before it runs until a
// replay that started after it returned has finished, and no longer.
func TestOwnWrites(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)
	other := t0.Add(time.Microsecond)
	var o ownWrites

	o.begin(t0)
	early := o.replayStarted() // a replay racing the write: may read it
	if !o.own(t0) || o.own(other) {
		t.Fatal("a running write is not marked, or marks another time")
	}
	o.end(t0)
	o.replayDone(early) // it started before the write returned: may have missed it
	if !o.own(t0) {
		t.Fatal("a write was forgotten by a replay that started before it returned")
	}
	late := o.replayStarted()
	if !o.own(t0) {
		t.Fatal("forgotten before the replay that reads it finished")
	}
	o.replayDone(late)
	if o.own(t0) {
		t.Fatal("still marked after a replay that read it")
	}

	// Two writes at the same microsecond: the mark stays until both
	// have returned and a later replay passed.
	o.begin(t0)
	o.begin(t0)
	o.end(t0)
	o.replayDone(o.replayStarted())
	if !o.own(t0) {
		t.Fatal("forgotten while a write with the same time runs")
	}
	o.end(t0)
	o.replayDone(o.replayStarted())
	if o.own(t0) || len(o.writes) != 0 {
		t.Fatalf("%d marks left", len(o.writes))
	}

	// Bounded: past maxOwnWrites, writes are not remembered.
	for i := range maxOwnWrites + 10 {
		o.begin(t0.Add(time.Duration(i) * time.Microsecond))
	}
	if len(o.writes) != maxOwnWrites {
		t.Fatalf("%d marks, want at most %d", len(o.writes), maxOwnWrites)
	}
}

// BenchmarkOwnWrites is what a logout, refresh or user change adds: its
// write marked and unmarked, and a replay every 1,000 writes.
func BenchmarkOwnWrites(b *testing.B) {
	var o ownWrites
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		at := t0.Add(time.Duration(i) * time.Microsecond)
		o.begin(at)
		o.end(at)
		if i++; i%1000 == 0 {
			o.replayDone(o.replayStarted())
		}
	}
}
