package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fortapi/fortapi/server"
)

// auditTests are the audit log's retention and export contract.
var auditTests = []struct {
	name string
	fn   func(t *testing.T, s server.Store)
}{
	{"EventUsernameFilled", testEventUsernameFilled},
	{"EventsInOrder", testEventsInOrder},
	{"PruneEventsInBatches", testPruneEventsInBatches},
	{"PruneEventsConcurrent", testPruneEventsConcurrent},
}

// Every store method that writes an event in a transaction records the
// user's name beside the id when the caller left it out (logout, login,
// API key creation and revocation); AddEvent writes what it is given; the
// actor and the request id round-trip.
func testEventUsernameFilled(t *testing.T, s server.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, newUser(t, "carol", server.RoleUser))
	sess, _ := login(t, s, u) // login.success without a Username
	if err := s.RevokeSession(ctx, sess.ID, server.Revocation{Until: t0.Add(day)}, t0.Add(time.Minute), server.Event{Type: server.EventLogout, RequestID: "req-1"}); err != nil {
		t.Fatal(err)
	}
	k := newAPIKey(t, u)
	if err := s.CreateAPIKey(ctx, k, server.Event{Type: server.EventAPIKeyCreated}); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAPIKey(ctx, u.ID, k.ID, t0.Add(2*time.Minute), server.Event{Type: server.EventAPIKeyRevoked, Actor: `admin "root"`}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(ctx, u.ID, server.UserChange{Disabled: boolPtr(true)}, t0.Add(3*time.Minute), server.Event{Type: server.EventUserDisabled, Actor: "cli"}); err != nil {
		t.Fatal(err)
	}
	// A username given is kept, not replaced by the stored one.
	if err := s.RevokeSession(ctx, sess.ID, server.Revocation{Until: t0.Add(day)}, t0.Add(4*time.Minute),
		server.Event{Type: server.EventLogout, Username: "as-given"}); err != nil {
		t.Fatal(err)
	}
	// AddEvent: raw, as storecopy needs it.
	if err := s.AddEvent(ctx, server.Event{At: t0.Add(5 * time.Minute), Type: server.EventKeyRotated, UserID: u.ID, Actor: "cli"}); err != nil {
		t.Fatal(err)
	}
	want := []struct{ typ, username, actor string }{
		{server.EventLoginSuccess, "carol", ""},
		{server.EventLogout, "carol", ""},
		{server.EventAPIKeyCreated, "carol", ""},
		{server.EventAPIKeyRevoked, "carol", `admin "root"`},
		{server.EventUserDisabled, "carol", "cli"},
		{server.EventLogout, "as-given", ""},
		{server.EventKeyRotated, "", "cli"},
	}
	got := events(t, s, server.EventFilter{UserID: u.ID})
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		ev := got[len(got)-1-i] // newest first
		if wantReq := map[bool]string{true: "req-1"}[i == 1]; ev.RequestID != wantReq {
			t.Errorf("event %d: request id %q, want %q", i, ev.RequestID, wantReq)
		}
		if ev.Type != w.typ || ev.Username != w.username || ev.Actor != w.actor {
			t.Errorf("event %d: %s username %q actor %q, want %s username %q actor %q", i, ev.Type, ev.Username, ev.Actor, w.typ, w.username, w.actor)
		}
	}
}

// addEventsAt writes one event per time, in the order given, with the
// detail "e<index>", and returns them as written (IDs unknown).
func addEventsAt(t testing.TB, s server.Store, ats []time.Time) {
	t.Helper()
	for i, at := range ats {
		if err := s.AddEvent(context.Background(), server.Event{At: at, Type: server.EventLoginFailure, Detail: fmt.Sprintf("e%d", i)}); err != nil {
			t.Fatalf("AddEvent: %v", err)
		}
	}
}

// allInOrder pages through EventsInOrder from after to until, limit at a
// time, and returns the details in the order read.
func allInOrder(t testing.TB, s server.Store, after server.EventCursor, until time.Time, limit int) []string {
	t.Helper()
	var out []string
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("EventsInOrder does not end")
		}
		evs, err := s.EventsInOrder(context.Background(), after, until, limit)
		if err != nil {
			t.Fatalf("EventsInOrder: %v", err)
		}
		for _, ev := range evs {
			if ev.At.Location() != time.UTC {
				t.Fatalf("At %v not in UTC", ev.At)
			}
			out = append(out, ev.Detail)
		}
		if len(evs) < limit {
			return out
		}
		last := evs[len(evs)-1]
		after = server.EventCursor{At: last.At, ID: last.ID}
	}
}

func testEventsInOrder(t *testing.T, s server.Store) {
	ctx := context.Background()
	h := time.Hour
	// Written out of time order, with ties: the order is (At, ID).
	addEventsAt(t, s, []time.Time{t0.Add(2 * h), t0, t0.Add(h), t0.Add(h), t0.Add(3 * h), t0.Add(-h), t0.Add(h)})
	// By time: e5 (-1h), e1 (0), e2 e3 e6 (1h, by ID), e0 (2h), e4 (3h).
	all := []string{"e5", "e1", "e2", "e3", "e6", "e0", "e4"}
	tests := []struct {
		name  string
		after server.EventCursor
		until time.Time
		want  []string
	}{
		{"everything", server.EventCursor{}, time.Time{}, all},
		{"since is inclusive", server.EventCursor{At: t0.Add(h)}, time.Time{}, all[2:]},
		{"until is exclusive", server.EventCursor{At: t0}, t0.Add(2 * h), all[1:5]},
		{"nothing after the last", server.EventCursor{At: t0.Add(4 * h)}, time.Time{}, nil},
		{"empty range", server.EventCursor{At: t0.Add(h)}, t0.Add(h), nil},
	}
	for _, tc := range tests {
		for _, limit := range []int{1, 2, 3, server.MaxEventBatch} {
			t.Run(fmt.Sprintf("%s/limit %d", tc.name, limit), func(t *testing.T) {
				got := allInOrder(t, s, tc.after, tc.until, limit)
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			})
		}
	}
	t.Run("cursor after a tie", func(t *testing.T) {
		evs, err := s.EventsInOrder(ctx, server.EventCursor{At: t0.Add(h)}, time.Time{}, 2)
		if err != nil || len(evs) != 2 {
			t.Fatalf("EventsInOrder = %d, %v", len(evs), err)
		}
		got := allInOrder(t, s, server.EventCursor{At: evs[1].At, ID: evs[1].ID}, time.Time{}, 100)
		if fmt.Sprint(got) != fmt.Sprint(all[4:]) {
			t.Errorf("got %v, want %v", got, all[4:])
		}
	})
	for _, limit := range []int{0, -1, server.MaxEventBatch + 1} {
		if _, err := s.EventsInOrder(ctx, server.EventCursor{}, time.Time{}, limit); err == nil {
			t.Errorf("EventsInOrder with limit %d: no error", limit)
		}
	}
}

func testPruneEventsInBatches(t *testing.T, s server.Store) {
	ctx := context.Background()
	var ats []time.Time
	for i := range 25 { // e0..e24 at t0-25m .. t0-1m: older than the cutoff
		ats = append(ats, t0.Add(-time.Duration(25-i)*time.Minute))
	}
	ats = append(ats, t0, t0.Add(time.Minute)) // e25, e26: kept (the cutoff is exclusive)
	addEventsAt(t, s, ats)
	var batches []int64
	for {
		n, err := s.PruneEvents(ctx, t0, 10)
		if err != nil {
			t.Fatalf("PruneEvents: %v", err)
		}
		batches = append(batches, n)
		if n < 10 {
			break
		}
		// Oldest first: what is left of the old ones is the newest.
		left := allInOrder(t, s, server.EventCursor{}, time.Time{}, 100)
		if want := fmt.Sprintf("e%d", 10*len(batches)); left[0] != want {
			t.Fatalf("after batch %d the oldest left is %s, want %s", len(batches), left[0], want)
		}
	}
	if fmt.Sprint(batches) != "[10 10 5]" {
		t.Errorf("batches %v, want [10 10 5]", batches)
	}
	if got := allInOrder(t, s, server.EventCursor{}, time.Time{}, 100); fmt.Sprint(got) != "[e25 e26]" {
		t.Errorf("left %v, want [e25 e26]", got)
	}
	if n, err := s.PruneEvents(ctx, t0, 10); n != 0 || err != nil {
		t.Errorf("PruneEvents again = %d, %v; want 0, nil", n, err)
	}
	for _, limit := range []int{0, -1, server.MaxPruneEventsBatch + 1} {
		if _, err := s.PruneEvents(ctx, t0, limit); err == nil {
			t.Errorf("PruneEvents with limit %d: no error", limit)
		}
	}
	if _, err := s.PruneEvents(ctx, time.Time{}, 10); err == nil {
		t.Error("PruneEvents with a zero time: no error")
	}
	if got := allInOrder(t, s, server.EventCursor{}, time.Time{}, 100); len(got) != 2 {
		t.Errorf("a refused prune deleted events: %v left", got)
	}
}

// Several instances pruning at once delete every old event exactly once,
// without an error.
func testPruneEventsConcurrent(t *testing.T, s server.Store) {
	const old = 300
	ats := make([]time.Time, 0, old+1)
	for i := range old {
		ats = append(ats, t0.Add(-time.Duration(old-i)*time.Second))
	}
	ats = append(ats, t0)
	addEventsAt(t, s, ats)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int64
	)
	for range 4 {
		wg.Go(func() {
			for {
				n, err := s.PruneEvents(context.Background(), t0, 7)
				if err != nil {
					t.Errorf("PruneEvents: %v", err)
					return
				}
				mu.Lock()
				total += n
				mu.Unlock()
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if total != old {
		t.Errorf("deleted %d in all, want %d", total, old)
	}
	if got := allInOrder(t, s, server.EventCursor{}, time.Time{}, 100); fmt.Sprint(got) != fmt.Sprintf("[e%d]", old) {
		t.Errorf("left %v, want [e%d]", got, old)
	}
}
