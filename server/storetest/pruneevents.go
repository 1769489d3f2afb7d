package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/fortapi/fortapi/server"
)

// testPruneEvents: PruneEvents deletes only events older than its time,
// oldest first, at most its limit per call, and refuses a zero time or a
// limit out of bounds.
func testPruneEvents(t *testing.T, s server.Store) {
	ctx := context.Background()
	for i := range 5 {
		if err := s.AddEvent(ctx, server.Event{At: t0.Add(time.Duration(i) * time.Hour), Type: server.EventLoginSuccess, Detail: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	cut := t0.Add(3 * time.Hour) // events a, b, c are older
	for _, tt := range []struct {
		limit int
		want  int64
	}{{2, 2}, {10, 1}, {10, 0}} {
		n, err := s.PruneEvents(ctx, cut, tt.limit)
		if err != nil || n != tt.want {
			t.Fatalf("PruneEvents(limit %d) = %d, %v; want %d", tt.limit, n, err, tt.want)
		}
	}
	evs, err := s.ListEvents(ctx, server.EventFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Detail != "e" || evs[1].Detail != "d" {
		t.Errorf("after pruning: %+v, want d and e", evs)
	}
	for _, bad := range []struct {
		before time.Time
		limit  int
	}{{time.Time{}, 10}, {cut, 0}, {cut, server.MaxPruneEventsBatch + 1}} {
		if _, err := s.PruneEvents(ctx, bad.before, bad.limit); err == nil {
			t.Errorf("PruneEvents(%v, %d) accepted", bad.before, bad.limit)
		}
	}
}
