package wsfeed

import (
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fortapi/fortapi"
)

// TestAvailableAndResync: while Options.Available fails, upgrades get 503
// before the upgrade; Resync closes the matching sockets with
// CloseResync; Subscribed tells whether an event has a receiver.
func TestAvailableAndResync(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	e := newEnv(t, func(o *Options) {
		o.Available = func() error {
			if down.Load() {
				return errors.New("the event source is down")
			}
			return nil
		}
	})
	down.Store(true)
	_, resp, err := e.dial("", nil, "Authorization", "Bearer alice")
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("upgrade while unavailable: %v %v, want 503 with Retry-After", resp, err)
	}
	down.Store(false)
	alice := e.mustDial(t, "", nil, "Authorization", "Bearer alice")
	bob := e.mustDial(t, "", nil, "Authorization", "Bearer bob")
	waitFor(t, 2*time.Second, "two sockets", func() bool { return e.feed.Conns() == 2 })
	if !e.feed.Subscribed(Event{Owner: "alice"}) || e.feed.Subscribed(Event{Owner: "carol"}) {
		t.Error("Subscribed: want true for alice, false for carol")
	}
	if n := e.feed.Resync(func(p *fortapi.Principal) bool { return p.Subject == "alice" }); n != 1 {
		t.Errorf("Resync(alice) = %d, want 1", n)
	}
	if code, _ := closeCode(t, alice, time.Second); code != CloseResync {
		t.Fatalf("alice's socket closed with %d, want %d", code, CloseResync)
	}
	waitFor(t, time.Second, "alice's socket to go", func() bool { return e.feed.Conns() == 1 })
	if n := e.feed.Resync(nil); n != 1 {
		t.Errorf("Resync(nil) = %d, want 1 (bob)", n)
	}
	if code, _ := closeCode(t, bob, time.Second); code != CloseResync {
		t.Fatalf("bob's socket closed with %d, want %d", code, CloseResync)
	}
}
