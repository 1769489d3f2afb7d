package wsfeed

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fortapi/fortapi"
)

// countingObserver records what the feed reports.
type countingObserver struct {
	mu     sync.Mutex
	counts map[string]int // "refused reason" or "closed code by-server"
}

func (o *countingObserver) add(k string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.counts == nil {
		o.counts = map[string]int{}
	}
	o.counts[k]++
}

func (o *countingObserver) UpgradeRefused(reason string) { o.add("refused " + reason) }

func (o *countingObserver) SocketClosed(code int, byServer bool) {
	o.add(fmt.Sprintf("closed %d %v", code, byServer))
}

func (o *countingObserver) snapshot() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.counts)
}

// TestObserverRefusals: each refusal of the feed is reported once, by its
// reason; those of fortapi (401, 403) never reach the feed.
func TestObserverRefusals(t *testing.T) {
	t.Parallel()
	obs := &countingObserver{}
	var down atomic.Bool
	e := newEnv(t, func(o *Options) {
		o.Observer, o.MaxConnsPerSubject, o.MaxConns = obs, 1, 2
		o.Available = func() error {
			if down.Load() {
				return errors.New("down")
			}
			return nil
		}
	})
	refuse := func(status int, hdr ...string) {
		t.Helper()
		if _, resp, err := e.dial("", nil, hdr...); err == nil || resp == nil || resp.StatusCode != status {
			t.Fatalf("dial %v: %v, want %d", hdr, err, status)
		}
	}
	refuse(http.StatusUnauthorized)                                 // fortapi
	refuse(http.StatusForbidden, "Authorization", "Bearer noscope") // fortapi
	refuse(http.StatusForbidden, "Cookie", "__Host-session=alice-session", "Origin", "https://evil.example")
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+feedPath, nil) // not an upgrade
	req.Header.Set("Authorization", "Bearer alice")
	resp, err := e.srv.Client().Do(req)
	if err != nil || resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("plain GET: %v", err)
	}
	resp.Body.Close()
	down.Store(true)
	refuse(http.StatusServiceUnavailable, "Authorization", "Bearer alice")
	down.Store(false)
	e.mustDial(t, "", nil, "Authorization", "Bearer alice")
	refuse(http.StatusTooManyRequests, "Authorization", "Bearer alice")
	e.mustDial(t, "", nil, "Authorization", "Bearer bob")
	refuse(http.StatusServiceUnavailable, "Authorization", "Bearer carol")

	want := map[string]int{"refused origin": 1, "refused handshake": 1, "refused unavailable": 1, "refused subject_cap": 1, "refused full": 1}
	if got := obs.snapshot(); !maps.Equal(got, want) {
		t.Errorf("observed %v, want %v", got, want)
	}
}

// TestObserverCloses: every end of a socket is reported once, with the
// code that ended it and who started it.
func TestObserverCloses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		end    func(e *env, c *websocket.Conn)
		want   string
		silent bool // the client does not read: no pong, no close answer
	}{
		{"client close", func(_ *env, c *websocket.Conn) { _ = c.Close(websocket.StatusNormalClosure, "") }, "closed 1000 false", false},
		{"client going away", func(_ *env, c *websocket.Conn) { _ = c.Close(websocket.StatusGoingAway, "") }, "closed 1001 false", false},
		{"connection lost", func(_ *env, c *websocket.Conn) { _ = c.CloseNow() }, "closed 1006 false", false},
		{"revoked", func(e *env, _ *websocket.Conn) { e.feed.Revoke(func(*fortapi.Principal) bool { return true }) }, "closed 4401 true", false},
		{"resync", func(e *env, _ *websocket.Conn) { e.feed.Resync(nil) }, "closed 4409 true", false},
		{"data message", func(_ *env, c *websocket.Conn) {
			_ = c.Write(context.Background(), websocket.MessageText, []byte("hi"))
		}, "closed 1003 true", false},
		{"too big", func(_ *env, c *websocket.Conn) {
			_ = c.Write(context.Background(), websocket.MessageText, []byte(strings.Repeat("x", 100)))
		}, "closed 1009 true", false},
		{"shutdown", func(e *env, _ *websocket.Conn) { go e.feed.Close() }, "closed 1001 true", false},
		{"no pong", func(e *env, _ *websocket.Conn) { e.clock.Advance(2 * DefaultPingInterval) }, "closed 1006 true", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obs := &countingObserver{}
			e := newEnv(t, func(o *Options) {
				o.Observer, o.ReadLimit = obs, 64
				o.IdleTimeout, o.CheckInterval = 100*time.Millisecond, 20*time.Millisecond
			})
			c := e.mustDial(t, "", nil, "Authorization", "Bearer alice")
			waitFor(t, 2*time.Second, "the socket", func() bool { return e.feed.Conns() == 1 })
			tc.end(e, c)
			if !tc.silent {
				go func() { _, _, _ = c.Read(context.Background()) }() // answer the server's close
			}
			waitFor(t, 3*time.Second, "the end to be reported", func() bool { return len(obs.snapshot()) > 0 })
			if got, want := obs.snapshot(), map[string]int{tc.want: 1}; !maps.Equal(got, want) {
				t.Errorf("observed %v, want %v", got, want)
			}
		})
	}
}
