package postgres

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/testutil"
)

// TestListenerSlowPing holds the listener's connection (a proxy stalls
// every byte, nothing is closed) for longer than PingEvery: the listener
// reports itself down meanwhile, so revocations are polled, but keeps the
// connection, and once the server answers again it is up with the same
// connection and the item change written meanwhile arrives, with no Gap.
// A slow database must not make every WebSocket reconnect. A stall longer
// than PingTimeout is a lost connection: a new one, after a Gap.
func TestListenerSlowPing(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	schema := ts.newSchema(t)
	pu, err := url.Parse(schema)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testutil.NewTCPProxy(t, pu.Host)
	pu.Host = proxy.Addr()
	s := open(t, Options{URL: pu.String()})
	writer := open(t, Options{URL: schema}) // not behind the proxy
	ctx := context.Background()

	const every, timeout = 50 * time.Millisecond, 1500 * time.Millisecond
	l := listen(t, s, ListenOptions{Items: true, PingEvery: every, PingTimeout: timeout, MinBackoff: 10 * time.Millisecond})
	if c := nextItem(t, l); !c.Gap {
		t.Fatalf("first item change %+v, want the Gap of the first connect", c)
	}
	waitFor(t, func() bool { return l.Err() == nil })
	gen := l.Generation()

	t.Run("slower than PingEvery, within PingTimeout: kept", func(t *testing.T) {
		proxy.Stall()
		waitFor(t, func() bool { return errors.Is(l.Err(), errSlowPing) })
		it := testItem(t, "alice-id", time.Now().UTC().Truncate(time.Microsecond))
		if err := writer.CreateItem(ctx, it); err != nil {
			t.Fatal(err)
		}
		proxy.Resume()
		wantChange(t, l, ItemCreated, it.ID, "alice-id")
		waitFor(t, func() bool { return l.Err() == nil })
		if g := l.Generation(); g != gen {
			t.Fatalf("generation %d after a slow ping, want %d (the same connection)", g, gen)
		}
	})

	t.Run("past PingTimeout: a new connection after a Gap", func(t *testing.T) {
		proxy.Stall()
		// The ping times out after PingTimeout and the listener counts the
		// connection as lost; reconnecting needs bytes to flow again.
		waitFor(t, func() bool { e := l.Err(); return e != nil && !errors.Is(e, errSlowPing) })
		proxy.Resume()
		if c := nextItem(t, l); !c.Gap {
			t.Fatalf("item change %+v after a lost connection, want a Gap", c)
		}
		waitFor(t, func() bool { return l.Err() == nil && l.Generation() > gen })
	})
}
